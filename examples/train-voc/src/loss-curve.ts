import { readJsonl } from './jsonl';
import { lineChartSvg, writeSvgPng } from './plots';

/**
 * Exponential moving average (weight `alpha` on each new value), bias-corrected
 * as Adam's moments are: the average started at 0 is divided by 1 − (1 − alpha)^t
 * after t finite values, so it follows the values from the first one on instead of
 * lagging behind them (the first value is returned as is). A non-finite value (a
 * skipped batch's loss) repeats the average; NaN before the first finite value.
 */
export function smooth(values: readonly number[], alpha = 0.05): number[] {
  let ema = 0;
  let t = 0;
  return values.map((v) => {
    if (Number.isFinite(v)) {
      ema += alpha * (v - ema);
      t += 1;
    }
    return t === 0 ? NaN : ema / (1 - (1 - alpha) ** t);
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
      {
        title: 'Training loss (EMA 0.05, bias-corrected)',
        xLabel: 'iteration',
        yLabel: 'loss',
        logY: true,
      },
    ),
    file,
  );
}
