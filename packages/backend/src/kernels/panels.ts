import type { TensorInfo } from '@tensorflow/tfjs-core';

import type { Gemm } from './gemm';
import { heapOffset, type HeapBackend } from './heap';
import type { KernelScope } from './kernel-scope';

/** Columns per panel of the GEMM's packed right operand. */
export const PANEL = 8;

/**
 * A row-major float32 `[K, N]` matrix (the first K·N values of `src`) → the
 * GEMM's packed right operand `[⌈N/8⌉][K][8]`, zero-filled past N; a new heap
 * tensor the scope frees. Whole panels are copied by the GEMM module's `pack`,
 * others value by value, reading row by row (in order).
 */
export function packPanels(
  scope: KernelScope,
  gemm: Gemm,
  src: TensorInfo,
  K: number,
  N: number,
): TensorInfo {
  const P = Math.ceil(N / PANEL);
  const wasm = scope.backend as unknown as HeapBackend;
  const packed = scope.keepOut(wasm.makeOutput([P * K * PANEL], 'float32'));
  if (N % PANEL === 0) {
    gemm.pack(heapOffset(scope.backend, src), heapOffset(scope.backend, packed), K, P);
    return packed;
  }
  // Views are taken after makeOutput, which may grow (and detach) the heap.
  const from = wasm.typedArrayFromHeap(src) as Float32Array;
  const to = wasm.typedArrayFromHeap(packed) as Float32Array;
  to.fill(0);
  for (let k = 0; k < K; k++) {
    for (let j = 0, s = k * N; j < P; j++, s += PANEL) {
      const width = Math.min(PANEL, N - j * PANEL);
      const d = (j * K + k) * PANEL;
      for (let l = 0; l < width; l++) to[d + l] = from[s + l] as number;
    }
  }
  return packed;
}
