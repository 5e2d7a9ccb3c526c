import {
  backend_util,
  type Conv2DAttrs,
  type FusedConv2DAttrs,
  type KernelBackend,
  type NamedTensorInfoMap,
  type TensorInfo,
} from '@tensorflow/tfjs-core';

import { BIAS, gemmFor, RELU, winogradEnabled, type Gemm } from './gemm';
import { heapOffset, type HeapBackend } from './heap';
import { KernelScope } from './kernel-scope';
import { packedFilterAt } from './filter-cache';
import { PANEL } from './panels';
import { winogradConv2D, winogradTiles } from './winograd';

/** Wider filters are packed. */
const MAX_UNPACKED = 64;
/**
 * Reductions whose panel of the filter (K·8 values) is larger than this run tap by
 * tap. Measured 2026-12-01 with the two routes alternating call by call (the direct
 * GEMM, the filter kept): SSD300's K = 4608 layers (3×3×512, and fc6's dilated
 * 3×3×512 → 1024) 10–19 % faster on 1 and 2 threads; K = 2304 and 1152 6–10 % slower.
 */
const SPLIT_PANEL_BYTES = 96 * 1024;
/**
 * 3×3 stride-1 convolutions with at least this many input and output channels run
 * by Winograd's F(2×2, 3×3) (`winograd.ts`). Measured against the direct GEMM
 * convolution on one thread, the filter transformed each call (as in training):
 * 32 → 32 channels 1.19× faster, 16 → 32 0.98×, 16 → 16 0.76×; SSD300's layers
 * (filter kept, inference) 1.5–2.1× (`tools/bench/wasm-conv.mjs`).
 */
const WINOGRAD_MIN_CHANNELS = 32;

/** A `[CO]` bias padded with zeros to whole panels. */
function padBias(scope: KernelScope, bias: TensorInfo, CO: number): TensorInfo {
  const wasm = scope.backend as unknown as HeapBackend;
  const padded = scope.keepOut(wasm.makeOutput([Math.ceil(CO / PANEL) * PANEL], 'float32'));
  const dst = wasm.typedArrayFromHeap(padded) as Float32Array;
  dst.fill(0);
  dst.set(wasm.typedArrayFromHeap(bias) as Float32Array);
  return padded;
}

/**
 * `Conv2D` / `FusedConv2D` (bias, ReLU) on the wasm heap through the strided
 * implicit GEMM of `gemm.ts`: the input is zero-padded once (where the
 * convolution pads), then each image is one GEMM call whose left operand is
 * read in place from the padded input (row m of the product is output pixel m;
 * its reduction runs over the taps' (kh, kw) and then the channels),
 * against the filter packed in panels of 8 output channels. A dilation only
 * spaces the taps further apart in the padded input.
 *
 * Returns null where this route does not apply: NCHW, another
 * dtype, an activation other than ReLU, a PReLU or a bias that is not `[CO]`, or a
 * backend the GEMM cannot run on (see `gemmFor`); the caller then uses the
 * stock (XNNPACK) kernel.
 */
export function conv2DOnHeap(
  inputs: NamedTensorInfoMap,
  backend: KernelBackend,
  attrs: Conv2DAttrs | FusedConv2DAttrs,
): TensorInfo | null {
  const x = inputs.x as TensorInfo;
  const filter = inputs.filter as TensorInfo;
  const bias = inputs.bias as TensorInfo | undefined;
  const activation = 'activation' in attrs ? attrs.activation : 'linear';
  if (attrs.dataFormat === 'NCHW') return null;
  if (activation !== 'linear' && activation !== 'relu') return null;
  if (inputs.preluActivationWeights != null) return null;
  if (x.dtype !== 'float32' || filter.dtype !== 'float32') return null;
  const CO = filter.shape[3] as number;
  if (
    bias != null &&
    (bias.dtype !== 'float32' || bias.shape.length !== 1 || bias.shape[0] !== CO)
  ) {
    return null;
  }
  const gemm = gemmFor(backend);
  if (gemm == null) return null;

  const info = backend_util.computeConv2DInfo(
    x.shape as [number, number, number, number],
    filter.shape as [number, number, number, number],
    attrs.strides,
    attrs.dilations ?? 1,
    attrs.pad,
    attrs.dimRoundingMode,
    false,
    'channelsLast',
  );
  const scope = new KernelScope(backend);
  try {
    return scope.finish(convolve(scope, gemm, x, filter, bias, info, activation === 'relu'));
  } catch (error) {
    scope.abandon();
    throw error;
  }
}

function convolve(
  scope: KernelScope,
  gemm: Gemm,
  x: TensorInfo,
  filter: TensorInfo,
  bias: TensorInfo | undefined,
  info: backend_util.Conv2DInfo,
  relu: boolean,
): TensorInfo {
  const { batchSize: B, inHeight: H, inWidth: W, inChannels: C, outChannels: CO } = info;
  const { outHeight: Ho, outWidth: Wo, filterHeight: KH, filterWidth: KW } = info;
  const { strideHeight: sh, strideWidth: sw, dilationHeight: dh, dilationWidth: dw } = info;
  const { padInfo, effectiveFilterHeight: EH, effectiveFilterWidth: EW } = info;
  const wasm = scope.backend as unknown as HeapBackend;
  const out = scope.keepOut(wasm.makeOutput([B, Ho, Wo, CO], 'float32'));
  if (B * Ho * Wo * CO === 0) return out;
  if (KH * KW * C === 0) {
    // An empty reduction: every output is the bias (then ReLU), or zero.
    const values = wasm.typedArrayFromHeap(out) as Float32Array;
    values.fill(0);
    if (bias != null) {
      const b = wasm.typedArrayFromHeap(bias) as Float32Array;
      for (let i = 0; i < values.length; i++) {
        const v = b[i % CO] as number;
        values[i] = relu ? Math.max(0, v) : v;
      }
    }
    return out;
  }

  // Winograd for 3×3 stride-1 convolutions wide enough to gain (see WINOGRAD_MIN_CHANNELS).
  const winograd =
    winogradEnabled() &&
    KH === 3 &&
    KW === 3 &&
    sh === 1 &&
    sw === 1 &&
    dh === 1 &&
    dw === 1 &&
    C % 4 === 0 &&
    CO % 4 === 0 &&
    Math.min(C, CO) >= WINOGRAD_MIN_CHANNELS;
  // Zero padding as the convolution's; never less than every window (or, for
  // Winograd, every 4×4 tile) needs.
  const top = padInfo.top;
  const left = padInfo.left;
  const bottom = Math.max(
    0,
    winograd ? 2 * winogradTiles(Ho) + 2 - top - H : (Ho - 1) * sh + EH - top - H,
  );
  const right = Math.max(
    0,
    winograd ? 2 * winogradTiles(Wo) + 2 - left - W : (Wo - 1) * sw + EW - left - W,
  );
  const xp =
    top + bottom + left + right > 0
      ? scope.run(
          'PadV2',
          { x },
          {
            paddings: [
              [0, 0],
              [top, bottom],
              [left, right],
              [0, 0],
            ],
            constantValue: 0,
          },
        )
      : x;
  const Hp = H + top + bottom;
  const Wp = W + left + right;
  const biasPadded = bias != null ? padBias(scope, bias, CO) : null;
  if (winograd) {
    winogradConv2D(scope, gemm, {
      xp,
      Hp,
      Wp,
      B,
      C,
      CO,
      Ho,
      Wo,
      filter,
      bias: biasPadded,
      relu,
      out,
    });
    return out;
  }
  // The filter as it is ([K, CO] row-major) where CO fills whole panels and its rows
  // are short; else packed, one panel's K·8 values contiguous (a panel of a wide
  // filter read in place touches a page every few reduction steps).
  // (Offsets do not move when the heap grows.)
  const F = Float32Array.BYTES_PER_ELEMENT;
  const K = KH * KW * C;
  const inPlace = CO % PANEL === 0 && CO <= MAX_UNPACKED;
  const bp = inPlace
    ? heapOffset(scope.backend, filter)
    : packedFilterAt(scope, gemm, filter, K, CO);
  const Bs = inPlace ? CO * F : PANEL * F;
  const PS = inPlace ? PANEL * F : K * PANEL * F;
  const biasAt = biasPadded != null ? heapOffset(scope.backend, biasPadded) : 0;
  const flags = (biasPadded != null ? BIAS : 0) | (relu ? RELU : 0);
  const xAt = heapOffset(scope.backend, xp);
  const outAt = heapOffset(scope.backend, out);
  const TH = Wp * C * F;
  const operands = { Ks: F, Kc: C, bp, Bs, PS, ldc: CO * F, N: CO, bias: biasAt, flags };
  if (KH === 1 && KW === 1 && sh === 1 && sw === 1 && xp === x) {
    // Every output pixel's row is the input pixel's: one product.
    const M = B * Ho * Wo;
    const rows = { a: xAt, S: C * F, Wm: M, R: 0, KH: 1, KW: 1, TH: 0, TW: 0, c: outAt, M };
    gemm.run({ ...operands, ...rows });
    return out;
  }
  // One product per image: rows are output pixels, in groups of an output row.
  // A deep reduction runs tap by tap (see GemmCall.split): a panel's whole reduction
  // no longer fits the first-level cache. Else, without a dilation across, a tap row's
  // KW·C values are one contiguous run of the input.
  const split = CO % PANEL === 0 && KH * KW > 1 && K * PANEL * F > SPLIT_PANEL_BYTES;
  const taps = dw === 1 && !split ? { KW: 1, TW: 0, Kc: KW * C } : { KW, TW: dw * C * F };
  gemm.run({
    split,
    ...operands,
    ...taps,
    a: xAt,
    S: sw * C * F,
    Wm: Wo,
    R: sh * TH,
    KH,
    TH: dh * TH,
    c: outAt,
    M: Ho * Wo,
    reps: B,
    aRep: Hp * TH,
    cRep: Ho * Wo * CO * F,
  });
  return out;
}
