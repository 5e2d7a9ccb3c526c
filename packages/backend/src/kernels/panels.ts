import type { TensorInfo } from '@tensorflow/tfjs-core';

import type { Gemm } from './gemm';
import { heapOffset, type HeapBackend } from './heap';
import type { KernelScope } from './kernel-scope';

/** Columns per panel of the GEMM's packed right operand. */
export const PANEL = 8;

/** Bytes of a `[K, N]` matrix packed in panels (N rounded up to whole panels). */
export function packedBytes(K: number, N: number): number {
  return Math.ceil(N / PANEL) * K * PANEL * Float32Array.BYTES_PER_ELEMENT;
}

/**
 * A row-major float32 `[K, N]` matrix (the first K·N values of `src`) → the
 * GEMM's packed right operand `[⌈N/8⌉][K][8]`, zero-filled past N; a new heap
 * tensor the scope frees.
 */
export function packPanels(
  scope: KernelScope,
  gemm: Gemm,
  src: TensorInfo,
  K: number,
  N: number,
): TensorInfo {
  const wasm = scope.backend as unknown as HeapBackend;
  const packed = scope.keepOut(wasm.makeOutput([packedBytes(K, N) / 4], 'float32'));
  const heap = (wasm.typedArrayFromHeap(packed) as Float32Array).buffer;
  packPanelsAt(heap, gemm, heapOffset(scope.backend, src), heapOffset(scope.backend, packed), K, N);
  return packed;
}

/**
 * {@link packPanels} from byte `src` to byte `dst` of the wasm heap `heap` (its
 * buffer after the last allocation). Whole panels are copied by the GEMM
 * module's `pack`, others value by value, reading row by row (in order).
 */
export function packPanelsAt(
  heap: ArrayBufferLike,
  gemm: Gemm,
  src: number,
  dst: number,
  K: number,
  N: number,
): void {
  const P = Math.ceil(N / PANEL);
  if (N % PANEL === 0) {
    gemm.pack(src, dst, K, P);
    return;
  }
  const from = new Float32Array(heap, src, K * N);
  const to = new Float32Array(heap, dst, P * K * PANEL);
  to.fill(0);
  for (let k = 0; k < K; k++) {
    for (let j = 0, s = k * N; j < P; j++, s += PANEL) {
      const width = Math.min(PANEL, N - j * PANEL);
      const d = (j * K + k) * PANEL;
      for (let l = 0; l < width; l++) to[d + l] = from[s + l] as number;
    }
  }
}
