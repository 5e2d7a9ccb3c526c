import { readJsonl } from './jsonl';
import { lineChartSvg, writeSvgPng } from './plots';

/**
 * Exponential moving average (weight `alpha` on each new value) from the first
 * finite value on; a non-finite value (a skipped batch's loss) repeats the average.
 */
export function smooth(values: readonly number[], alpha = 0.05): number[] {
  let ema = NaN;
  return values.map((v) => {
    if (!Number.isFinite(v)) return ema;
    ema = Number.isNaN(ema) ? v : ema + alpha * (v - ema);
    return ema;
  });
}

/** The loss-curve PNG from `metrics.jsonl`. */
export async function writeLossCurve(metricsFile: string, file: string): Promise<void> {
  const records = (await readJsonl<Record<string, number | string>>(metricsFile)).filter(
    (r) => r.type === 'train' && !r.skipped,
  );
  const it = records.map((r) => Number(r.iteration));
  const keys = [
    ['loss', 'total'],
    ['localization', 'localization'],
    ['confidence', 'confidence'],
  ] as const;
  const series: { name: string; points: (readonly [number, number])[] }[] = keys.map(
    ([key, name]) => {
      const s = smooth(records.map((r) => Number(r[key])));
      return { name, points: it.map((x, i) => [x, s[i]!] as const) };
    },
  );
  series.push({
    name: 'total (raw)',
    points: it.map((x, i) => [x, Number(records[i]!.loss)] as const),
  });
  await writeSvgPng(
    lineChartSvg(
      [series[3]!, ...series.slice(0, 3)].map((s, i) => ({
        ...s,
        color: ['#c8c8c8', '#1f77b4', '#2ca02c', '#d62728'][i],
      })),
      { title: 'Training loss (EMA 0.05)', xLabel: 'iteration', yLabel: 'loss', logY: true },
    ),
    file,
  );
}
