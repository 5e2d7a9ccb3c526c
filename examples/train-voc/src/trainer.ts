import type { HostBatch } from '@ssd/loader';
import * as tf from '@tensorflow/tfjs-core';
import type { Optimizer } from './optimizer';
import { learningRateAt, schedulePhase, type LrSchedule } from './schedule';

/** The three parts of the MultiBox loss, as numbers. */
export interface LossParts {
  total: number;
  localization: number;
  confidence: number;
  /** Global L2 norm of the gradient; a non-finite norm skips the batch like a non-finite loss. */
  gradNorm?: number;
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
  /**
   * The batches of steps `startIteration`, `startIteration + 1`, … in order, each a
   * pure function of its step (for exact resume): `@ssd/loader`'s
   * `loader.batches({ fromStep: startIteration })`, which prefetches. The loop
   * closes the iterator when it ends.
   */
  readonly batches: AsyncIterable<HostBatch>;
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
  const batches = o.batches[Symbol.asyncIterator]();
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
      const next = await batches.next();
      const t1 = performance.now();
      if (next.done) throw new Error(`the batches ended before iteration ${iteration + 1}`);
      const batch = next.value;
      if (batch.step !== iteration) {
        throw new Error(`the batch of step ${batch.step} arrived for step ${iteration}`);
      }
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
    // Stops the producer's prefetching and waits for its work in flight.
    await batches.return?.();
  }
  return {
    iteration,
    stopped,
    skipped,
    wallSeconds: (performance.now() - start) / 1000,
  };
}

export { schedulePhase };
