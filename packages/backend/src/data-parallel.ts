import { averageGradients, combineScalars, combineWeights } from './averaging';
import { TrainerError } from './errors';
import type { FromWorker, NamedWeight, TrainingBatch, VariableSpec, WorkerInit } from './protocol';
import { sliceBatch, splitRows, validateBatch } from './slicing';
import {
  LocalHandle,
  WorkerHandle,
  defaultWorkerUrl,
  expectMessage,
  shareGradientBuffers,
  type ReplicaHandle,
} from './transport';

/** Options of {@link createDataParallelTrainer}. */
export interface DataParallelTrainerOptions {
  /**
   * The replica module, as an absolute path or `file:` URL. It must export
   * `createReplica(options, context) → Replica` (model or variables, optimizer,
   * loss); every worker imports it and builds its own copy. It must register
   * the gradients it needs (importing `@tensorflow/tfjs-layers` does).
   */
  replicaModule: string | URL;
  /** Structured-cloneable options handed to `createReplica` in every worker. */
  replicaOptions?: unknown;
  /**
   * Worker threads, each with its own backend (default: available cores). `0`
   * runs the one replica in this thread on the backend already active (for
   * tfjs-node / GPU, which are multi-threaded themselves), same API and results.
   */
  workers?: number;
  /**
   * Backend every worker selects (default `wasm`, whose Node build is
   * single-threaded). With `workers: 0` the default is `current`: whatever
   * `selectBackend` (or `tf.setBackend`) made active.
   */
  backend?: 'wasm' | 'cpu' | 'tensorflow' | 'auto' | 'current';
  /**
   * Threads of each worker's wasm backend (default 1): convolutions (this
   * package's GEMM) and XNNPACK's matrix products split over them (see
   * `enableWasmThreads`). With fewer workers
   * than cores, the per-step work that each replica pays once (tfjs dispatch, the
   * optimizer) is paid fewer times. Weights are the same bits for any thread count;
   * they depend on `workers`. Ignored by other backends and by `workers: 0` (the
   * calling thread's backend is already initialised).
   */
  threadsPerWorker?: number;
  /** Where the worker script lives (default: `worker.js` beside this module). */
  workerUrl?: string | URL;
}

/** Options of one {@link DataParallelTrainer.step}. */
export interface StepOptions {
  /** Learning rate of this step's update (default: whatever the optimizer has). */
  learningRate?: number;
}

/** What one step reports; the same numbers one process would get for the whole batch. */
export interface StepResult {
  /** The batch loss: mean over rows, or Σ loss / Σ normalizer when replicas give normalizers. */
  loss: number;
  /** The replicas' metrics, combined like the loss. */
  metrics: Record<string, number>;
  /** Σ normalizer over workers (rows when replicas give none). */
  normalizer: number;
}

/**
 * Synchronous data-parallel training on worker threads. Each step splits the
 * batch's rows over the workers, each worker computes gradients of its slice on
 * its own backend into a shared buffer, the main thread averages them with the
 * weights that make the result equal to the whole batch's gradient, and every
 * worker applies the same averaged gradients with its own (identical)
 * optimizer, so the replicas stay bit-identical.
 */
export interface DataParallelTrainer {
  /** Replicas (1 for `workers: 0`, which runs in the calling thread). */
  readonly numWorkers: number;
  /** The backend the workers run on. */
  readonly backend: string;
  /** Threads of each worker's wasm backend (1 on other backends). */
  readonly threadsPerWorker: number;
  /** Trainable variables, in replica order. */
  readonly variables: readonly VariableSpec[];
  /** Number of trainable parameters. */
  readonly numParameters: number;
  /** One optimisation step on `batch` (typed arrays; first dimension is the batch). */
  step(batch: TrainingBatch, options?: StepOptions): Promise<StepResult>;
  /** All weights of a replica (default worker 0) after applying any pending update. */
  getWeights(workerIndex?: number): Promise<NamedWeight[]>;
  /** Sets every replica's weights (same order and shapes as {@link getWeights}). */
  setWeights(weights: NamedWeight[]): Promise<void>;
  /** Applies any pending update and stops the workers. */
  dispose(): Promise<void>;
}

function sameSpecs(a: VariableSpec[], b: VariableSpec[]): boolean {
  return a.length === b.length && a.every((v, i) => v.shape.join() === b[i]?.shape.join());
}

/**
 * Starts `workers` worker threads, builds a replica in each from
 * `replicaModule`, and gives every replica worker 0's initial weights.
 *
 * @example
 * const trainer = await createDataParallelTrainer({
 *   replicaModule: new URL('./replica.mjs', import.meta.url),
 *   replicaOptions: { numClasses: 21 },
 *   workers: 2,
 * });
 * const { loss } = await trainer.step({
 *   images: { data: images, shape: [8, 300, 300, 3] },
 *   labels: { data: labels, shape: [8, 8732] },
 * }, { learningRate: 1e-3 });
 * await trainer.dispose();
 */
export async function createDataParallelTrainer(
  options: DataParallelTrainerOptions,
): Promise<DataParallelTrainer> {
  const { Worker } = await import('node:worker_threads');
  const os = await import('node:os');
  const { pathToFileURL } = await import('node:url');
  const path = await import('node:path');

  const requested =
    options.workers ??
    (typeof os.availableParallelism === 'function' ? os.availableParallelism() : os.cpus().length);
  if (!Number.isInteger(requested) || requested < 0) {
    throw new TrainerError(`workers must be a non-negative integer, got ${requested}`);
  }
  const threads = options.threadsPerWorker ?? 1;
  if (!Number.isInteger(threads) || threads < 1) {
    throw new TrainerError(`threadsPerWorker must be a positive integer, got ${threads}`);
  }
  const inThread = requested === 0;
  const numWorkers = Math.max(requested, 1);
  const module = options.replicaModule;
  const moduleUrl =
    module instanceof URL
      ? module.href
      : module.startsWith('file:')
        ? module
        : pathToFileURL(path.resolve(module)).href;
  const handles: ReplicaHandle[] = [];
  const init = (workerIndex: number): WorkerInit => ({
    moduleUrl,
    replicaOptions: options.replicaOptions,
    backend: options.backend ?? (inThread ? 'current' : 'wasm'),
    workerIndex,
    numWorkers,
    wasmThreads: threads,
  });
  if (inThread) {
    handles.push(await LocalHandle.create(init(0)));
  } else {
    const workerUrl = options.workerUrl ?? (await defaultWorkerUrl());
    for (let i = 0; i < numWorkers; i++) {
      handles.push(new WorkerHandle(new Worker(workerUrl, { workerData: init(i) }), i));
    }
  }
  const stopAll = () => Promise.all(handles.map((h) => h.stop()));

  try {
    const ready = (await Promise.all(handles.map((h) => h.next()))).map((m) =>
      expectMessage(m, 'ready'),
    );
    const first = ready[0]!;
    ready.forEach((r, i) => {
      if (!sameSpecs(r.trainable, first.trainable) || !sameSpecs(r.all, first.all)) {
        throw new TrainerError(
          `worker ${i} built a replica whose variables differ from worker 0's`,
          i,
        );
      }
    });
    const numParameters = first.trainable.reduce((a, v) => a + v.size, 0);
    const { slots, average } = await shareGradientBuffers(handles, numParameters);

    let pending = false;
    let pendingLearningRate: number | undefined;
    let disposed = false;
    let busy: Promise<unknown> = Promise.resolve();
    /** Runs `task` after every earlier call, so messages to workers never interleave. */
    const serial = <T>(task: () => Promise<T>): Promise<T> => {
      if (disposed) return Promise.reject(new TrainerError('the trainer has been disposed'));
      const result = busy.then(task);
      busy = result.catch(() => undefined);
      return result;
    };
    const flush = async () => {
      if (!pending) return;
      await Promise.all(
        handles.map((h) => h.request({ type: 'apply', learningRate: pendingLearningRate })),
      );
      pending = false;
    };
    const weightsOf = async (index: number) => {
      const handle = handles[index];
      if (handle == null) throw new TrainerError(`no worker ${index} (there are ${numWorkers})`);
      return expectMessage(await handle.request({ type: 'getWeights' }), 'weights').weights;
    };

    // Every replica starts from worker 0's weights.
    if (numWorkers > 1) {
      const initial = await weightsOf(0);
      await Promise.all(
        handles.slice(1).map((h) => h.request({ type: 'setWeights', weights: initial })),
      );
    }

    const trainer: DataParallelTrainer = {
      numWorkers,
      backend: first.backend,
      threadsPerWorker: first.threads,
      variables: first.trainable,
      numParameters,
      step: (batch, stepOptions = {}) =>
        serial(async () => {
          const rows = validateBatch(batch);
          const ranges = splitRows(rows, numWorkers);
          const replies = await Promise.all(
            handles.map((h, i) => {
              const [start, end] = ranges[i]!;
              const slice = end > start ? sliceBatch(batch, start, end) : null;
              const transfer = slice
                ? Object.values(slice).map((a) => a.data.buffer as ArrayBuffer)
                : [];
              return h.request(
                { type: 'step', apply: pending, learningRate: pendingLearningRate, batch: slice },
                transfer,
              );
            }),
          );
          pending = false;
          const results: Array<{
            worker: number;
            rows: number;
            reply: Extract<FromWorker, { type: 'stepped' }>;
          }> = [];
          replies.forEach((reply, i) => {
            const [start, end] = ranges[i]!;
            if (end > start)
              results.push({
                worker: i,
                rows: end - start,
                reply: expectMessage(reply, 'stepped'),
              });
          });
          const { coefficients, total } = combineWeights(
            results.map((r) => ({ rows: r.rows, normalizer: r.reply.normalizer })),
          );
          averageGradients(
            results.map((r) => slots[r.worker]!),
            coefficients,
            average,
          );
          pending = true;
          pendingLearningRate = stepOptions.learningRate;
          const metrics: Record<string, number> = {};
          for (const name of Object.keys(results[0]!.reply.metrics)) {
            metrics[name] = combineScalars(
              results.map((r) => r.reply.metrics[name] ?? 0),
              coefficients,
            );
          }
          return {
            loss: combineScalars(
              results.map((r) => r.reply.loss),
              coefficients,
            ),
            metrics,
            normalizer: total,
          };
        }),
      getWeights: (workerIndex = 0) =>
        serial(async () => {
          await flush();
          return weightsOf(workerIndex);
        }),
      setWeights: (weights) =>
        serial(async () => {
          await flush();
          const expected = first.all;
          if (weights.length !== expected.length) {
            throw new TrainerError(
              `setWeights: expected ${expected.length} weights, got ${weights.length}`,
            );
          }
          weights.forEach((w, i) => {
            const spec = expected[i]!;
            if (w.shape.join() !== spec.shape.join() || w.data.length !== spec.size) {
              throw new TrainerError(
                `setWeights: weight ${i} (${spec.name}) must have shape [${spec.shape}], got [${w.shape}] with ${w.data.length} values`,
              );
            }
          });
          await Promise.all(handles.map((h) => h.request({ type: 'setWeights', weights })));
        }),
      dispose: async () => {
        if (disposed) return;
        await serial(flush).catch(() => undefined);
        disposed = true;
        await stopAll();
      },
    };
    return trainer;
  } catch (error) {
    await stopAll();
    throw error;
  }
}
