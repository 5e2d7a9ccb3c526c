import { backend_util, type MaxPoolGradAttrs, type TensorInfo } from '@tensorflow/tfjs-core';

import type { HeapBackend, KernelArgs } from './heap';

/**
 * `MaxPoolGrad` (NHWC, dilation 1) on the wasm heap: for every pooling window
 * the first maximum in row-major order gets the output gradient (summed where
 * windows overlap), the rule of tfjs' cpu backend. The stock wasm kernel is the
 * largest single cost of an SSD training step at small widths. Returns null for
 * what it does not handle (non-float32), so the caller uses the stock kernel.
 */
export function maxPoolGradOnHeap(args: KernelArgs): TensorInfo | null {
  const { backend } = args;
  const x = args.inputs.input as TensorInfo;
  const dy = args.inputs.dy as TensorInfo;
  if (x.dtype !== 'float32' || dy.dtype !== 'float32') return null;
  const attrs = args.attrs as unknown as MaxPoolGradAttrs;
  const info = backend_util.computePool2DInfo(
    x.shape as [number, number, number, number],
    attrs.filterSize,
    attrs.strides,
    1,
    attrs.pad,
    attrs.dimRoundingMode,
  );
  const { batchSize: B, inHeight: H, inWidth: W, inChannels: C } = info;
  const { outHeight: Ho, outWidth: Wo, strideHeight: sh, strideWidth: sw } = info;
  const { effectiveFilterHeight: KH, effectiveFilterWidth: KW } = info;
  const { top: padTop, left: padLeft } = info.padInfo;
  const heap = backend as unknown as HeapBackend;
  const out = heap.makeOutput(x.shape.slice(), 'float32');
  const xs = heap.typedArrayFromHeap(x) as Float32Array;
  const dys = heap.typedArrayFromHeap(dy) as Float32Array;
  const dx = heap.typedArrayFromHeap(out) as Float32Array;
  dx.fill(0);
  const rowStride = W * C;
  for (let b = 0; b < B; b++) {
    for (let oy = 0; oy < Ho; oy++) {
      const y0 = oy * sh - padTop;
      const yStart = Math.max(0, y0);
      const yEnd = Math.min(H, y0 + KH);
      for (let ox = 0; ox < Wo; ox++) {
        const x0 = ox * sw - padLeft;
        const xStart = Math.max(0, x0);
        const xEnd = Math.min(W, x0 + KW);
        const corner = ((b * H + yStart) * W + xStart) * C;
        const o = ((b * Ho + oy) * Wo + ox) * C;
        for (let c = 0; c < C; c++) {
          let best = -Infinity;
          let at = -1;
          for (let y = 0, row = corner + c; y < yEnd - yStart; y++, row += rowStride) {
            for (let i = row, end = row + (xEnd - xStart) * C; i < end; i += C) {
              const v = xs[i] as number;
              if (v > best) {
                best = v;
                at = i;
              }
            }
          }
          if (at >= 0) dx[at] = (dx[at] as number) + (dys[o + c] as number);
        }
      }
    }
  }
  return out;
}
