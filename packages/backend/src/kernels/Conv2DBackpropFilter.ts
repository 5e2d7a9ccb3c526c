import {
  backend_util,
  type Conv2DBackpropFilterAttrs,
  type KernelBackend,
  type NamedAttrMap,
  type NamedTensorInfoMap,
  type TensorInfo,
} from '@tensorflow/tfjs-core';

import type { HeapBackend } from './heap';
import { KernelScope } from './kernel-scope';

type Conv2DInfo = backend_util.Conv2DInfo;

/**
 * `[B, Hg·sh, Wg·sw, C]` → `[sh·sw·B·Hg·Wg, C]`, phase (rh, rw) being rows
 * `[(rh·sw + rw)·L, …+L)` with rows (b, u, v) = x[b, u·sh+rh, v·sw+rw, :].
 */
function phaseSplit(scope: KernelScope, x: TensorInfo, sh: number, sw: number): TensorInfo {
  const [B, Hs, Ws, C] = x.shape as [number, number, number, number];
  const Hg = Hs / sh;
  const Wg = Ws / sw;
  const wasm = scope.backend as unknown as HeapBackend;
  const out = wasm.makeOutput([sh * sw * B * Hg * Wg, C], 'float32');
  const src = wasm.typedArrayFromHeap(x) as Float32Array;
  const dst = wasm.typedArrayFromHeap(out) as Float32Array;
  let o = 0;
  for (let rh = 0; rh < sh; rh++) {
    for (let rw = 0; rw < sw; rw++) {
      for (let b = 0; b < B; b++) {
        for (let u = 0; u < Hg; u++) {
          const rowBase = ((b * Hs + u * sh + rh) * Ws + rw) * C;
          for (let v = 0; v < Wg; v++) {
            const from = rowBase + v * sw * C;
            dst.set(src.subarray(from, from + C), o);
            o += C;
          }
        }
      }
    }
  }
  return scope.keepOut(out);
}

function toNhwc(scope: KernelScope, t: TensorInfo, dataFormat: string): TensorInfo {
  return dataFormat === 'NCHW' ? scope.run('Transpose', { x: t }, { perm: [0, 2, 3, 1] }) : t;
}

/**
 * `Conv2DBackpropFilter` (NHWC; NCHW is transposed first), dilation 1, any
 * strides and padding, from kernels wasm already has: a phase split of the
 * padded input, then one matrix product per kernel tap on shifted windows of
 * the output gradient.
 *
 * dW[kh,kw,ci,co] = Σ_{b,y,x} xPad[b, y·sh+kh, x·sw+kw, ci] · dy[b,y,x,co].
 * Write kh = qh·sh + rh. Phase (rh,rw) of xPad is the grid
 * X_r[b,u,v] = xPad[b, u·sh+rh, v·sw+rw] of size Hg×Wg; on that grid the tap is
 * a plain shift by (qh,qw). With dy zero-padded to the same Hg×Wg grid and both
 * flattened over (b,u,v) into L rows, the shift is a constant row offset
 * `qh·Wg + qw`, so each tap is X_r[C, L] · dyShifted[L, Cout] — a contiguous
 * row window of dy and a fast non-transposed matmul.
 */
export function conv2DBackpropFilterWasm(args: {
  inputs: NamedTensorInfoMap;
  backend: KernelBackend;
  attrs: NamedAttrMap;
}): TensorInfo {
  const { backend } = args;
  const attrs = args.attrs as unknown as Conv2DBackpropFilterAttrs;
  const scope = new KernelScope(backend);
  try {
    const x = toNhwc(scope, args.inputs.x as TensorInfo, attrs.dataFormat);
    const dy = toNhwc(scope, args.inputs.dy as TensorInfo, attrs.dataFormat);
    const info: Conv2DInfo = backend_util.computeConv2DInfo(
      x.shape as [number, number, number, number],
      attrs.filterShape,
      attrs.strides,
      1,
      attrs.pad,
      attrs.dimRoundingMode,
      false,
      'channelsLast',
    );
    const { batchSize: B, inHeight: H, inWidth: W, inChannels: C, outChannels: CO } = info;
    const { outHeight: Ho, outWidth: Wo, filterHeight: KH, filterWidth: KW } = info;
    const { strideHeight: sh, strideWidth: sw } = info;
    const { top: padTop, left: padLeft } = info.padInfo;

    const qhMax = Math.floor((KH - 1) / sh);
    const qwMax = Math.floor((KW - 1) / sw);
    const Hg = Ho + qhMax; // phase-grid rows: every y + qh stays inside
    const Wg = Wo + qwMax;
    const L = B * Hg * Wg;

    // x padded (or cropped) to exactly [B, Hg·sh, Wg·sw, C].
    let xg = x;
    const padBottom = Hg * sh - H - padTop;
    const padRight = Wg * sw - W - padLeft;
    if (padBottom < 0 || padRight < 0) {
      xg = scope.run(
        'Slice',
        { x: xg },
        {
          begin: [0, 0, 0, 0],
          size: [B, H + Math.min(padBottom, 0), W + Math.min(padRight, 0), C],
        },
      );
    }
    if (padTop > 0 || padLeft > 0 || padBottom > 0 || padRight > 0) {
      xg = scope.run(
        'PadV2',
        { x: xg },
        {
          paddings: [
            [0, 0],
            [padTop, Math.max(padBottom, 0)],
            [padLeft, Math.max(padRight, 0)],
            [0, 0],
          ],
          constantValue: 0,
        },
      );
    }
    // Phases: [B, Hg, sh, Wg, sw, C] → [sh, sw, B, Hg, Wg, C] → [sh·sw·L, C].
    // (The stock rank-6 Transpose is slow; this is a gather of C-float runs.)
    const phases = sh === 1 && sw === 1 ? scope.reshape(xg, [L, C]) : phaseSplit(scope, xg, sh, sw);

    // dyᵀ on the same grid, [Cout, L], with `maxOffset` zero columns in front.
    let dyg = dy;
    if (Hg > Ho || Wg > Wo) {
      dyg = scope.run(
        'PadV2',
        { x: dyg },
        {
          paddings: [
            [0, 0],
            [0, Hg - Ho],
            [0, Wg - Wo],
            [0, 0],
          ],
          constantValue: 0,
        },
      );
    }
    const maxOffset = qhMax * Wg + qwMax;
    const dyT = scope.run('Transpose', { x: scope.reshape(dyg, [L, CO]) }, { perm: [1, 0] });
    const dyTPadded =
      maxOffset === 0
        ? dyT
        : scope.run(
            'PadV2',
            { x: dyT },
            {
              paddings: [
                [0, 0],
                [maxOffset, 0],
              ],
              constantValue: 0,
            },
          );

    // One matmul per tap: dyᵀ window [Cout, L] · phase [L, C] → [Cout, C]. The
    // phase is the right-hand operand, which XNNPACK packs once and caches for
    // every tap that shares it.
    const phaseRows: TensorInfo[] = [];
    for (let r = 0; r < sh * sw; r++) {
      phaseRows.push(sh * sw === 1 ? phases : scope.rows(phases, r * L, L));
    }
    const taps: TensorInfo[] = [];
    for (let kh = 0; kh < KH; kh++) {
      for (let kw = 0; kw < KW; kw++) {
        const phase = phaseRows[(kh % sh) * sw + (kw % sw)] as TensorInfo;
        const offset = Math.floor(kh / sh) * Wg + Math.floor(kw / sw);
        const window =
          maxOffset === 0 ? dyTPadded : scope.columns(dyTPadded, maxOffset - offset, L);
        taps.push(
          scope.run(
            'BatchMatMul',
            { a: window, b: phase },
            { transposeA: false, transposeB: false },
          ),
        );
      }
    }
    const stackedT =
      taps.length === 1 ? (taps[0] as TensorInfo) : scope.run('Concat', taps, { axis: 0 });
    // [KH·KW·Cout, C] → [KH·KW, C, Cout]
    const stacked = scope.run(
      'Transpose',
      { x: scope.reshape(stackedT, [KH * KW, CO, C]) },
      { perm: [0, 2, 1] },
    );
    return scope.finish(scope.reshape(stacked, [KH, KW, C, CO]));
  } catch (error) {
    scope.abandon();
    throw error;
  }
}
