import { promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { ssdTrainAugmentation } from '@ssd/augment';
import { createLoader } from '@ssd/loader';
import { multiboxLoss } from '@ssd/loss';
import { encodeTargets } from '@ssd/matcher';
import type { VocDataset } from '@ssd/voc/node';
import * as tf from '@tensorflow/tfjs-core';
import { chooseBackend, type BackendChoice } from './backend';
import { latestCheckpoint, loadCheckpoint, saveCheckpoint } from './checkpoint';
import { type RunConfig, validateConfig } from './config';
import { SHAPES_DIR, classesFor, ensureShapesDataset, openSplits } from './data';
import { createLocalEngine } from './engine';
import {
  evaluateDetector,
  evaluationSummary,
  formatApTable,
  resizeRgb,
  writePrCurves,
} from './evaluation';
import { UsageError, type ParsedFlags } from './flags';
import { appendJsonl, readJsonl, truncateJsonlAfter } from './jsonl';
import {
  buildNetwork,
  loadBackboneWeights,
  lsuvInitialise,
  preprocess,
  type Network,
} from './network';
import { createOptimizer } from './optimizer';
import { writeSvgPng, lineChartSvg } from './plots';
import { createPredictor } from './predict';
import { ProgressPrinter, formatProgress } from './progress';
import { schedulePhase, type LrSchedule } from './schedule';
import {
  captureTrainingState,
  restoreOptimizer,
  restoreWeights,
  type SavedTrainingState,
} from './state';
import { trainLoop, type GradientEngine } from './trainer';
import { createWorkerEngine } from './workers';

/** What a checkpoint stores besides tensors. */
export interface RunState {
  config: RunConfig;
  classes: string[];
  /** Position in the learning-rate schedule (step boundaries passed). */
  schedulePhase: number;
  /** Shuffle / augmentation state: every draw is a function of (seed, epoch, index). */
  sampling: { seed: number; epoch: number; batchInEpoch: number; batchesPerEpoch: number };
  backend: string;
  savedAt: string;
}

export interface TrainResult {
  readonly outDir: string;
  readonly iteration: number;
  readonly stopped: boolean;
  readonly summary: Record<string, unknown> | null;
}

export interface TrainHooks {
  /** Replaces stderr logging (tests). */
  readonly log?: (message: string) => void;
  /** Polled between iterations; true stops the run after a checkpoint. */
  readonly shouldStop?: () => boolean;
  /** Limit the number of test images evaluated (tests). */
  readonly evalLimit?: number;
  /** Called after every iteration (tests watch `tf.memory()` here). */
  readonly onIteration?: (iteration: number) => void;
}

const RESUME_OVERRIDABLE = new Set([
  'iterations',
  'backend',
  'workers',
  'eval-every',
  'checkpoint-every',
  'keep-checkpoints',
  'draw',
  'resume',
  'out',
  'max-nonfinite',
]);

/** The config of a resumed run: the checkpoint's, with the few flags that may change. */
async function resumeConfig(
  flags: ParsedFlags,
): Promise<{ config: RunConfig; checkpointDir: string }> {
  const target = path.resolve(flags.resume as string);
  const checkpointDir =
    (await fs.stat(path.join(target, 'state.json')).catch(() => null)) !== null
      ? target
      : await latestCheckpoint(path.join(target, 'checkpoints'));
  if (!checkpointDir) {
    throw new UsageError(
      `--resume ${target}: no checkpoint found (looked in ${target}/checkpoints)`,
    );
  }
  for (const name of Object.keys(flags)) {
    if (!RESUME_OVERRIDABLE.has(name)) {
      throw new UsageError(
        `--${name} cannot change when resuming (the run continues with its saved settings)`,
      );
    }
  }
  const raw = JSON.parse(await fs.readFile(path.join(checkpointDir, 'state.json'), 'utf8')) as {
    state: SavedTrainingState<RunState>;
  };
  const saved = raw.state.extra.config;
  const config: RunConfig = {
    ...saved,
    out: path.resolve(path.dirname(path.dirname(checkpointDir))),
    iterations: (flags.iterations as number | undefined) ?? saved.iterations,
    backend: (flags.backend as RunConfig['backend'] | undefined) ?? saved.backend,
    workers: (flags.workers as number | undefined) ?? saved.workers,
    evalEvery: (flags['eval-every'] as number | undefined) ?? saved.evalEvery,
    checkpointEvery: (flags['checkpoint-every'] as number | undefined) ?? saved.checkpointEvery,
    keepCheckpoints: (flags['keep-checkpoints'] as number | undefined) ?? saved.keepCheckpoints,
    maxNonFinite: (flags['max-nonfinite'] as number | undefined) ?? saved.maxNonFinite,
    draw: (flags.draw as number | undefined) ?? saved.draw,
  };
  validateConfig(config);
  return { config, checkpointDir };
}

function scheduleOf(c: RunConfig): LrSchedule {
  return {
    kind: c.lrSchedule,
    totalIterations: c.iterations,
    baseLr: c.lr,
    steps: c.lrSchedule === 'cosine' ? [] : c.lrSteps,
    gamma: c.lrGamma,
    warmupIterations: c.warmup,
    warmupFactor: 1 / 3,
  };
}

function smooth(values: number[], alpha = 0.05): number[] {
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

function describeBackend(choice: BackendChoice): string {
  return `${choice.name}${choice.workers > 1 ? ` × ${choice.workers} workers` : ''}`;
}

/** `train`: trains (or resumes), checkpoints, evaluates at the end, writes the run folder. */
export async function runTrain(
  config0: RunConfig | null,
  flags: ParsedFlags,
  hooks: TrainHooks = {},
): Promise<TrainResult> {
  const wallStart = performance.now();
  const printer = new ProgressPrinter();
  const log = hooks.log ?? ((m: string) => printer.log(m));
  let config: RunConfig;
  let resumeFrom: string | null = null;
  if (flags.resume !== undefined) {
    ({ config, checkpointDir: resumeFrom } = await resumeConfig(flags));
  } else {
    config = config0!;
    if ((await latestCheckpoint(path.join(config.out, 'checkpoints'))) !== undefined) {
      throw new UsageError(
        `${config.out} already holds checkpoints: pass --resume ${config.out} to continue it, or another --out`,
      );
    }
  }
  const out = config.out;
  const ckptDir = path.join(out, 'checkpoints');
  const metricsFile = path.join(out, 'metrics.jsonl');
  await fs.mkdir(out, { recursive: true });

  // Data first (it may need generating), then the backend, then the network.
  let generatedSeconds = 0;
  let root = config.data;
  if (root === null) {
    const shapes = await ensureShapesDataset(path.resolve(SHAPES_DIR), log);
    root = shapes.root;
    generatedSeconds = shapes.generatedSeconds;
  }
  const classes = [...classesFor(config)];
  const trainSet = await openSplits(root, config.train, classes, log);
  const testSet = await openSplits(root, config.test, classes, log);

  const backend = await chooseBackend(config.backend, config.workers, log);
  log(
    `Backend: ${describeBackend(backend)} (${backend.reason}). Training on ${config.train.join('+')} ` +
      `(${trainSet.size} images), testing on ${config.test.join('+')} (${testSet.size} images).`,
  );

  const tensorsAtStart = tf.memory().numTensors;
  const net: Network = buildNetwork({
    preset: config.preset,
    numClasses: classes.length + 1,
    inputSize: config.inputSize,
    widthMultiplier: config.widthMultiplier,
    inputScale: config.inputScale,
    seed: config.seed,
    heInit: config.backboneWeights === null && config.init === 'he',
  });
  const optimizer = createOptimizer(config.optimizer, net.params, config);
  let startIteration = 0;
  if (!resumeFrom && config.backboneWeights !== null) {
    const layers = await loadBackboneWeights(net, config.backboneWeights);
    log(`Backbone: ${layers.length} layers from ${config.backboneWeights}`);
  }
  if (!resumeFrom && config.backboneWeights === null && config.init === 'lsuv') {
    await lsuvFromTrainingImages(net, trainSet, config, log);
  }
  if (resumeFrom) {
    const data = await loadCheckpoint<SavedTrainingState<RunState>>(resumeFrom);
    restoreWeights(net.weights, data.model);
    restoreOptimizer(optimizer, data);
    startIteration = data.iteration;
    await truncateJsonlAfter(metricsFile, startIteration);
    log(`Resumed from ${resumeFrom} at iteration ${startIteration}.`);
  } else {
    await fs.rm(metricsFile, { force: true });
    await fs.writeFile(path.join(out, 'config.json'), `${JSON.stringify(config, null, 2)}\n`);
  }

  const schedule = scheduleOf(config);
  const loader = createLoader(trainSet, {
    batchSize: config.batchSize,
    seed: config.seed,
    shuffle: true,
    dropLast: true,
    cache: trainSet.size <= 5000,
    concurrency: 2,
    prefetch: 3,
    output: 'arrays',
    augment: ssdTrainAugmentation(
      config.augment === 'ssd'
        ? { size: config.inputSize }
        : { size: config.inputSize, expand: false, crop: false },
    ),
    encodeTargets: (boxes, labels) =>
      encodeTargets(net.anchorsPacked, boxes, labels, { numClasses: classes.length + 1 }),
  });
  if (loader.batchesPerEpoch === 0) {
    throw new UsageError(
      `--batch-size ${config.batchSize} is larger than the training set (${trainSet.size} images)`,
    );
  }
  const loss = (
    p: { locPred: tf.Tensor3D; logits: tf.Tensor3D },
    t: { locTargets: tf.Tensor3D; labels: tf.Tensor2D },
  ) => multiboxLoss(p, t) as { total: tf.Scalar; localization: tf.Scalar; confidence: tf.Scalar };
  const workerEngine =
    backend.workers > 1
      ? await createWorkerEngine({ config, classes, backend, net, optimizer })
      : null;
  // The workers start from this thread's weights and optimizer state: a checkpoint's,
  // a pretrained backbone's or a data-dependent initialisation's.
  if (workerEngine && (resumeFrom || config.backboneWeights !== null || config.init === 'lsuv')) {
    await workerEngine.push();
  }
  const engine: GradientEngine =
    workerEngine ??
    createLocalEngine({ params: net.params, forward: net.forward, preprocess, loss });

  let stopRequested = false;
  const onSigint = (): void => {
    if (stopRequested) {
      log('Second Ctrl-C: exiting now (the last complete checkpoint is intact).');
      process.exit(130);
    }
    stopRequested = true;
    log(
      'Ctrl-C: finishing this step, saving a checkpoint, then exiting (Ctrl-C again to quit now).',
    );
  };
  process.on('SIGINT', onSigint);

  const checkpoint = async (iteration: number): Promise<void> => {
    await workerEngine?.pull();
    const per = loader.batchesPerEpoch;
    const state: RunState = {
      config,
      classes,
      schedulePhase: schedulePhase(iteration, schedule),
      sampling: {
        seed: config.seed,
        epoch: Math.floor(iteration / per),
        batchInEpoch: iteration % per,
        batchesPerEpoch: per,
      },
      backend: describeBackend(backend),
      savedAt: new Date().toISOString(),
    };
    const data = await captureTrainingState(net.weights, optimizer, iteration, state);
    const where = await saveCheckpoint(ckptDir, data, { keep: config.keepCheckpoints });
    await appendJsonl(metricsFile, { type: 'checkpoint', iteration, path: where });
  };

  const predictor = createPredictor(net, { inputSize: config.inputSize, classes });
  const evaluate = async (iteration: number, final: boolean) => {
    const t0 = performance.now();
    const result = await evaluateDetector({
      source: testSet,
      classNames: classes,
      inputSize: config.inputSize,
      batchSize: Math.max(1, Math.min(config.batchSize, 16)),
      predict: predictor.predict,
      method: config.method,
      ...(hooks.evalLimit !== undefined ? { limit: hooks.evalLimit } : {}),
      onProgress: (done, total) => printer.update(`evaluating ${done}/${total}`, done === total),
      ...(final ? { draw: config.draw, drawDir: path.join(out, 'test-images') } : {}),
    });
    printer.finish();
    const seconds = (performance.now() - t0) / 1000;
    await appendJsonl(metricsFile, {
      type: 'eval',
      iteration,
      mAP: result.map,
      method: result.method,
      seconds,
      perClassAP: evaluationSummary(result).perClassAP,
    });
    log(
      `iteration ${iteration}: mAP ${result.map === null ? 'n/a' : (result.map * 100).toFixed(1)} (${seconds.toFixed(0)} s)`,
    );
    return { result, seconds };
  };

  let loopResult;
  let dataWait = 0;
  let images = 0;
  try {
    loopResult = await trainLoop({
      engine,
      optimizer,
      schedule,
      // Every draw is a function of (seed, epoch, index): a resumed run starts at its step.
      batches: loader.batches({ fromStep: startIteration, endStep: config.iterations }),
      startIteration,
      iterations: config.iterations,
      checkpointEvery: config.checkpointEvery,
      evalEvery: config.evalEvery,
      maxNonFinite: config.maxNonFinite,
      shouldStop: () => stopRequested || (hooks.shouldStop?.() ?? false),
      checkpoint,
      evaluate: async (iteration) => {
        await workerEngine?.pull();
        await evaluate(iteration, false);
      },
      onSkip: (r, n) =>
        log(
          `iteration ${r.iteration}: non-finite loss (${r.loss}); batch skipped (${n} in a row): ${r.ids?.join(', ')}`,
        ),
      onIteration: async (r, stats) => {
        hooks.onIteration?.(r.iteration);
        dataWait = stats.dataWaitSeconds;
        images = stats.imagesThisRun;
        await appendJsonl(metricsFile, { type: 'train', ...r });
        printer.update(
          formatProgress({
            iteration: r.iteration,
            totalIterations: config.iterations,
            elapsedSeconds: stats.elapsedSeconds,
            iterationsThisRun: stats.iterationsThisRun,
            imagesPerSecond: stats.imagesThisRun / Math.max(stats.elapsedSeconds, 1e-9),
            loss: { total: r.loss, localization: r.localization, confidence: r.confidence },
            learningRate: r.lr,
            dataWaitFraction: stats.dataWaitSeconds / Math.max(stats.elapsedSeconds, 1e-9),
          }),
          r.iteration === config.iterations,
        );
      },
    });
  } finally {
    process.off('SIGINT', onSigint);
    printer.finish();
    // The main thread's network is what gets evaluated and saved below.
    await workerEngine?.pull().catch(() => undefined);
    await engine.dispose();
  }

  let summary: Record<string, unknown> | null = null;
  if (!loopResult.stopped) {
    await writeLossCurve(metricsFile, path.join(out, 'loss.png'));
    const { result, seconds } = await evaluate(loopResult.iteration, true);
    await writePrCurves(result, path.join(out, 'pr-curves.png'));
    const trainSeconds = loopResult.wallSeconds;
    summary = {
      ...evaluationSummary(result),
      iterations: loopResult.iteration,
      wallSeconds: (performance.now() - wallStart) / 1000,
      trainSeconds,
      evalSeconds: seconds,
      dataGenerationSeconds: generatedSeconds,
      backend: describeBackend(backend),
      workers: backend.workers,
      imagesPerSecond: images / Math.max(trainSeconds, 1e-9),
      dataWaitFraction: dataWait / Math.max(trainSeconds, 1e-9),
      skippedBatches: loopResult.skipped,
      resumedFrom: resumeFrom,
      preset: config.preset,
      inputSize: config.inputSize,
      widthMultiplier: config.widthMultiplier,
      inputScale: config.inputScale,
      numAnchors: net.numAnchors,
      optimizer: config.optimizer,
      batchSize: config.batchSize,
      trainImages: trainSet.size,
      testImages: hooks.evalLimit ?? testSet.size,
      classes,
      seed: config.seed,
      cpu: `${os.cpus()[0]?.model ?? 'unknown'} × ${os.cpus().length}`,
      node: process.version,
      finishedAt: new Date().toISOString(),
    };
    await fs.writeFile(path.join(out, 'summary.json'), `${JSON.stringify(summary, null, 2)}\n`);
    process.stdout.write(`\n${formatApTable(result)}\n\n`);
    log(
      `Run folder: ${out} (summary.json, metrics.jsonl, loss.png, pr-curves.png, test-images/, checkpoints/)`,
    );
  } else {
    log(`Stopped at iteration ${loopResult.iteration}; resume with --resume ${out}`);
  }
  predictor.dispose();
  optimizer.dispose();
  net.dispose();
  const leaked = tf.memory().numTensors - tensorsAtStart;
  if (leaked !== 0) log(`warning: ${leaked} tensors still allocated after the run`);
  return { outDir: out, iteration: loopResult.iteration, stopped: loopResult.stopped, summary };
}

/** Images LSUV initialisation looks at: spread over the training set, resized, no augmentation. */
const LSUV_IMAGES = 16;

async function lsuvFromTrainingImages(
  net: Network,
  trainSet: VocDataset,
  config: RunConfig,
  log: (message: string) => void,
): Promise<void> {
  const t0 = performance.now();
  const s = config.inputSize;
  const count = Math.min(LSUV_IMAGES, trainSet.size);
  const pixels = new Float32Array(count * s * s * 3);
  for (let j = 0; j < count; j++) {
    const sample = await trainSet.load(Math.floor((j * trainSet.size) / count));
    pixels.set(await resizeRgb(sample.image, sample.width, sample.height, s), j * s * s * 3);
  }
  const images = tf.tidy(() => preprocess(tf.tensor4d(pixels, [count, s, s, 3])));
  try {
    const scales = lsuvInitialise(net.model, images, config.seed);
    log(
      `Init: LSUV on ${count} training images, ${scales.length} convolutions rescaled ` +
        `(${(performance.now() - t0).toFixed(0)} ms).`,
    );
  } finally {
    images.dispose();
  }
}
