import type { Worker as NodeWorker } from 'node:worker_threads';
import { TrainerError } from './errors';
import { createReplicaRunner, type Reply } from './runner';
import type {
  BatchArray,
  FromWorker,
  NamedWeight,
  ToWorker,
  TrainingBatch,
  VariableSpec,
  WorkerInit,
} from './protocol';

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

interface Pending {
  resolve: (message: FromWorker) => void;
  reject: (error: Error) => void;
}

/** What the trainer needs of a replica: one request at a time, one reply each. */
interface ReplicaHandle {
  next(): Promise<FromWorker>;
  request(message: ToWorker, transfer?: ArrayBuffer[]): Promise<FromWorker>;
  stop(): Promise<unknown>;
}

/** The replica of `workers: 0`, in this thread. */
class LocalHandle implements ReplicaHandle {
  private constructor(
    private readonly ready: FromWorker,
    private readonly handle: (message: ToWorker) => Promise<Reply>,
    private readonly disposeReplica: () => void,
  ) {}

  static async create(init: WorkerInit): Promise<LocalHandle> {
    const { ready, handle, dispose } = await createReplicaRunner(init);
    return new LocalHandle(ready, handle, dispose);
  }

  next(): Promise<FromWorker> {
    return Promise.resolve(this.ready);
  }

  async request(message: ToWorker): Promise<FromWorker> {
    try {
      return (await this.handle(message)).message;
    } catch (error) {
      throw new TrainerError(`replica: ${(error as Error)?.message ?? String(error)}`, 0);
    }
  }

  /** Frees the replica's model and optimizer (workers free theirs by exiting). */
  stop(): Promise<unknown> {
    this.disposeReplica();
    return Promise.resolve();
  }
}

class WorkerHandle implements ReplicaHandle {
  private pending: Pending | null = null;
  private failure: Error | null = null;
  private readonly queued: FromWorker[] = [];

  constructor(
    readonly worker: NodeWorker,
    readonly index: number,
  ) {
    worker.on('message', (message: FromWorker) => {
      const p = this.pending;
      this.pending = null;
      if (message.type === 'error') {
        const error = new TrainerError(`worker ${index}: ${message.message}`, index);
        if (message.stack) error.stack = message.stack;
        if (p) p.reject(error);
        else this.failure = error;
      } else if (p) {
        p.resolve(message);
      } else {
        this.queued.push(message);
      }
    });
    worker.on('error', (error) =>
      this.fail(new TrainerError(`worker ${index}: ${error.message}`, index)),
    );
    worker.on('exit', (code) => {
      this.fail(new TrainerError(`worker ${index} exited (code ${code})`, index));
    });
  }

  private fail(error: Error): void {
    this.failure ??= error;
    const p = this.pending;
    this.pending = null;
    p?.reject(error);
  }

  /** Waits for the next message (the first one, `ready`, is sent unprompted). */
  next(): Promise<FromWorker> {
    const queued = this.queued.shift();
    if (queued) return Promise.resolve(queued);
    if (this.failure) return Promise.reject(this.failure);
    return new Promise((resolve, reject) => {
      this.pending = { resolve, reject };
    });
  }

  request(message: ToWorker, transfer: ArrayBuffer[] = []): Promise<FromWorker> {
    const reply = this.next();
    if (!this.failure) this.worker.postMessage(message, transfer);
    return reply;
  }

  stop(): Promise<unknown> {
    return this.worker.terminate();
  }
}

function expect<T extends FromWorker['type']>(
  message: FromWorker,
  type: T,
): Extract<FromWorker, { type: T }> {
  if (message.type !== type)
    throw new TrainerError(`expected '${type}' from a worker, got '${message.type}'`);
  return message as Extract<FromWorker, { type: T }>;
}

function sameSpecs(a: VariableSpec[], b: VariableSpec[]): boolean {
  return a.length === b.length && a.every((v, i) => v.shape.join() === b[i]?.shape.join());
}

/** Rows of each worker: contiguous, sizes differing by at most one. */
function splitRows(rows: number, workers: number): Array<[number, number]> {
  const out: Array<[number, number]> = [];
  let start = 0;
  for (let w = 0; w < workers; w++) {
    const size = Math.floor(rows / workers) + (w < rows % workers ? 1 : 0);
    out.push([start, start + size]);
    start += size;
  }
  return out;
}

function validateBatch(batch: TrainingBatch): number {
  const entries = Object.entries(batch);
  if (entries.length === 0) throw new TrainerError('step: the batch has no arrays');
  let rows = -1;
  for (const [name, array] of entries) {
    const { data, shape } = array as BatchArray;
    if (
      !(data instanceof Float32Array || data instanceof Int32Array || data instanceof Uint8Array)
    ) {
      throw new TrainerError(
        `step: batch.${name}.data must be a Float32Array, Int32Array or Uint8Array`,
      );
    }
    const size = shape.reduce((a, b) => a * b, 1);
    if (shape.length === 0 || size !== data.length) {
      throw new TrainerError(
        `step: batch.${name} has shape [${shape}] (${size} values) but ${data.length} values`,
      );
    }
    if (rows >= 0 && shape[0] !== rows) {
      throw new TrainerError(`step: batch.${name} has ${shape[0]} rows, other arrays have ${rows}`);
    }
    rows = shape[0] as number;
  }
  if (rows === 0) throw new TrainerError('step: the batch has 0 rows');
  return rows;
}

function sliceBatch(batch: TrainingBatch, start: number, end: number): TrainingBatch {
  const out: TrainingBatch = {};
  for (const [name, { data, shape }] of Object.entries(batch)) {
    const rowSize = data.length / (shape[0] as number);
    out[name] = {
      data: data.slice(start * rowSize, end * rowSize),
      shape: [end - start, ...shape.slice(1)],
    };
  }
  return out;
}

async function defaultWorkerUrl(): Promise<URL> {
  const { existsSync } = await import('node:fs');
  const { fileURLToPath } = await import('node:url');
  // Beside this module in the published build; from src/ (tests) the built one.
  const candidates = [
    new URL('./worker.js', import.meta.url),
    new URL('../dist/worker.js', import.meta.url),
  ];
  for (const url of candidates) {
    if (url.protocol === 'file:' && existsSync(fileURLToPath(url))) return url;
  }
  throw new TrainerError(
    `cannot find the @ssd/backend worker script (looked for ${candidates.map(String).join(', ')}); build the package or pass workerUrl`,
  );
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
    const ready = (await Promise.all(handles.map((h) => h.next()))).map((m) => expect(m, 'ready'));
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
    const gradients = new SharedArrayBuffer(numWorkers * numParameters * 4);
    const averageBuffer = new SharedArrayBuffer(numParameters * 4);
    const slots = handles.map(
      (_, i) => new Float32Array(gradients, i * numParameters * 4, numParameters),
    );
    const average = new Float32Array(averageBuffer);
    await Promise.all(
      handles.map((h) => h.request({ type: 'buffers', gradients, average: averageBuffer })),
    );

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
      return expect(await handle.request({ type: 'getWeights' }), 'weights').weights;
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
              results.push({ worker: i, rows: end - start, reply: expect(reply, 'stepped') });
          });
          const summed = results.every((r) => r.reply.normalizer != null);
          if (!summed && results.some((r) => r.reply.normalizer != null)) {
            throw new TrainerError('replicas disagree: some return a normalizer, some do not');
          }
          // Batch objective: Σ_w rows_w·mean_w / rows, or Σ_w sum_w / Σ_w normalizer_w.
          const totalWeight = results.reduce(
            (a, r) => a + (summed ? (r.reply.normalizer as number) : r.rows),
            0,
          );
          const denominator = totalWeight > 0 ? totalWeight : 1;
          const coefficients = results.map((r) => (summed ? 1 : r.rows) / denominator);
          const first = results[0]!;
          const firstSlot = slots[first.worker]!;
          const c0 = coefficients[0]!;
          for (let j = 0; j < numParameters; j++) average[j] = c0 * (firstSlot[j] as number);
          for (let k = 1; k < results.length; k++) {
            const slot = slots[results[k]!.worker]!;
            const c = coefficients[k]!;
            for (let j = 0; j < numParameters; j++) average[j] += c * (slot[j] as number);
          }
          pending = true;
          pendingLearningRate = stepOptions.learningRate;
          const metrics: Record<string, number> = {};
          for (const name of Object.keys(first.reply.metrics)) {
            metrics[name] = results.reduce(
              (a, r, k) => a + coefficients[k]! * (r.reply.metrics[name] ?? 0),
              0,
            );
          }
          return {
            loss: results.reduce((a, r, k) => a + coefficients[k]! * r.reply.loss, 0),
            metrics,
            normalizer: totalWeight,
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
