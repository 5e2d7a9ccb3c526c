import * as tf from '@tensorflow/tfjs-core';
import type { Optimizer } from './optimizer';
import { Prefetcher } from './prefetch';
import { learningRateAt, schedulePhase, type LrSchedule } from './schedule';

/** The three parts of the MultiBox loss, as numbers. */
export interface LossParts {
  total: number;
  localization: number;
  confidence: number;
  /** Global L2 norm of the gradient; a non-finite norm skips the batch like a non-finite loss. */
  gradNorm?: number;
}

/** One training batch on the host (typed arrays; tensors are made by the engine). */
export interface HostBatch {
  readonly step: number;
  readonly ids: readonly string[];
  readonly batchSize: number;
  readonly inputSize: number;
  /** `[batch, inputSize, inputSize, 3]` RGB 0–255 (not yet preprocessed). */
  readonly images: Uint8Array | Float32Array;
  readonly numAnchors: number;
  /** `[batch, numAnchors, 4]` encoded offsets. */
  readonly locTargets: Float32Array;
  /** `[batch, numAnchors]` 0 background, 1..C, −1 ignored. */
  readonly labels: Int32Array;
}

/** Computes loss and gradients for a batch at the current weights. */
export interface GradientEngine {
  /** Gradients are one per trainable parameter, in parameter order; the caller disposes them. */
  compute(
    batch: HostBatch,
    learningRate?: number,
  ): Promise<{ loss: LossParts; grads: tf.Tensor[] }>;
  /** True when `compute` also applies the update at `learningRate` (worker engines); `grads` is then empty. */
  readonly appliesUpdates?: boolean;
  /** Called after each optimizer update (a worker engine sends the new weights). */
  weightsChanged?(): Promise<void>;
  dispose(): Promise<void> | void;
}

/** Too many consecutive non-finite losses: the run stops (no checkpoint from that state). */
export class NonFiniteLossError extends Error {
  override readonly name = 'NonFiniteLossError';
  constructor(
    readonly iteration: number,
    readonly count: number,
    readonly ids: readonly string[],
  ) {
    super(
      `${count} consecutive batches had a non-finite loss (last at iteration ${iteration}, images ${ids.join(', ')}). ` +
        `The run stops here; the last checkpoint is intact. Lower --lr, add --warmup, or check those images.`,
    );
  }
}

export interface IterationRecord {
  iteration: number;
  loss: number;
  localization: number;
  confidence: number;
  gradNorm?: number;
  lr: number;
  images: number;
  stepSeconds: number;
  dataWaitSeconds: number;
  skipped?: boolean;
  ids?: readonly string[];
}

export interface TrainLoopOptions {
  readonly engine: GradientEngine;
  readonly optimizer: Optimizer;
  readonly schedule: LrSchedule;
  /** Produces batch `step`; must be a pure function of the step (for exact resume). */
  readonly produceBatch: (step: number) => Promise<HostBatch>;
  readonly prefetch: number;
  /** First iteration to run (0, or the checkpoint's iteration on resume). */
  readonly startIteration: number;
  readonly iterations: number;
  readonly checkpointEvery: number;
  readonly evalEvery: number;
  readonly maxNonFinite: number;
  /** Polled between iterations; true stops after a final checkpoint (Ctrl-C). */
  readonly shouldStop: () => boolean;
  /** `iteration` = number of completed updates (the next step to run). */
  readonly checkpoint: (iteration: number) => Promise<void>;
  readonly evaluate?: (iteration: number) => Promise<void>;
  readonly onIteration: (record: IterationRecord, stats: LoopStats) => Promise<void> | void;
  readonly onSkip?: (record: IterationRecord, consecutive: number) => void;
}

export interface LoopStats {
  readonly elapsedSeconds: number;
  readonly iterationsThisRun: number;
  readonly imagesThisRun: number;
  readonly dataWaitSeconds: number;
}

export interface TrainLoopResult {
  /** Completed iterations (the last step + 1, or where Ctrl-C stopped it). */
  readonly iteration: number;
  readonly stopped: boolean;
  readonly skipped: number;
  readonly wallSeconds: number;
}

function finite(l: LossParts): boolean {
  return (
    Number.isFinite(l.total) &&
    Number.isFinite(l.localization) &&
    Number.isFinite(l.confidence) &&
    (l.gradNorm === undefined || Number.isFinite(l.gradNorm))
  );
}

/**
 * The training loop: fetch (prefetched) batch → gradients → finite check →
 * optimizer update at the scheduled rate → log → periodic checkpoint / eval.
 * A batch with a non-finite loss is skipped (no update) and its ids reported;
 * `maxNonFinite` in a row throw {@link NonFiniteLossError}.
 */
export async function trainLoop(o: TrainLoopOptions): Promise<TrainLoopResult> {
  const start = performance.now();
  const prefetcher = new Prefetcher(o.produceBatch, o.prefetch, o.iterations);
  let dataWait = 0;
  let images = 0;
  let consecutive = 0;
  let skipped = 0;
  let iteration = o.startIteration;
  let stopped = false;
  try {
    while (iteration < o.iterations) {
      if (o.shouldStop()) {
        stopped = true;
        break;
      }
      const t0 = performance.now();
      const batch = await prefetcher.get(iteration);
      const t1 = performance.now();
      dataWait += (t1 - t0) / 1000;
      const lr = learningRateAt(iteration, o.schedule);
      const { loss, grads } = await o.engine.compute(batch, lr);
      const record: IterationRecord = {
        iteration: iteration + 1,
        loss: loss.total,
        localization: loss.localization,
        confidence: loss.confidence,
        ...(loss.gradNorm === undefined ? {} : { gradNorm: loss.gradNorm }),
        lr,
        images: batch.batchSize,
        stepSeconds: 0,
        dataWaitSeconds: (t1 - t0) / 1000,
      };
      if (finite(loss)) {
        if (!o.engine.appliesUpdates) o.optimizer.apply(grads, lr);
        tf.dispose(grads);
        await o.engine.weightsChanged?.();
        consecutive = 0;
      } else {
        tf.dispose(grads);
        consecutive++;
        skipped++;
        record.skipped = true;
        record.ids = batch.ids;
        o.onSkip?.(record, consecutive);
        if (consecutive >= o.maxNonFinite) {
          throw new NonFiniteLossError(iteration + 1, consecutive, batch.ids);
        }
      }
      iteration++;
      images += batch.batchSize;
      record.stepSeconds = (performance.now() - t0) / 1000;
      await o.onIteration(record, {
        elapsedSeconds: (performance.now() - start) / 1000,
        iterationsThisRun: iteration - o.startIteration,
        imagesThisRun: images,
        dataWaitSeconds: dataWait,
      });
      // A checkpoint right after a skipped batch would still hold finite weights
      // (nothing was applied), but the issue asks for none from a non-finite state.
      if (consecutive === 0 && o.checkpointEvery > 0 && iteration % o.checkpointEvery === 0) {
        await o.checkpoint(iteration);
      }
      if (
        o.evaluate &&
        o.evalEvery > 0 &&
        iteration % o.evalEvery === 0 &&
        iteration < o.iterations
      ) {
        await o.evaluate(iteration);
      }
    }
    if (consecutive === 0 && !(o.checkpointEvery > 0 && iteration % o.checkpointEvery === 0)) {
      await o.checkpoint(iteration);
    }
  } finally {
    await prefetcher.drain();
  }
  return {
    iteration,
    stopped,
    skipped,
    wallSeconds: (performance.now() - start) / 1000,
  };
}

export { schedulePhase };
