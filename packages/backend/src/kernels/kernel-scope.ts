import {
  getKernel,
  type KernelBackend,
  type NamedAttrMap,
  type NamedTensorInfoMap,
  type TensorInfo,
} from '@tensorflow/tfjs-core';

import { sliceOnHeap, WASM } from './heap';

/**
 * Runs other `wasm` kernels from inside a kernel and frees every intermediate
 * when the composite kernel returns. Kernels are looked up at call time, so a
 * kernel registered later (ours included) is always the one used.
 */
export class KernelScope {
  private readonly made: TensorInfo[] = [];

  constructor(readonly backend: KernelBackend) {}

  run(kernelName: string, inputs: NamedTensorInfoMap | TensorInfo[], attrs: object): TensorInfo {
    const kernel = getKernel(kernelName, WASM);
    if (kernel == null) {
      throw new Error(`@ssd/backend: the wasm backend has no ${kernelName} kernel`);
    }
    const out = kernel.kernelFunc({
      inputs: inputs as NamedTensorInfoMap,
      attrs: attrs as NamedAttrMap,
      backend: this.backend,
    }) as TensorInfo;
    this.made.push(out);
    return out;
  }

  /** Columns `[start, start + cols)` of a float32 `[rows, C]` tensor, copied on the heap. */
  columns(x: TensorInfo, start: number, cols: number): TensorInfo {
    return this.heapSlice(x, [0, start], [x.shape[0] as number, cols]);
  }

  reshape(x: TensorInfo, shape: number[]): TensorInfo {
    return this.run('Reshape', { x }, { shape });
  }

  /** Rows `[start, start + rows)` of a float32 `[R, cols]` tensor: one memmove on the heap. */
  rows(x: TensorInfo, start: number, rows: number): TensorInfo {
    return this.heapSlice(x, [start, 0], [rows, x.shape[1] as number]);
  }

  private heapSlice(x: TensorInfo, begin: number[], size: number[]): TensorInfo {
    const out = sliceOnHeap(this.backend, x, begin, size) as TensorInfo;
    this.made.push(out);
    return out;
  }

  /** Tracks a tensor made outside `run` so `finish` frees it. */
  keepOut(t: TensorInfo): TensorInfo {
    this.made.push(t);
    return t;
  }

  /** Hands `keep` to the caller and disposes everything else this scope made. */
  finish(keep: TensorInfo): TensorInfo {
    for (const t of this.made) {
      if (t !== keep) this.backend.disposeData(t.dataId);
    }
    this.made.length = 0;
    return keep;
  }

  /** Disposes everything (used when an error escapes). */
  abandon(): void {
    for (const t of this.made) this.backend.disposeData(t.dataId);
    this.made.length = 0;
  }
}
