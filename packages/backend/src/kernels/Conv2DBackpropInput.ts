import {
  backend_util,
  type Conv2DBackpropInputAttrs,
  type KernelBackend,
  type NamedTensorInfoMap,
  type TensorInfo,
} from '@tensorflow/tfjs-core';

import type { HeapBackend } from './heap';
import { KernelScope } from './kernel-scope';

type Conv2DInfo = backend_util.Conv2DInfo;

/**
 * `[KH, KW, Cin, Cout]` → `[KH, KW, Cout, Cin]` rotated by 180° in space
 * (the stock Reverse kernel is slow on filters).
 */
function flipFilter(scope: KernelScope, w: TensorInfo): TensorInfo {
  const [KH, KW, C, CO] = w.shape as [number, number, number, number];
  const wasm = scope.backend as unknown as HeapBackend;
  const out = wasm.makeOutput([KH, KW, CO, C], 'float32');
  const src = wasm.typedArrayFromHeap(w) as Float32Array;
  const dst = wasm.typedArrayFromHeap(out) as Float32Array;
  for (let kh = 0; kh < KH; kh++) {
    for (let kw = 0; kw < KW; kw++) {
      const s0 = (kh * KW + kw) * C * CO;
      const d0 = ((KH - 1 - kh) * KW + (KW - 1 - kw)) * CO * C;
      for (let ci = 0; ci < C; ci++) {
        for (let co = 0; co < CO; co++) dst[d0 + co * C + ci] = src[s0 + ci * CO + co] as number;
      }
    }
  }
  return scope.keepOut(out);
}

/**
 * The fast route for `Conv2DBackpropInput`: the input gradient is a stride-1
 * convolution of the (zero-interleaved, for stride > 1) output gradient with
 * the spatially flipped filter, [KH, KW, Cout, Cin], which runs on XNNPACK.
 * Returns null where that route does not apply (NCHW, or the padding it needs
 * would be negative); the caller then uses the stock kernel.
 */
export function conv2DBackpropInputFast(
  inputs: NamedTensorInfoMap,
  backend: KernelBackend,
  attrs: Conv2DBackpropInputAttrs,
): TensorInfo | null {
  if (attrs.dataFormat === 'NCHW') return null;
  const dy = inputs.dy as TensorInfo;
  const filter = inputs.filter as TensorInfo;
  const info: Conv2DInfo = backend_util.computeConv2DInfo(
    attrs.inputShape,
    filter.shape as [number, number, number, number],
    attrs.strides,
    1,
    attrs.pad,
    attrs.dimRoundingMode,
    false,
    'channelsLast',
  );
  const { batchSize: B, inHeight: H, inWidth: W, outChannels: CO } = info;
  const { outHeight: Ho, outWidth: Wo, filterHeight: KH, filterWidth: KW } = info;
  const { strideHeight: sh, strideWidth: sw } = info;
  if (sh > 2 || sw > 2) return null;
  const top = KH - 1 - info.padInfo.top;
  const left = KW - 1 - info.padInfo.left;
  const bottom = H - Ho * sh - top + KH - 1;
  const right = W - Wo * sw - left + KW - 1;
  if (top < 0 || left < 0 || bottom < 0 || right < 0) return null;

  const scope = new KernelScope(backend);
  try {
    let dyd = dy;
    if (sh > 1 || sw > 1) {
      // Zero-interleave: [B,Ho,1,Wo,1,CO] padded to [B,Ho,sh,Wo,sw,CO].
      const expanded = scope.reshape(dy, [B, Ho, 1, Wo, 1, CO]);
      const padded = scope.run(
        'PadV2',
        { x: expanded },
        {
          paddings: [
            [0, 0],
            [0, 0],
            [0, sh - 1],
            [0, 0],
            [0, sw - 1],
            [0, 0],
          ],
          constantValue: 0,
        },
      );
      dyd = scope.reshape(padded, [B, Ho * sh, Wo * sw, CO]);
    }
    const swapped = flipFilter(scope, filter);
    const dx = scope.run(
      'Conv2D',
      { x: dyd, filter: swapped },
      {
        strides: [1, 1],
        pad: [
          [0, 0],
          [top, bottom],
          [left, right],
          [0, 0],
        ],
        dataFormat: 'NHWC',
        dilations: [1, 1],
      },
    );
    return scope.finish(dx);
  } catch (error) {
    scope.abandon();
    throw error;
  }
}
