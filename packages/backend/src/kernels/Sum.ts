import { backend_util, util, type SumAttrs, type TensorInfo } from '@tensorflow/tfjs-core';

import type { HeapBackend, KernelArgs } from './heap';

/**
 * `Sum` of a float32 tensor over its LEADING axes (a bias gradient: `[B, H, W, C]`
 * → `[C]`) on the wasm heap, as column sums in one pass. The stock kernel first
 * transposes the whole input so the reduced axes come last, then sums each row.
 * Each output is accumulated in float32 in the same order as the stock kernel
 * (row after row of the reduced axes), so the result is the same to the bit.
 * Returns null for any other reduction; the caller then uses the stock kernel.
 */
export function sumLeadingOnHeap(args: KernelArgs): TensorInfo | null {
  const x = args.inputs.x as TensorInfo;
  if (x.dtype !== 'float32') return null;
  const { axis, keepDims } = args.attrs as unknown as SumAttrs;
  const shape = x.shape;
  const axes = util.parseAxisParam(axis, shape);
  const leading = axes.length;
  // Only axes 0..k−1 in order, with k < rank, where the stock kernel transposes
  // the input to [kept, reduced] and sums each row in the reduced axes' order.
  if (leading === 0 || leading === shape.length || axes.some((a, i) => a !== i)) return null;
  const rows = util.sizeFromShape(shape.slice(0, leading));
  const cols = util.sizeFromShape(shape.slice(leading));
  const outShape = keepDims
    ? backend_util.expandShapeToKeepDim(shape.slice(leading), axes)
    : shape.slice(leading);
  const heap = args.backend as unknown as HeapBackend;
  const out = heap.makeOutput(outShape, 'float32');
  // Views are taken after makeOutput, which may grow (and detach) the heap.
  const src = heap.typedArrayFromHeap(x) as Float32Array;
  const acc = new Float32Array(cols);
  for (let r = 0, o = 0; r < rows; r++, o += cols) {
    for (let c = 0; c < cols; c++) acc[c] = (acc[c] as number) + (src[o + c] as number);
  }
  (heap.typedArrayFromHeap(out) as Float32Array).set(acc);
  return out;
}
