import type { SsdDetector } from '@ssd/detect';
import type { Sample } from '@ssd/geometry';
import { mapConcurrent } from '@ssd/loader';
import { DetectionEvaluator, type EvaluationResult } from '@ssd/metrics';
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import { drawBoxesPng, lineChartSvg, writeSvgPng, type DrawnBox } from './plots';

/** What evaluation reads: decoded samples (the `Sample` contract, boxes absolute). */
export interface EvalSource {
  readonly size: number;
  load(index: number): Promise<Sample>;
}

/**
 * What evaluation runs: `@ssd/detect`'s detector (`createDetector` on the network
 * in memory, or `loadSsd` on a saved model). It takes each image at its own size
 * and does the resize itself (the one resize: `@ssd/detect`'s `resizeToInput`).
 */
export type EvalDetector = Pick<SsdDetector, 'detectBatch'>;

export interface EvaluateOptions {
  readonly source: EvalSource;
  readonly classNames: readonly string[];
  readonly batchSize: number;
  readonly detector: EvalDetector;
  readonly method: 'voc07' | 'voc12';
  /** Decode concurrency. */
  readonly concurrency?: number;
  /** Limit to the first N images (tests). */
  readonly limit?: number;
  /** Called with images done / total. */
  readonly onProgress?: (done: number, total: number) => void;
  /** Render the first `draw` images with their detections (score ≥ 0.3) into `drawDir`. */
  readonly draw?: number;
  readonly drawDir?: string;
}

/**
 * VOC evaluation of a detector on a data set: batches of original images through
 * `detector.detectBatch` (its default thresholds: score 0.01, NMS IoU 0.45, top 400
 * per class, 200 per image), streaming into `@ssd/metrics`. IoU: `@ssd/voc` boxes are continuous 0-based
 * ([xmin − 1, xmax] of the XML's 1-based inclusive corners), so the plain
 * continuous IoU on them is exactly the devkit's `+1` IoU on the XML values.
 */
export async function evaluateDetector(o: EvaluateOptions): Promise<EvaluationResult> {
  const evaluator = new DetectionEvaluator({
    classNames: o.classNames,
    method: o.method,
    iou: 'continuous',
  });
  const total = Math.min(o.source.size, o.limit ?? Infinity);
  const draw = Math.min(o.draw ?? 0, total);
  if (draw > 0 && o.drawDir) await fs.mkdir(o.drawDir, { recursive: true });
  const load = (first: number) =>
    mapConcurrent(
      Array.from({ length: Math.min(o.batchSize, total - first) }, (_, j) => first + j),
      (index) => o.source.load(index),
      { concurrency: o.concurrency ?? 2 },
    );
  let next = total > 0 ? load(0) : null;
  for (let first = 0; first < total; first += o.batchSize) {
    const samples = await next!;
    next = first + o.batchSize < total ? load(first + o.batchSize) : null;
    const detections = await o.detector.detectBatch(
      samples.map((sample) => ({ data: sample.image, width: sample.width, height: sample.height })),
    );
    for (let j = 0; j < samples.length; j++) {
      const sample = samples[j]!;
      evaluator.add(sample.id, detections[j]!, sample);
      const index = first + j;
      if (index < draw && o.drawDir) {
        const gt: DrawnBox[] = [];
        for (let k = 0; k < sample.labels.length; k++) {
          gt.push({
            box: {
              xMin: sample.boxes[4 * k]!,
              yMin: sample.boxes[4 * k + 1]!,
              xMax: sample.boxes[4 * k + 2]!,
              yMax: sample.boxes[4 * k + 3]!,
            },
            classId: sample.labels[k]!,
          });
        }
        const shown = detections[j]!.filter((d) => d.score >= 0.3).map((d) => ({
          ...d,
          label: d.label ?? o.classNames[d.classId - 1],
        }));
        const png = await drawBoxesPng(
          { data: sample.image, width: sample.width, height: sample.height },
          shown,
          { groundTruth: gt },
        );
        await fs.writeFile(path.join(o.drawDir, `${sample.id}.png`), png);
      }
    }
    o.onProgress?.(Math.min(first + o.batchSize, total), total);
  }
  return evaluator.compute();
}

/** The per-class AP table printed at the end of a run. */
export function formatApTable(result: EvaluationResult): string {
  const width = Math.max(8, ...result.classes.map((c) => c.name.length));
  const lines = [
    `${'class'.padEnd(width)}  ${'AP'.padStart(6)}  ${'GT'.padStart(5)}  ${'dets'.padStart(6)}`,
    `${'-'.repeat(width)}  ------  -----  ------`,
  ];
  for (const c of result.classes) {
    const ap = c.ap === null ? '   n/a' : (c.ap * 100).toFixed(1).padStart(6);
    lines.push(
      `${c.name.padEnd(width)}  ${ap}  ${String(c.numGroundTruth).padStart(5)}  ${String(c.numDetections).padStart(6)}`,
    );
  }
  lines.push(`${'-'.repeat(width)}  ------  -----  ------`);
  const map = result.map === null ? 'n/a' : (result.map * 100).toFixed(1);
  lines.push(
    `${'mAP'.padEnd(width)}  ${map.padStart(6)}   (${result.method === 'voc07' ? 'VOC07 11-point' : 'VOC12 area'}, IoU ${result.iouThreshold}, ${result.numImages} images)`,
  );
  return lines.join('\n');
}

/** Per-class precision/recall curves as a PNG. */
export async function writePrCurves(result: EvaluationResult, file: string): Promise<void> {
  const series = result.classes
    .filter((c) => c.recall.length > 0)
    .map((c) => ({
      name: `${c.name} ${c.ap === null ? '' : (c.ap * 100).toFixed(1)}`,
      points: Array.from(c.recall, (r, i) => [r, c.precision[i]!] as const),
    }));
  const svg = lineChartSvg(series, {
    title: `Precision / recall per class — mAP ${result.map === null ? 'n/a' : (result.map * 100).toFixed(1)} (${result.method})`,
    xLabel: 'recall',
    yLabel: 'precision',
    xRange: [0, 1],
    yRange: [0, 1.02],
  });
  await writeSvgPng(svg, file);
}

/** The `summary.json` shape of an evaluation. */
export function evaluationSummary(result: EvaluationResult): {
  mAP: number | null;
  method: string;
  perClassAP: Record<string, number | null>;
} {
  return {
    mAP: result.map,
    method: result.method,
    perClassAP: Object.fromEntries(result.classes.map((c) => [c.name, c.ap])),
  };
}
