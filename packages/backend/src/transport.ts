/**
 * The trainer's side of the conversation with its replicas: one request at a
 * time, one reply each, to a worker thread or (for `workers: 0`) to a replica in
 * this thread. The gradients themselves travel through shared buffers, not
 * messages (see `data-parallel.ts`).
 */
import type { Worker as NodeWorker } from 'node:worker_threads';
import { TrainerError } from './errors';
import type { FromWorker, ToWorker, WorkerInit } from './protocol';
import { createReplicaRunner, type Reply } from './runner';

interface Pending {
  resolve: (message: FromWorker) => void;
  reject: (error: Error) => void;
}

/** What the trainer needs of a replica: one request at a time, one reply each. */
export interface ReplicaHandle {
  next(): Promise<FromWorker>;
  request(message: ToWorker, transfer?: ArrayBuffer[]): Promise<FromWorker>;
  stop(): Promise<unknown>;
}

/** The replica of `workers: 0`, in this thread. */
export class LocalHandle implements ReplicaHandle {
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

export class WorkerHandle implements ReplicaHandle {
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

/** `message`, checked to be of `type`. */
export function expectMessage<T extends FromWorker['type']>(
  message: FromWorker,
  type: T,
): Extract<FromWorker, { type: T }> {
  if (message.type !== type)
    throw new TrainerError(`expected '${type}' from a worker, got '${message.type}'`);
  return message as Extract<FromWorker, { type: T }>;
}

/** The worker script: beside this module in the published build, or the built one from `src/`. */
export async function defaultWorkerUrl(): Promise<URL> {
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
 * Allocates the shared gradient buffers and hands them to every replica: worker
 * `i` writes its gradient into `slots[i]`, and applies the trainer's `average`.
 * @returns `slots`: `[numWorkers]` views of `[numParameters]`; `average`: `[numParameters]`.
 */
export async function shareGradientBuffers(
  handles: readonly ReplicaHandle[],
  numParameters: number,
): Promise<{ slots: Float32Array[]; average: Float32Array }> {
  const gradients = new SharedArrayBuffer(handles.length * numParameters * 4);
  const averageBuffer = new SharedArrayBuffer(numParameters * 4);
  const slots = handles.map(
    (_, i) => new Float32Array(gradients, i * numParameters * 4, numParameters),
  );
  const average = new Float32Array(averageBuffer);
  await Promise.all(
    handles.map((h) => h.request({ type: 'buffers', gradients, average: averageBuffer })),
  );
  return { slots, average };
}
