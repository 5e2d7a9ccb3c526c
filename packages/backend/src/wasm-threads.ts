/**
 * Multi-threaded wasm in Node: tfjs-backend-wasm 4.22 ships a threaded SIMD build
 * (XNNPACK on a pthreadpool of Web Workers) but never loads it in Node (tfjs#3830).
 * {@link enableWasmThreads} makes the next wasm initialisation load it on
 * `worker_threads`.
 */
import os from 'node:os';
import { fileURLToPath } from 'node:url';
import * as tf from '@tensorflow/tfjs-core';
import { BackendUnavailableError } from './errors';
import { nodeGemmHelpers } from './gemm-helpers';
import { setGemmHelpers } from './kernels/gemm';

const WASM = '@tensorflow/tfjs-backend-wasm';
/** tfjs's wasm build starts 8 pthread workers up front; its thread pool takes no more. */
export const MAX_WASM_THREADS = 8;

interface WasmModule {
  setThreadsCount(count: number): void;
  getThreadsCount(): number;
}

interface PthreadWorker {
  unref(): void;
  terminate(): Promise<number>;
}

interface WasmBackendInternals {
  wasm?: { PThread?: { unusedWorkers: PthreadWorker[]; runningWorkers: PthreadWorker[] } };
}

const workerScript = fileURLToPath(new URL('./wasm-pthread-worker.cjs', import.meta.url));

let enabled: number | undefined;

/**
 * Makes the wasm backend, when it next initialises in this thread, run
 * convolutions and matrix products on `threads` threads (default: every core,
 * `os.availableParallelism()`, at most 8). Call it before `selectBackend` or
 * `tf.setBackend('wasm')`; the count holds for the life of the backend.
 *
 * Node only (`@ssd/backend/node`). In a browser tfjs picks the threaded build
 * itself when the page is cross-origin isolated, and `setThreadsCount` from
 * `@tensorflow/tfjs-backend-wasm` sets the count.
 *
 * This package's convolutions (its GEMM) split their output rows with `threads − 1`
 * helper `worker_threads` of their own on the shared memory. Each thread computes
 * whole output tiles, so results are the same bits for any thread count.
 * `threads: 1` leaves the single-threaded build in place. Elementwise ops,
 * reductions and the other heap kernels stay on the calling thread: a training
 * step gains less than a large convolution (see the README).
 *
 * @returns the thread count the backend will use.
 * @throws BackendUnavailableError when the wasm package is missing; Error when the
 *   backend is already initialised in this thread on another thread count.
 */
export async function enableWasmThreads(
  threads: number = Math.min(
    // availableParallelism: Node ≥ 18.14.
    os.availableParallelism?.() ?? os.cpus().length,
    MAX_WASM_THREADS,
  ),
): Promise<number> {
  if (!Number.isInteger(threads) || threads < 1 || threads > MAX_WASM_THREADS) {
    throw new RangeError(
      `enableWasmThreads: threads must be an integer from 1 to ${MAX_WASM_THREADS}, got ${threads}`,
    );
  }
  let mod: WasmModule;
  try {
    mod = (await import(/* @vite-ignore */ WASM)) as WasmModule;
  } catch (error) {
    throw new BackendUnavailableError(
      'wasm',
      [{ backend: 'wasm', package: WASM, reason: `failed to load: ${String(error)}` }],
      `npm i ${WASM}@4.22.0`,
    );
  }
  if (enabled != null) {
    if (enabled !== threads) {
      throw new RangeError(`enableWasmThreads: already enabled with ${enabled} threads`);
    }
    return threads;
  }
  const factory = tf.findBackendFactory('wasm');
  if (factory == null) {
    const reason =
      'loaded, but registered no `wasm` backend with this copy of @tensorflow/tfjs-core';
    throw new BackendUnavailableError(
      'wasm',
      [{ backend: 'wasm', package: WASM, reason }],
      `npm i ${WASM}@4.22.0`,
    );
  }
  // Not tf.findBackend: it would start initialising the backend.
  if ('wasm' in (tf.engine() as unknown as { registry: object }).registry) {
    const running = mod.getThreadsCount();
    if (running === threads) return threads;
    throw new Error(
      `enableWasmThreads(${threads}): the wasm backend is already initialised in this thread, ` +
        `on ${running} thread${running === 1 ? '' : 's'}; call enableWasmThreads before it is`,
    );
  }
  if (threads === 1) return 1;
  enabled = threads;
  // This package's GEMM (the convolutions) splits its rows with threads of its own.
  setGemmHelpers(nodeGemmHelpers(threads - 1));
  tf.env().set('WASM_HAS_MULTITHREAD_SUPPORT', true);
  mod.setThreadsCount(threads);
  tf.removeBackend('wasm');
  tf.registerBackend('wasm', () => initialiseThreaded(factory, threads), 2);
  return threads;
}

/** Threads of the wasm backend already initialised in this thread. */
export async function wasmThreadsInUse(): Promise<number> {
  return ((await import(/* @vite-ignore */ WASM)) as WasmModule).getThreadsCount();
}

/**
 * Runs tfjs's own wasm initialisation with two things of Node's changed for its
 * duration: the pthread worker's Blob URL becomes this package's worker script, and
 * `os.cpus()` lists enough cores for the thread count (the C side caps the pool at
 * half the logical cores it sees).
 */
async function initialiseThreaded(
  factory: () => tf.KernelBackend | Promise<tf.KernelBackend>,
  threads: number,
): Promise<tf.KernelBackend> {
  const createObjectURL = URL.createObjectURL;
  const cpus = os.cpus;
  URL.createObjectURL = (object: Blob) =>
    object instanceof Blob && object.type === 'application/javascript'
      ? workerScript
      : createObjectURL.call(URL, object);
  os.cpus = () => {
    const real = cpus();
    const n = Math.max(real.length, 2 * threads);
    return Array.from({ length: n }, (_, i) => real[i % real.length]!);
  };
  try {
    const backend = await factory();
    const pthread = (backend as unknown as WasmBackendInternals).wasm?.PThread;
    // Emscripten starts 8 pthread workers up front; XNNPACK's pool has taken the ones
    // it runs on (tfjs starts no other threads), so the rest only hold memory.
    for (const worker of pthread?.unusedWorkers.splice(0) ?? []) void worker.terminate();
    // The pool's workers would keep the process alive after the work is done.
    for (const worker of pthread?.runningWorkers ?? []) worker.unref();
    return backend;
  } finally {
    URL.createObjectURL = createObjectURL;
    os.cpus = cpus;
  }
}
