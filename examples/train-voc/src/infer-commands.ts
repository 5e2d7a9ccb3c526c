import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import { decodeImage } from '@ssd/voc/node';
import { chooseBackend } from './backend';
import { latestCheckpoint, loadCheckpoint } from './checkpoint';
import type { RunConfig } from './config';
import { SHAPES_DIR, ensureShapesDataset, openSplits } from './data';
import {
  evaluateDetector,
  evaluationSummary,
  formatApTable,
  resizeRgb,
  writePrCurves,
} from './evaluation';
import { UsageError, type ParsedFlags } from './flags';
import { buildNetwork, type Network } from './network';
import { drawBoxesPng } from './plots';
import { createPredictor } from './predict';
import { restoreWeights, type SavedTrainingState } from './state';
import type { RunState } from './train-command';

export interface LoadedRun {
  readonly config: RunConfig;
  readonly classes: string[];
  readonly net: Network;
  readonly checkpointDir: string;
  readonly iteration: number;
}

/** Resolves `--checkpoint` (a run folder or a checkpoint directory). */
export async function findCheckpoint(target: string): Promise<string> {
  const abs = path.resolve(target);
  if ((await fs.stat(path.join(abs, 'state.json')).catch(() => null)) !== null) return abs;
  const latest = await latestCheckpoint(path.join(abs, 'checkpoints'));
  if (!latest) {
    throw new UsageError(
      `--checkpoint ${target}: not a checkpoint directory and no checkpoints/ with a checkpoint in it`,
    );
  }
  return latest;
}

/** Rebuilds the run's network from its saved settings and loads the weights. */
export async function loadRun(target: string): Promise<LoadedRun> {
  const checkpointDir = await findCheckpoint(target);
  const data = await loadCheckpoint<SavedTrainingState<RunState>>(checkpointDir);
  const { config, classes } = data.state.extra;
  const net = buildNetwork({
    preset: config.preset,
    numClasses: classes.length + 1,
    inputSize: config.inputSize,
    widthMultiplier: config.widthMultiplier,
    // Runs saved before --input-scale existed had none.
    inputScale: config.inputScale ?? 1,
    seed: config.seed,
    heInit: false,
  });
  restoreWeights(net.weights, data.model);
  return { config, classes, net, checkpointDir, iteration: data.iteration };
}

const log = (m: string): void => {
  process.stderr.write(`${m}\n`);
};

/** `evaluate`: VOC mAP of a checkpoint on the test split (the run's, or --data/--test). */
export async function runEvaluate(flags: ParsedFlags): Promise<Record<string, unknown>> {
  if (typeof flags.checkpoint !== 'string')
    throw new UsageError('evaluate: --checkpoint is required');
  const t0 = performance.now();
  const backend = await chooseBackend((flags.backend as RunConfig['backend']) ?? 'auto', 1, log);
  const run = await loadRun(flags.checkpoint);
  try {
    const data =
      typeof flags.data === 'string'
        ? path.resolve(flags.data)
        : (run.config.data ?? (await ensureShapesDataset(path.resolve(SHAPES_DIR), log)).root);
    const splits = (flags.test as string[] | undefined) ?? run.config.test;
    const testSet = await openSplits(data, splits, run.classes, log);
    const out = path.resolve(
      (flags.out as string | undefined) ?? path.dirname(path.dirname(run.checkpointDir)),
    );
    const tag = `evaluation-${String(run.iteration).padStart(8, '0')}`;
    await fs.mkdir(out, { recursive: true });
    const predictor = createPredictor(run.net, {
      inputSize: run.config.inputSize,
      classes: run.classes,
    });
    const result = await evaluateDetector({
      source: testSet,
      classNames: run.classes,
      inputSize: run.config.inputSize,
      batchSize: (flags['batch-size'] as number | undefined) ?? 16,
      predict: predictor.predict,
      method: (flags.method as 'voc07' | 'voc12' | undefined) ?? 'voc07',
      draw: (flags.draw as number | undefined) ?? 8,
      drawDir: path.join(out, `${tag}-images`),
    });
    predictor.dispose();
    await writePrCurves(result, path.join(out, `${tag}-pr-curves.png`));
    const summary = {
      ...evaluationSummary(result),
      iterations: run.iteration,
      checkpoint: run.checkpointDir,
      splits,
      testImages: testSet.size,
      backend: backend.name,
      wallSeconds: (performance.now() - t0) / 1000,
    };
    await fs.writeFile(path.join(out, `${tag}.json`), `${JSON.stringify(summary, null, 2)}\n`);
    process.stdout.write(`${formatApTable(result)}\n`);
    return summary;
  } finally {
    run.net.dispose();
  }
}

const IMAGE_EXT = /\.(jpe?g|png|webp|tiff?|gif|avif)$/i;

async function expandInputs(inputs: readonly string[]): Promise<string[]> {
  const files: string[] = [];
  for (const input of inputs) {
    const stat = await fs.stat(input).catch(() => null);
    if (!stat) throw new UsageError(`detect: ${input} does not exist`);
    if (stat.isDirectory()) {
      const names = (await fs.readdir(input)).filter((n) => IMAGE_EXT.test(n)).sort();
      files.push(...names.map((n) => path.join(input, n)));
    } else {
      files.push(input);
    }
  }
  if (files.length === 0) throw new UsageError('detect: no images given (files or folders)');
  return files;
}

/** `detect`: annotated PNGs and `detections.json` for images or folders. */
export async function runDetect(
  flags: ParsedFlags,
  inputs: readonly string[],
): Promise<{ out: string; images: number }> {
  if (typeof flags.checkpoint !== 'string')
    throw new UsageError('detect: --checkpoint is required');
  const files = await expandInputs(inputs);
  await chooseBackend((flags.backend as RunConfig['backend']) ?? 'auto', 1, log);
  const run = await loadRun(flags.checkpoint);
  const threshold = (flags['score-threshold'] as number | undefined) ?? 0.5;
  const out = path.resolve(
    (flags.out as string | undefined) ??
      path.join(path.dirname(path.dirname(run.checkpointDir)), 'detections'),
  );
  await fs.mkdir(out, { recursive: true });
  const predictor = createPredictor(run.net, {
    inputSize: run.config.inputSize,
    classes: run.classes,
    scoreThreshold: Math.min(threshold, 0.01),
  });
  const all: Record<string, unknown>[] = [];
  try {
    for (const file of files) {
      const img = await decodeImage(file);
      const resized = await resizeRgb(img.image, img.width, img.height, run.config.inputSize);
      const [dets] = await predictor.predict(resized, [{ width: img.width, height: img.height }]);
      const kept = dets!.filter((d) => d.score >= threshold);
      const base = path.basename(file).replace(/\.[^.]+$/, '');
      await fs.writeFile(
        path.join(out, `${base}.png`),
        await drawBoxesPng({ data: img.image, width: img.width, height: img.height }, kept),
      );
      all.push({
        file: path.resolve(file),
        width: img.width,
        height: img.height,
        detections: kept,
      });
      log(`${file}: ${kept.length} detections ≥ ${threshold}`);
    }
  } finally {
    predictor.dispose();
    run.net.dispose();
  }
  await fs.writeFile(path.join(out, 'detections.json'), `${JSON.stringify(all, null, 2)}\n`);
  log(`Wrote ${files.length} annotated images and detections.json to ${out}`);
  return { out, images: files.length };
}
