/** Messages between a {@link DataParallelTrainer} and its workers (internal). */

/** A typed array with its shape; the first dimension is the batch. */
export interface BatchArray {
  data: Float32Array | Int32Array | Uint8Array;
  shape: number[];
}

/** A training batch: named arrays that share their first (batch) dimension. */
export type TrainingBatch = Record<string, BatchArray>;

/** Weights by name and shape, in the replica's variable order. */
export interface NamedWeight {
  name: string;
  shape: number[];
  data: Float32Array;
}

export interface VariableSpec {
  name: string;
  shape: number[];
  size: number;
}

export interface WorkerInit {
  moduleUrl: string;
  replicaOptions: unknown;
  backend: string;
  workerIndex: number;
  numWorkers: number;
}

export type ToWorker =
  | { type: 'buffers'; gradients: SharedArrayBuffer; average: SharedArrayBuffer }
  | {
      type: 'step';
      /** Apply the averaged gradients in `average` first (the previous step's update). */
      apply: boolean;
      learningRate: number | undefined;
      /** This worker's slice, or null when the batch has fewer rows than workers. */
      batch: TrainingBatch | null;
    }
  | { type: 'apply'; learningRate: number | undefined }
  | { type: 'getWeights' }
  | { type: 'setWeights'; weights: NamedWeight[] };

export type FromWorker =
  | { type: 'ready'; trainable: VariableSpec[]; all: VariableSpec[]; backend: string }
  | {
      type: 'stepped';
      /** The slice's loss value. */
      loss: number;
      /** null: `loss` is a mean over the slice's rows; else the sum's normalizer. */
      normalizer: number | null;
      metrics: Record<string, number>;
    }
  | { type: 'done' }
  | { type: 'weights'; weights: NamedWeight[] }
  | { type: 'error'; message: string; stack?: string };
