import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import { createDetector, type SsdDetector } from '@ssd/detect';
import { loadSsd } from '@ssd/detect/node';
import { decodeImage, readImageSize } from '@ssd/voc/node';
import { chooseBackend } from './backend';
import type { RunConfig } from './config';
import { SHAPES_DIR, checkDataFolder, ensureShapesDataset, openSplits } from './data';
import { evaluateDetector, evaluationSummary, formatApTable, writePrCurves } from './evaluation';
import { UsageError, type ParsedFlags } from './flags';
import { buildNetwork, networkOptions, type Network } from './network';
import { checkOutFolder, freeFolder } from './out-folder';
import { drawBoxesPng } from './plots';
import { EVAL_BATCH_SIZE } from './recipes';
import { findCheckpoint, loadRunCheckpoint } from './resume';
import { restoreWeights } from './state';

export interface LoadedRun {
  readonly config: RunConfig;
  readonly classes: string[];
  readonly net: Network;
  readonly checkpointDir: string;
  readonly iteration: number;
}

/** Rebuilds the run's network from a checkpoint's saved settings and loads the weights. */
export async function loadRun(target: string): Promise<LoadedRun> {
  const checkpointDir = await findCheckpoint(target, 'checkpoint');
  const data = await loadRunCheckpoint(checkpointDir);
  const { config, classes } = data.state.extra;
  const net = buildNetwork({
    ...networkOptions(config, classes.length + 1),
    // The checkpoint's weights replace any initialisation.
    heInit: false,
  });
  restoreWeights(net.weights, data.model);
  return { config, classes, net, checkpointDir, iteration: data.iteration };
}

/** The detector `evaluate` and `detect` run, and where it came from. */
export interface OpenedDetector {
  readonly detector: SsdDetector;
  readonly classes: readonly string[];
  /** The run folder the model or checkpoint belongs to, when there is one. */
  readonly runDir: string | null;
  /** The run's settings (`--checkpoint`, or `config.json` beside a run's `model/`). */
  readonly config: RunConfig | null;
  /** The checkpoint's iteration; `null` for a saved model. */
  readonly iteration: number | null;
  /** The checkpoint directory or model folder. */
  readonly source: string;
  dispose(): void;
}

/**
 * `--model` (a `saveSsdModel` folder: `loadSsd`) or `--checkpoint` (the network
 * rebuilt from a checkpoint: `createDetector`): either way `@ssd/detect`.
 */
export async function openDetector(flags: ParsedFlags, command: string): Promise<OpenedDetector> {
  const hasModel = typeof flags.model === 'string';
  if (hasModel === (typeof flags.checkpoint === 'string')) {
    throw new UsageError(`${command}: pass --checkpoint or --model (one of them)`);
  }
  if (hasModel) {
    const source = path.resolve(flags.model as string);
    if ((await fs.stat(path.join(source, 'model.json')).catch(() => null)) === null) {
      throw new UsageError(`--model ${flags.model}: no model.json in ${source}`);
    }
    const detector = await loadSsd(source);
    if (detector.labels === undefined) {
      detector.dispose();
      throw new UsageError(`--model ${flags.model}: the model has no class names (labels)`);
    }
    // A run's model/ sits beside its config.json.
    const parent = path.dirname(source);
    const configText = await fs
      .readFile(path.join(parent, 'config.json'), 'utf8')
      .catch(() => null);
    return {
      detector,
      classes: detector.labels,
      runDir: configText === null ? null : parent,
      config: configText === null ? null : (JSON.parse(configText) as RunConfig),
      iteration: null,
      source,
      dispose: () => detector.dispose(),
    };
  }
  const run = await loadRun(flags.checkpoint as string);
  const detector = createDetector(run.net.model, {
    anchorConfig: run.net.anchors,
    labels: run.classes,
  });
  return {
    detector,
    classes: run.classes,
    runDir: path.dirname(path.dirname(run.checkpointDir)),
    config: run.config,
    iteration: run.iteration,
    source: run.checkpointDir,
    dispose: () => {
      detector.dispose();
      run.net.dispose();
    },
  };
}

const log = (m: string): void => {
  process.stderr.write(`${m}\n`);
};

/** `evaluate`: VOC mAP of a checkpoint or saved model on the test split (the run's, or --data/--test). */
export async function runEvaluate(flags: ParsedFlags): Promise<Record<string, unknown>> {
  const t0 = performance.now();
  if (typeof flags.out === 'string') await checkOutFolder(flags.out);
  if (typeof flags.data === 'string') await checkDataFolder(path.resolve(flags.data));
  const backend = await chooseBackend((flags.backend as RunConfig['backend']) ?? 'auto', 1, log);
  const opened = await openDetector(flags, 'evaluate');
  try {
    const data =
      typeof flags.data === 'string'
        ? path.resolve(flags.data)
        : opened.config === null
          ? null
          : (opened.config.data ?? (await ensureShapesDataset(path.resolve(SHAPES_DIR), log)).root);
    const splits = (flags.test as string[] | undefined) ?? opened.config?.test;
    if (data === null || splits === undefined) {
      throw new UsageError(
        `evaluate: ${opened.source} is not in a run folder: pass --data and --test`,
      );
    }
    const testSet = await openSplits(
      data,
      splits,
      [...opened.classes],
      log,
      (flags['unknown-class'] as 'error' | 'skip' | undefined) ?? opened.config?.unknownClass,
    );
    const out = path.resolve(
      (flags.out as string | undefined) ?? opened.runDir ?? path.dirname(opened.source),
    );
    const tag =
      opened.iteration === null
        ? 'evaluation-model'
        : `evaluation-${String(opened.iteration).padStart(8, '0')}`;
    await checkOutFolder(out);
    await fs.mkdir(out, { recursive: true });
    const result = await evaluateDetector({
      source: testSet,
      classNames: opened.classes,
      batchSize: (flags['batch-size'] as number | undefined) ?? EVAL_BATCH_SIZE,
      detector: opened.detector,
      method: (flags.method as 'voc07' | 'voc12' | undefined) ?? 'voc07',
      draw: (flags.draw as number | undefined) ?? 8,
      drawDir: path.join(out, `${tag}-images`),
    });
    backend.throwIfGpuFailed();
    await writePrCurves(result, path.join(out, `${tag}-pr-curves.png`));
    const summary = {
      ...evaluationSummary(result),
      iterations: opened.iteration,
      ...(opened.iteration === null ? { model: opened.source } : { checkpoint: opened.source }),
      splits,
      testImages: testSet.size,
      backend: backend.name,
      wallSeconds: (performance.now() - t0) / 1000,
    };
    await fs.writeFile(path.join(out, `${tag}.json`), `${JSON.stringify(summary, null, 2)}\n`);
    process.stdout.write(`${formatApTable(result)}\n`);
    const drawn = Math.min((flags.draw as number | undefined) ?? 8, testSet.size);
    log(
      [
        'Wrote:',
        `  ${path.join(out, `${tag}.json`)}`,
        `  ${path.join(out, `${tag}-pr-curves.png`)}`,
        ...(drawn > 0 ? [`  ${path.join(out, `${tag}-images`)}/ (${drawn} images)`] : []),
      ].join('\n'),
    );
    return summary;
  } finally {
    opened.dispose();
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
  // Every input is an image (its header reads), before any work.
  for (const file of files) await readImageSize(file);
  return files;
}

/**
 * Where `detect` writes: `--out` (refused when it holds earlier results, unless
 * `--overwrite`), else the first free `<run>/detections`, `detections-2`, ….
 */
async function detectOutFolder(flags: ParsedFlags, opened: OpenedDetector): Promise<string> {
  if (typeof flags.out === 'string') {
    const out = path.resolve(flags.out);
    const earlier = await fs.stat(path.join(out, 'detections.json')).catch(() => null);
    if (earlier !== null && flags.overwrite !== true) {
      throw new UsageError(
        `--out ${flags.out}: holds detections.json from an earlier run; pass --overwrite to replace it, or another --out`,
      );
    }
    return out;
  }
  return freeFolder(path.join(opened.runDir ?? path.dirname(opened.source), 'detections'));
}

/** `detect`: annotated PNGs and `detections.json` for images or folders. */
export async function runDetect(
  flags: ParsedFlags,
  inputs: readonly string[],
): Promise<{ out: string; images: number }> {
  if (typeof flags.out === 'string') await checkOutFolder(flags.out);
  const files = await expandInputs(inputs);
  const backend = await chooseBackend((flags.backend as RunConfig['backend']) ?? 'auto', 1, log);
  const opened = await openDetector(flags, 'detect');
  const threshold = (flags['score-threshold'] as number | undefined) ?? 0.5;
  const all: Record<string, unknown>[] = [];
  let out: string;
  try {
    out = await detectOutFolder(flags, opened);
    await fs.mkdir(out, { recursive: true });
    for (const file of files) {
      const img = await decodeImage(file);
      // The evaluation's candidates (score > 0.01, NMS, best 200), then the threshold.
      const dets = await opened.detector.detect(
        { data: img.image, width: img.width, height: img.height },
        { scoreThreshold: Math.min(threshold, 0.01) },
      );
      backend.throwIfGpuFailed();
      const kept = dets.filter((d) => d.score >= threshold);
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
    opened.dispose();
  }
  await fs.writeFile(path.join(out, 'detections.json'), `${JSON.stringify(all, null, 2)}\n`);
  log(`Wrote ${files.length} annotated images and detections.json to ${out}`);
  return { out, images: files.length };
}
