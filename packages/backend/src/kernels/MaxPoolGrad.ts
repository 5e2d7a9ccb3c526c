import { backend_util, type MaxPoolGradAttrs, type TensorInfo } from '@tensorflow/tfjs-core';

import { gemmFor } from './gemm';
import { heapOffset, type HeapBackend, type KernelArgs } from './heap';

/**
 * `MaxPoolGrad` (NHWC, dilation 1) on the wasm heap: for every pooling window
 * the first maximum in row-major order gets the output gradient (summed where
 * windows overlap), the rule of tfjs' cpu backend. The stock wasm kernel is the
 * largest single cost of an SSD training step at small widths. 2×2 windows at
 * stride 2 tiling the input (VGG's pools) run in wasm SIMD where the channels
 * are a multiple of 4, else in an unrolled loop. Returns null for what it does
 * not handle (non-float32), so the caller uses the stock kernel.
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
  const tiles2x2 = KH === 2 && KW === 2 && sh === 2 && sw === 2 && padTop === 0 && padLeft === 0;
  if (tiles2x2 && H === 2 * Ho && W === 2 * Wo && C % 4 === 0) {
    // Four channels at a time in wasm SIMD (every dx value written).
    const gemm = gemmFor(backend);
    if (gemm != null) {
      const [xAt, dyAt, dxAt] = [x, dy, out].map((t) => heapOffset(backend, t)) as [
        number,
        number,
        number,
      ];
      gemm.maxPoolGrad2x2(xAt, dyAt, dxAt, B * Ho, Wo, C / 4);
      return out;
    }
  }
  const xs = heap.typedArrayFromHeap(x) as Float32Array;
  const dys = heap.typedArrayFromHeap(dy) as Float32Array;
  const dx = heap.typedArrayFromHeap(out) as Float32Array;
  dx.fill(0);
  const rowStride = W * C;
  if (tiles2x2 && H === 2 * Ho && W === 2 * Wo) {
    grad2x2(xs, dys, dx, B * Ho, Wo, C);
    return out;
  }
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

/**
 * The same rule for 2×2 windows at stride 2 tiling the input exactly (VGG's
 * pools on even sizes), unrolled: the four values in row-major order, the first
 * strictly larger one kept (NaN never wins), no overlap to sum. `rows` is
 * batch × output rows.
 */
function grad2x2(
  xs: Float32Array,
  dys: Float32Array,
  dx: Float32Array,
  rows: number,
  Wo: number,
  C: number,
): void {
  const rowStride = 2 * Wo * C;
  let o = 0;
  for (let r = 0; r < rows; r++) {
    const top = 2 * r * rowStride;
    for (let ox = 0; ox < Wo; ox++) {
      const a = top + 2 * ox * C;
      for (let c = 0; c < C; c++, o++) {
        const i0 = a + c;
        const i1 = i0 + C;
        const i2 = i0 + rowStride;
        const i3 = i2 + C;
        let best = -Infinity;
        let at = -1;
        let v = xs[i0] as number;
        if (v > best) {
          best = v;
          at = i0;
        }
        v = xs[i1] as number;
        if (v > best) {
          best = v;
          at = i1;
        }
        v = xs[i2] as number;
        if (v > best) {
          best = v;
          at = i2;
        }
        v = xs[i3] as number;
        if (v > best) at = i3;
        if (at >= 0) dx[at] = dys[o] as number;
      }
    }
  }
}
