import { promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { ssdTrainAugmentation } from '@ssd/augment';
import { createDetector, type SsdDetector } from '@ssd/detect';
import { createLoader, type HostBatch, type Loader } from '@ssd/loader';
import type { EvaluationResult } from '@ssd/metrics';
import { multiboxLoss } from '@ssd/loss';
import { encodeTargets } from '@ssd/matcher';
import type { VocDataset } from '@ssd/voc/node';
import * as tf from '@tensorflow/tfjs-core';
import { chooseBackend, type BackendChoice } from './backend';
import { latestCheckpoint, saveCheckpoint } from './checkpoint';
import { configWarnings, type RunConfig } from './config';
import {
  SHAPES_DIR,
  checkDataFolder,
  classesFor,
  ensureShapesDataset,
  imageCachePlan,
  openSplits,
  readClassNames,
} from './data';
import { createLocalEngine } from './engine';
import { evaluateDetector, evaluationSummary, formatApTable, writePrCurves } from './evaluation';
import { exportModel } from './export-model';
import { UsageError, type ParsedFlags } from './flags';
import { appendJsonl, truncateJsonlAfter } from './jsonl';
import { writeLossCurve } from './loss-curve';
import { lsuvFromTrainingImages } from './lsuv';
import { checkOutFolder, makeOutFolder } from './out-folder';
import {
  buildNetwork,
  loadBackboneWeights,
  loadDetectorWeights,
  networkOptions,
  preprocess,
  type Network,
} from './network';
import { createOptimizer, type Optimizer } from './optimizer';
import { EVAL_BATCH_SIZE } from './recipes';
import { ProgressPrinter, formatProgress, slowRunWarning } from './progress';
import { loadRunCheckpoint, runState, startingPoint } from './resume';
import { schedulePhase, type LrSchedule } from './schedule';
import { captureTrainingState, restoreOptimizer, restoreWeights } from './state';
import { trainLoop, type GradientEngine, type IterationRecord, type LoopStats } from './trainer';
import { createWorkerEngine, type WorkerEngine } from './workers';

export type { RunState } from './resume';

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

type Log = (message: string) => void;

/** The iteration of a run (or resume) after which its remaining time is judged. */
const SLOW_CHECK_AFTER = 3;

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

function describeBackend(choice: BackendChoice): string {
  const adapter = choice.adapter ? ` (${choice.adapter})` : '';
  return `${choice.name}${adapter}${choice.workers > 1 ? ` × ${choice.workers} workers` : ''}`;
}

/**
 * The data of a run: the generated shapes set when `config.data` is null (made
 * once); `--classes auto` reads the class names from the training annotations.
 */
async function openData(
  config: RunConfig,
  log: Log,
): Promise<{
  classes: string[];
  trainSet: VocDataset;
  testSet: VocDataset;
  generatedSeconds: number;
}> {
  let generatedSeconds = 0;
  let root = config.data;
  if (root === null) {
    const shapes = await ensureShapesDataset(path.resolve(SHAPES_DIR), log);
    root = shapes.root;
    generatedSeconds = shapes.generatedSeconds;
  } else {
    await checkDataFolder(root);
  }
  let classes: string[];
  if (config.classes?.[0] === 'auto') {
    classes = await readClassNames(root, config.train);
    log(`Classes (--classes auto, from ${config.train.join('+')}): ${classes.join(', ')}`);
  } else {
    classes = [...classesFor(config)];
  }
  const unknownClass = config.unknownClass ?? 'error';
  const trainSet = await openSplits(root, config.train, classes, log, unknownClass);
  const testSet = await openSplits(root, config.test, classes, log, unknownClass);
  return { classes, trainSet, testSet, generatedSeconds };
}

/** Flags that name files, checked before any work. */
async function checkInputs(config: RunConfig): Promise<void> {
  await checkOutFolder(config.out);
  if (
    config.backboneWeights !== null &&
    (await fs.stat(config.backboneWeights).catch(() => null)) === null
  ) {
    throw new UsageError(`--backbone-weights ${config.backboneWeights}: no such file or folder`);
  }
  if (config.weights !== null && (await fs.stat(config.weights).catch(() => null)) === null) {
    throw new UsageError(`--weights ${config.weights}: no such file or folder`);
  }
}

/**
 * The weights training starts from: the checkpoint's when resuming (the metrics
 * after it are dropped), else a pretrained backbone or LSUV as configured.
 * Returns the first iteration.
 */
async function initialiseWeights(
  o: {
    net: Network;
    optimizer: Optimizer;
    config: RunConfig;
    resumeFrom: string | null;
    trainSet: VocDataset;
    metricsFile: string;
  },
  log: Log,
): Promise<number> {
  const { net, optimizer, config, resumeFrom, metricsFile } = o;
  if (!resumeFrom && config.backboneWeights !== null) {
    const layers = await loadBackboneWeights(net, config.backboneWeights);
    log(`Backbone: ${layers.length} layers from ${config.backboneWeights}`);
  }
  if (!resumeFrom && config.weights !== null) {
    const transfer = await loadDetectorWeights(net, config.weights);
    const heads = transfer.classHeads
      ? ` (class heads re-initialised: ${transfer.classHeads.from} → ${transfer.classHeads.to} classes)`
      : '';
    log(`Weights: ${transfer.layers.length} layers from ${config.weights}${heads}`);
  }
  if (
    !resumeFrom &&
    config.backboneWeights === null &&
    config.weights === null &&
    config.init === 'lsuv'
  ) {
    await lsuvFromTrainingImages(net, o.trainSet, config, log);
  }
  if (resumeFrom) {
    const data = await loadRunCheckpoint(resumeFrom);
    restoreWeights(net.weights, data.model);
    restoreOptimizer(optimizer, data);
    await truncateJsonlAfter(metricsFile, data.iteration);
    log(`Resumed from ${resumeFrom} at iteration ${data.iteration}.`);
    return data.iteration;
  }
  return 0;
}

/** A new run's first files: `config.json`, and no `metrics.jsonl` from an earlier run. */
async function startRunFiles(config: RunConfig, metricsFile: string): Promise<void> {
  await fs.rm(metricsFile, { force: true });
  await fs.writeFile(path.join(config.out, 'config.json'), `${JSON.stringify(config, null, 2)}\n`);
}

/** The augmenting, target-encoding loader of the training split. */
function trainingLoader(
  trainSet: VocDataset,
  config: RunConfig,
  net: Network,
  numClasses: number,
  log: Log,
): Loader<HostBatch> {
  const { note, ...cache } = imageCachePlan(trainSet, config.cache ?? 'auto');
  log(note);
  const loader = createLoader(trainSet, {
    batchSize: config.batchSize,
    seed: config.seed,
    shuffle: true,
    dropLast: true,
    ...cache,
    concurrency: 2,
    prefetch: 3,
    output: 'arrays',
    augment: ssdTrainAugmentation(
      config.augment === 'ssd'
        ? { size: config.inputSize }
        : { size: config.inputSize, expand: false, crop: false },
    ),
    encodeTargets: (boxes, labels) =>
      encodeTargets(net.anchorsPacked, boxes, labels, { numClasses }),
  });
  if (loader.batchesPerEpoch === 0) {
    throw new UsageError(
      `--batch-size ${config.batchSize} is larger than the training set (${trainSet.size} images)`,
    );
  }
  return loader;
}

/** Ctrl-C: the first asks for a stop after this step (and a checkpoint), the second exits. */
function onCtrlC(log: Log): { readonly requested: () => boolean; dispose(): void } {
  let stopRequested = false;
  const onSigint = (): void => {
    if (stopRequested) {
      log('Second Ctrl-C: exiting now (the last complete checkpoint is intact).');
      process.exit(130);
    }
    stopRequested = true;
    log(
      'Ctrl-C: finishing this step, saving a checkpoint and the model, then exiting (Ctrl-C again to quit now).',
    );
  };
  process.on('SIGINT', onSigint);
  return { requested: () => stopRequested, dispose: () => process.off('SIGINT', onSigint) };
}

/**
 * The evaluation `train` runs (every `--eval-every` and at the end): VOC AP of
 * `detector` on the test split, logged and appended to `metrics.jsonl`; the final
 * one draws `--draw` test images.
 */
function runEvaluator(o: {
  detector: SsdDetector;
  checkDevice: () => void;
  testSet: VocDataset;
  classes: readonly string[];
  config: RunConfig;
  hooks: TrainHooks;
  printer: ProgressPrinter;
  log: Log;
}): (iteration: number, final: boolean) => Promise<{ result: EvaluationResult; seconds: number }> {
  const { config, printer } = o;
  const metricsFile = path.join(config.out, 'metrics.jsonl');
  return async (iteration, final) => {
    const t0 = performance.now();
    const result = await evaluateDetector({
      source: o.testSet,
      classNames: o.classes,
      batchSize: Math.min(config.batchSize, EVAL_BATCH_SIZE),
      detector: o.detector,
      method: config.method,
      ...(o.hooks.evalLimit !== undefined ? { limit: o.hooks.evalLimit } : {}),
      onProgress: (done, total) => printer.update(`evaluating ${done}/${total}`, done === total),
      ...(final ? { draw: config.draw, drawDir: path.join(config.out, 'test-images') } : {}),
    });
    printer.finish();
    o.checkDevice();
    const seconds = (performance.now() - t0) / 1000;
    await appendJsonl(metricsFile, {
      type: 'eval',
      iteration,
      mAP: result.map,
      method: result.method,
      seconds,
      perClassAP: evaluationSummary(result).perClassAP,
    });
    o.log(
      `iteration ${iteration}: mAP ${result.map === null ? 'n/a' : (result.map * 100).toFixed(1)} (${seconds.toFixed(0)} s)`,
    );
    return { result, seconds };
  };
}

/** `summary.json` of a finished run: the final evaluation, timings, settings, machine. */
async function writeRunSummary(o: {
  result: EvaluationResult;
  evalSeconds: number;
  loop: { iteration: number; wallSeconds: number; skipped: number };
  wallSeconds: number;
  generatedSeconds: number;
  backend: BackendChoice;
  images: number;
  dataWait: number;
  resumeFrom: string | null;
  config: RunConfig;
  numAnchors: number;
  trainImages: number;
  testImages: number;
  classes: readonly string[];
}): Promise<Record<string, unknown>> {
  const { config } = o;
  const trainSeconds = o.loop.wallSeconds;
  const summary = {
    ...evaluationSummary(o.result),
    iterations: o.loop.iteration,
    wallSeconds: o.wallSeconds,
    trainSeconds,
    evalSeconds: o.evalSeconds,
    dataGenerationSeconds: o.generatedSeconds,
    backend: describeBackend(o.backend),
    workers: o.backend.workers,
    imagesPerSecond: o.images / Math.max(trainSeconds, 1e-9),
    dataWaitFraction: o.dataWait / Math.max(trainSeconds, 1e-9),
    skippedBatches: o.loop.skipped,
    resumedFrom: o.resumeFrom,
    preset: config.preset,
    inputSize: config.inputSize,
    widthMultiplier: config.widthMultiplier,
    inputScale: config.inputScale,
    normalization: config.normalization ?? 'none',
    numAnchors: o.numAnchors,
    optimizer: config.optimizer,
    batchSize: config.batchSize,
    trainImages: o.trainImages,
    testImages: o.testImages,
    classes: o.classes,
    seed: config.seed,
    cpu: `${os.cpus()[0]?.model ?? 'unknown'} × ${os.cpus().length}`,
    node: process.version,
    finishedAt: new Date().toISOString(),
  };
  await fs.writeFile(
    path.join(config.out, 'summary.json'),
    `${JSON.stringify(summary, null, 2)}\n`,
  );
  return summary;
}

/**
 * `train`: trains (or resumes), checkpoints, evaluates at the end, writes the run
 * folder and its model. Every input is checked before the run folder is made, and
 * a new run that fails before its first checkpoint removes its folder again.
 */
export async function runTrain(
  config0: RunConfig | null,
  flags: ParsedFlags,
  hooks: TrainHooks = {},
): Promise<TrainResult> {
  const made: NewFolder = {};
  try {
    return await train(config0, flags, hooks, made);
  } catch (e) {
    if (
      made.top !== undefined &&
      made.out !== undefined &&
      (await latestCheckpoint(path.join(made.out, 'checkpoints'))) === undefined
    ) {
      await fs.rm(made.top, { recursive: true, force: true });
    }
    throw e;
  }
}

/** The run folder `train` made: `out`, and the topmost folder it created for it. */
interface NewFolder {
  out?: string;
  top?: string;
}

/** `runTrain`'s run; fills `made` when it creates the run folder. */
/**
 * The gradient engine of a run: worker threads (`backend.workers` > 1), which
 * start from this thread's weights and optimizer state where those are not the
 * seeded initialisation (a checkpoint's, pretrained weights, LSUV), or this
 * thread.
 */
async function startEngines(o: {
  config: RunConfig;
  classes: readonly string[];
  backend: BackendChoice;
  net: Network;
  optimizer: Optimizer;
  resumed: boolean;
}): Promise<{ workerEngine: WorkerEngine | null; engine: GradientEngine }> {
  const { config, backend, net } = o;
  if (backend.workers > 1) {
    const workerEngine = await createWorkerEngine({
      config,
      classes: o.classes,
      backend,
      net,
      optimizer: o.optimizer,
    });
    if (
      o.resumed ||
      config.backboneWeights !== null ||
      config.weights !== null ||
      config.init === 'lsuv'
    ) {
      await workerEngine.push();
    }
    return { workerEngine, engine: workerEngine };
  }
  const loss = (
    p: { locPred: tf.Tensor3D; logits: tf.Tensor3D },
    t: { locTargets: tf.Tensor3D; labels: tf.Tensor2D },
  ) => multiboxLoss(p, t) as { total: tf.Scalar; localization: tf.Scalar; confidence: tf.Scalar };
  const engine = createLocalEngine({
    params: net.params,
    forward: net.forward,
    preprocess,
    loss,
    checkDevice: backend.throwIfGpuFailed,
  });
  return { workerEngine: null, engine };
}

/**
 * What the run does after every iteration: the metrics line, the progress bar, a
 * warning once when the run looks like hours on a CPU, and the totals the
 * summary reports.
 */
function progressReporter(o: {
  config: RunConfig;
  backend: BackendChoice;
  metricsFile: string;
  printer: ProgressPrinter;
  hooks: TrainHooks;
  log: Log;
}): {
  onIteration: (r: IterationRecord, stats: LoopStats) => Promise<void>;
  readonly dataWaitSeconds: number;
  readonly images: number;
} {
  const { config, backend, printer } = o;
  let dataWaitSeconds = 0;
  let images = 0;
  return {
    get dataWaitSeconds() {
      return dataWaitSeconds;
    },
    get images() {
      return images;
    },
    onIteration: async (r, stats) => {
      o.hooks.onIteration?.(r.iteration);
      // Once, after a few steps (the first ones include warm-up): a CPU run of hours.
      if (stats.iterationsThisRun === SLOW_CHECK_AFTER) {
        const etaSeconds =
          (stats.elapsedSeconds / stats.iterationsThisRun) * (config.iterations - r.iteration);
        const warning = slowRunWarning({
          device: backend.device,
          backend: describeBackend(backend),
          preset: config.preset,
          etaSeconds,
        });
        if (warning) o.log(warning);
      }
      dataWaitSeconds = stats.dataWaitSeconds;
      images = stats.imagesThisRun;
      await appendJsonl(o.metricsFile, { type: 'train', ...r });
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
  };
}

async function train(
  config0: RunConfig | null,
  flags: ParsedFlags,
  hooks: TrainHooks,
  made: NewFolder,
): Promise<TrainResult> {
  const wallStart = performance.now();
  const printer = new ProgressPrinter();
  const log = hooks.log ?? ((m: string) => printer.log(m));
  const start = await startingPoint(config0, flags, log);
  const { resumeFrom } = start;
  const out = start.config.out;
  const ckptDir = path.join(out, 'checkpoints');
  const metricsFile = path.join(out, 'metrics.jsonl');
  await checkInputs(start.config);
  for (const w of configWarnings(start.config)) log(w);

  // Data first (it may need generating), then the backend, then the network; the
  // run folder only once all of them are usable.
  const { classes, trainSet, testSet, generatedSeconds } = await openData(start.config, log);
  // `--classes auto` is saved as the names it found.
  const config: RunConfig =
    start.config.classes?.[0] === 'auto' ? { ...start.config, classes } : start.config;
  const backend = await chooseBackend(config.backend, config.workers, log);
  log(
    `Backend: ${describeBackend(backend)} (${backend.reason}). Training on ${config.train.join('+')} ` +
      `(${trainSet.size} images), testing on ${config.test.join('+')} (${testSet.size} images).`,
  );

  const tensorsAtStart = tf.memory().numTensors;
  const net: Network = buildNetwork(networkOptions(config, classes.length + 1));
  const optimizer = createOptimizer(config.optimizer, net.params, config);
  const startIteration = await initialiseWeights(
    { net, optimizer, config, resumeFrom, trainSet, metricsFile },
    log,
  );

  const schedule = scheduleOf(config);
  const loader = trainingLoader(trainSet, config, net, classes.length + 1, log);
  made.top = await makeOutFolder(out);
  made.out = out;
  if (!resumeFrom) await startRunFiles(config, metricsFile);

  const { workerEngine, engine } = await startEngines({
    config,
    classes,
    backend,
    net,
    optimizer,
    resumed: resumeFrom !== null,
  });

  const ctrlC = onCtrlC(log);

  const checkpoint = async (iteration: number): Promise<void> => {
    await workerEngine?.pull();
    const state = runState({
      config,
      classes,
      iteration,
      schedulePhase: schedulePhase(iteration, schedule),
      batchesPerEpoch: loader.batchesPerEpoch,
      backend: describeBackend(backend),
    });
    const data = await captureTrainingState(net.weights, optimizer, iteration, state);
    const where = await saveCheckpoint(ckptDir, data, { keep: config.keepCheckpoints });
    await appendJsonl(metricsFile, { type: 'checkpoint', iteration, path: where });
  };

  // @ssd/detect on the network being trained: what `loadSsd` on the exported model gives.
  const detector = createDetector(net.model, { anchorConfig: net.anchors, labels: classes });
  const evaluate = runEvaluator({
    detector,
    checkDevice: backend.throwIfGpuFailed,
    testSet,
    classes,
    config,
    hooks,
    printer,
    log,
  });

  const progress = progressReporter({ config, backend, metricsFile, printer, hooks, log });
  let loopResult;
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
      shouldStop: () => ctrlC.requested() || (hooks.shouldStop?.() ?? false),
      checkpoint,
      evaluate: async (iteration) => {
        await workerEngine?.pull();
        await evaluate(iteration, false);
      },
      onSkip: (r, n) =>
        log(
          `iteration ${r.iteration}: non-finite loss (${r.loss}); batch skipped (${n} in a row): ${r.ids?.join(', ')}`,
        ),
      onIteration: progress.onIteration,
    });
  } finally {
    ctrlC.dispose();
    printer.finish();
    // The main thread's network is what gets evaluated and saved below.
    await workerEngine?.pull().catch(() => undefined);
    await engine.dispose();
  }

  // The model leaves the app at the end and on a stop (Ctrl-C), beside the final checkpoint.
  const modelFolder = await exportModel(net, config, classes, out);
  let summary: Record<string, unknown> | null = null;
  if (!loopResult.stopped) {
    await writeLossCurve(metricsFile, path.join(out, 'loss.png'));
    const { result, seconds } = await evaluate(loopResult.iteration, true);
    await writePrCurves(result, path.join(out, 'pr-curves.png'));
    summary = await writeRunSummary({
      result,
      evalSeconds: seconds,
      loop: loopResult,
      wallSeconds: (performance.now() - wallStart) / 1000,
      generatedSeconds,
      backend,
      images: progress.images,
      dataWait: progress.dataWaitSeconds,
      resumeFrom,
      config,
      numAnchors: net.numAnchors,
      trainImages: trainSet.size,
      testImages: hooks.evalLimit ?? testSet.size,
      classes,
    });
    process.stdout.write(`\n${formatApTable(result)}\n\n`);
    log(
      `Run folder: ${out} (model/, summary.json, metrics.jsonl, loss.png, pr-curves.png, test-images/, checkpoints/)`,
    );
  } else {
    log(
      `Stopped at iteration ${loopResult.iteration}; resume with --resume ${out} (the model so far: ${modelFolder})`,
    );
  }
  detector.dispose();
  optimizer.dispose();
  net.dispose();
  const leaked = tf.memory().numTensors - tensorsAtStart;
  if (leaked !== 0) log(`warning: ${leaked} tensors still allocated after the run`);
  return { outDir: out, iteration: loopResult.iteration, stopped: loopResult.stopped, summary };
}
