import * as os from 'node:os';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import '@tensorflow/tfjs-backend-wasm';
import { BackendUnavailableError, adapterName, selectBackend, type GpuError } from '@ssd/backend';
import { enableWasmThreads, MAX_WASM_THREADS } from '@ssd/backend/node';
import type { BackendPreference } from './config';
import { UsageError } from './flags';

/**
 * tfjs-backend-wasm 4.22's `OneHot` ignores `dtype: 'float32'` and writes int32
 * bits into a float32 tensor (1 reads as 1.4e-45), which silently zeroes a
 * cross-entropy built on `tf.oneHot(..., 'float32')`. This wraps the stock
 * kernel: int32 one-hot, then `Cast`. Idempotent.
 */
let oneHotPatched = false;
export function patchWasmOneHot(): void {
  if (oneHotPatched) return;
  const stock = tf.getKernel('OneHot', 'wasm');
  const cast = tf.getKernel('Cast', 'wasm');
  if (!stock || !cast) return;
  oneHotPatched = true;
  tf.unregisterKernel('OneHot', 'wasm');
  tf.registerKernel({
    ...stock,
    kernelFunc: (args) => {
      const attrs = args.attrs as { dtype?: string } | undefined;
      if (!attrs || attrs.dtype === undefined || attrs.dtype === 'int32') {
        return stock.kernelFunc(args);
      }
      const ints = stock.kernelFunc({
        ...args,
        attrs: { ...attrs, dtype: 'int32' },
      }) as tf.TensorInfo;
      const out = cast.kernelFunc({
        inputs: { x: ints },
        backend: args.backend,
        attrs: { dtype: attrs.dtype },
      }) as tf.TensorInfo;
      (args.backend as tf.KernelBackend).disposeData(ints.dataId);
      return out;
    },
  });
}

export interface BackendChoice {
  /** The tfjs backend now active: `tensorflow`, `webgpu`, `wasm` or `cpu`. */
  readonly name: string;
  /** webgpu's adapter, e.g. `nvidia ampere` or `google swiftshader, software`. */
  readonly adapter?: string;
  /** Where the math runs (tfjs-node without CUDA is `cpu`). */
  readonly device: 'gpu' | 'cpu';
  /** Data-parallel worker threads the trainer will use (1 = in this thread). */
  readonly workers: number;
  /** Why this backend (and why not the better ones). */
  readonly reason: string;
  /**
   * Throws the first error the GPU reported on its own since the backend was
   * chosen (webgpu drops the work such an error hits without an exception).
   */
  readonly throwIfGpuFailed: () => void;
}

/**
 * Picks and activates the backend with `@ssd/backend`'s `selectBackend`
 * (`auto`: tfjs-node-gpu, tfjs-node, webgpu on a hardware adapter, wasm with
 * training kernels, cpu). Workers default to the CPU cores on wasm/cpu (each
 * worker runs its own single-threaded wasm); tensorflow and webgpu train in
 * this thread. This thread's wasm (evaluation, detection, LSUV, training with one
 * worker) runs XNNPACK on every core (`enableWasmThreads`): the same bits, ~2× faster
 * convolutions on 2 cores.
 */
export async function chooseBackend(
  prefer: BackendPreference,
  workers: number | null,
  log: (message: string) => void,
): Promise<BackendChoice> {
  const cores = Math.max(1, os.availableParallelism?.() ?? os.cpus().length);
  let selection;
  let gpuError: GpuError | undefined;
  if (prefer === 'auto' || prefer === 'wasm') {
    try {
      await enableWasmThreads(Math.min(cores, MAX_WASM_THREADS));
    } catch {
      // The wasm backend is already initialised in this process (tests, a second
      // command in one process): it keeps its thread count.
    }
  }
  try {
    selection = await selectBackend({
      prefer,
      onGpuError: (e) => {
        gpuError ??= e;
      },
    });
  } catch (e) {
    if (e instanceof BackendUnavailableError)
      throw new UsageError(`--backend ${prefer}: ${e.message}`);
    throw e;
  }
  if (selection.backend === 'wasm') patchWasmOneHot();
  for (const w of selection.warnings) log(`warning: ${w}`);
  const skipped = selection.skipped.map((s) => `${s.package}: ${s.reason}`);
  const adapter = selection.adapter && adapterName(selection.adapter);
  const reason = [
    `${selection.package} on the ${selection.device}${adapter ? ` (${adapter})` : ''}`,
    ...(selection.trainingKernels.length > 0
      ? [`training kernels ${selection.trainingKernels.join(', ')}`]
      : []),
    ...((selection.threads ?? 1) > 1 ? [`${selection.threads} threads in the main thread`] : []),
    ...(skipped.length > 0 ? [`skipped ${skipped.join('; ')}`] : []),
  ].join('; ');
  return {
    name: selection.backend,
    device: selection.device,
    // One device per process: the GPU backends train in the main thread.
    workers:
      selection.backend === 'tensorflow' || selection.backend === 'webgpu' ? 1 : (workers ?? cores),
    ...(adapter && { adapter }),
    reason,
    throwIfGpuFailed: () => {
      if (gpuError) throw gpuError;
    },
  };
}
