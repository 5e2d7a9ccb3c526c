/** Messages between a {@link DataParallelTrainer} and its workers (internal). */

/** A typed array with its shape; the first dimension is the batch. */
export interface BatchArray {
  data: Float32Array | Int32Array | Uint8Array;
  shape: number[];
  /**
   * The dtype of the tensor the replica receives. Default: float32 for a
   * Float32Array, int32 for an Int32Array or Uint8Array. `'float32'` on a
   * Uint8Array (8-bit pixels) sends the bytes as they are and converts them
   * once, in the worker; `'int32'` is only for integer arrays.
   */
  dtype?: 'float32' | 'int32';
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
  /** Threads of the worker's wasm backend (`enableWasmThreads`); 1 leaves it single-threaded. */
  wasmThreads?: number;
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
  | {
      type: 'ready';
      trainable: VariableSpec[];
      all: VariableSpec[];
      backend: string;
      /** Threads of a wasm backend's kernels (1 on the others). */
      threads: number;
    }
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
