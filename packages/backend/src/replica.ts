import type * as tf from '@tensorflow/tfjs-core';

/** What a replica's `loss` may return. */
export type ReplicaLoss =
  | tf.Scalar
  | {
      /**
       * Without `normalizer`: the mean loss over the slice's rows. With it: the
       * un-normalised sum, and the batch objective is Σ loss / Σ normalizer over
       * all workers, normalised once by the trainer (SSD: `@ssd/loss`'s
       * `multiboxLoss` with `reduction: 'sum'` and its `numPositives`).
       */
      loss: tf.Scalar;
      normalizer?: number | tf.Scalar;
      /** Extra scalars to report, combined across workers like the loss. */
      metrics?: Record<string, tf.Scalar>;
    };

/** The layers-model surface a replica may hand over instead of a variable list. */
export interface ReplicaModel {
  trainableWeights: Array<{ read(): tf.Variable }>;
  weights: Array<{ read(): tf.Variable }>;
}

/**
 * One copy of the model, built in every worker by the replica module's
 * `createReplica(options, context)` export.
 */
export interface Replica {
  /** A tfjs-layers model; its trainable weights are trained, all weights synced. */
  model?: ReplicaModel;
  /** Or the variables to train, in an order that is the same in every worker. */
  variables?: tf.Variable[];
  /** Built in every worker; each applies the same averaged gradients. */
  optimizer: tf.Optimizer;
  /**
   * Optional: applies the averaged gradient as the trainer holds it, one flat
   * array, instead of `optimizer.applyGradients` on one tensor per variable. An
   * optimizer over flat buffers then updates every variable in a few ops.
   * @param gradient `[numParameters]`: every trainable variable's gradient end to
   *   end, in variable order; a view of the trainer's shared buffer, valid only
   *   during the call (copy what you keep).
   * @param learningRate This step's rate, or undefined to keep the current one.
   */
  applyFlatGradients?(gradient: Float32Array, learningRate: number | undefined): void;
  /**
   * Forward pass and loss on this worker's slice of the batch, run under the
   * gradient tape. `batch` has the trainer's arrays as tensors of their `dtype`
   * (default: Float32Array → float32, Int32Array/Uint8Array → int32), first
   * dimension sliced.
   */
  loss(batch: Record<string, tf.Tensor>): ReplicaLoss;
}

/** Passed to `createReplica` next to the user's options. */
export interface ReplicaContext {
  workerIndex: number;
  numWorkers: number;
  /** The backend the worker selected (`wasm` by default). */
  backend: string;
}

/** The export a replica module provides. */
export type CreateReplica = (
  options: unknown,
  context: ReplicaContext,
) => Replica | Promise<Replica>;
