import {
  backend_util,
  type Conv2DBackpropFilterAttrs,
  type KernelBackend,
  type NamedAttrMap,
  type NamedTensorInfoMap,
  type TensorInfo,
} from '@tensorflow/tfjs-core';

import { supportsHeapViews, type HeapBackend } from './heap';
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

/** `dy` `[B, Ho, Wo, Cout]` on the `Hg × Wg` grid, zero where the grid runs past it: `[L, Cout]`. */
function dyOnGrid(scope: KernelScope, dy: TensorInfo, Hg: number, Wg: number): TensorInfo {
  const [B, Ho, Wo, CO] = dy.shape as [number, number, number, number];
  let dyg = dy;
  if (Hg > Ho || Wg > Wo) {
    dyg = scope.run(
      'PadV2',
      { x: dy },
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
  return scope.reshape(dyg, [B * Hg * Wg, CO]);
}

/**
 * Fewer input channels than this take the im2col product at stride 1 too: its
 * matrix is small (KH·KW·C rows), and one product keeps XNNPACK's tiles full
 * where KH·KW products of C rows would not (`conv1_1`'s 3 channels).
 */
export const MIN_VIEW_CHANNELS = 8;

function toNhwc(scope: KernelScope, t: TensorInfo, dataFormat: string): TensorInfo {
  return dataFormat === 'NCHW' ? scope.run('Transpose', { x: t }, { perm: [0, 2, 3, 1] }) : t;
}

/**
 * `Conv2DBackpropFilter` (NHWC; NCHW is transposed first), dilation 1, any
 * strides and padding, as XNNPACK matrix products over L = the (b,u,v) rows of a
 * grid.
 *
 * dW[kh,kw,ci,co] = Σ_{b,y,x} xPad[b, y·sh+kh, x·sw+kw, ci] · dy[b,y,x,co].
 * Write kh = qh·sh + rh. Phase (rh,rw) of xPad is the grid
 * X_r[b,u,v] = xPad[b, u·sh+rh, v·sw+rw] of size Hg×Wg; on that grid the tap is
 * a plain shift by (qh,qw). With dy zero-padded to the same Hg×Wg grid and both
 * flattened over (b,u,v) into L rows, the shift is a constant offset
 * `qh·Wg + qw` along L.
 *
 * Stride 1 (one phase): see {@link filterGradStride1}, a product per tap over
 * windows of xᵀ. Other strides: with X_rᵀ `[C, L]` (one transpose), the row
 * (kh,kw,ci) of the im2col matrix `[KH·KW·C, L]` is the contiguous run
 * X_rᵀ[ci, offset … offset + L), and
 *   dW `[KH·KW·C, Cout]` = im2colᵀ `[KH·KW·C, L]` · dyGrid `[L, Cout]`,
 * already in the filter's `[KH, KW, C, Cout]` order: one product whose left
 * operand has KH·KW·C rows keeps XNNPACK's GEMM tiles full even for 3–16
 * channels, where `[Cout, L] · [L, C]` per tap leaves most of each tile empty.
 * Summation runs over (b,u,v) in one pass per output, so a result depends only
 * on the inputs (deterministic).
 */
export function conv2DBackpropFilterWasm(
  args: {
    inputs: NamedTensorInfoMap;
    backend: KernelBackend;
    attrs: NamedAttrMap;
  },
  /**
   * `auto`: heap views at stride 1 from {@link MIN_VIEW_CHANNELS} input channels,
   * else the im2col product (also where the backend lacks heap views); `im2col`
   * and `views` force one (tests and benchmarks).
   */
  route: 'auto' | 'im2col' | 'views' = 'auto',
): TensorInfo {
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

    const views = route === 'views' || (route === 'auto' && C >= MIN_VIEW_CHANNELS);
    if (sh === 1 && sw === 1 && views && supportsHeapViews(backend)) {
      return scope.finish(filterGradStride1(scope, x, dy, info));
    }

    const qhMax = Math.floor((KH - 1) / sh);
    const qwMax = Math.floor((KW - 1) / sw);
    const Hg = Ho + qhMax; // phase-grid rows: every y + qh stays inside
    const Wg = Wo + qwMax;

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
    // Phases: [B, Hg, sh, Wg, sw, C] → [sh, sw, B, Hg, Wg, C] → [sh·sw·L, C], then
    // transposed to [C, sh·sw·L]: phase r of channel c is the run [c, r·L … r·L + L).
    // (The stock rank-6 Transpose is slow; the phase split is a gather of C-float runs.)
    const phases =
      sh === 1 && sw === 1 ? scope.reshape(xg, [B * Hg * Wg, C]) : phaseSplit(scope, xg, sh, sw);
    const phasesT = scope.run('Transpose', { x: phases }, { perm: [1, 0] });

    const dyRows = dyOnGrid(scope, dy, Hg, Wg);

    const dw = scope.run(
      'BatchMatMul',
      // A 1×1 stride-1 kernel's im2colᵀ is the transpose itself.
      {
        a: KH * KW * sh * sw === 1 ? phasesT : im2colRows(scope, phasesT, info, Hg, Wg),
        b: dyRows,
      },
      { transposeA: false, transposeB: false },
    );
    return scope.finish(scope.reshape(dw, [KH, KW, C, CO]));
  } catch (error) {
    scope.abandon();
    throw error;
  }
}

/**
 * im2colᵀ `[KH·KW·C, L]` from the phases' transpose `[C, sh·sw·L]`: row
 * (kh,kw,c) is channel c of phase (kh mod sh, kw mod sw) shifted by the tap's
 * offset on the grid. Columns whose dy row is zero (grid padding) may read the
 * next phase's or channel's values, which are finite and multiplied by 0; past
 * the end of the array they are zero-filled (fresh heap memory is not zeroed).
 */
function im2colRows(
  scope: KernelScope,
  phasesT: TensorInfo,
  info: Conv2DInfo,
  Hg: number,
  Wg: number,
): TensorInfo {
  const { batchSize: B, inChannels: C, filterHeight: KH, filterWidth: KW } = info;
  const { strideHeight: sh, strideWidth: sw } = info;
  const L = B * Hg * Wg;
  const wasm = scope.backend as unknown as HeapBackend;
  const im2col = scope.keepOut(wasm.makeOutput([KH * KW * C, L], 'float32'));
  // Views are taken after makeOutput, which may grow (and detach) the heap.
  const src = wasm.typedArrayFromHeap(phasesT) as Float32Array;
  const dst = wasm.typedArrayFromHeap(im2col) as Float32Array;
  const rowLength = sh * sw * L;
  let o = 0;
  for (let kh = 0; kh < KH; kh++) {
    for (let kw = 0; kw < KW; kw++) {
      const phase = (kh % sh) * sw + (kw % sw);
      const offset = phase * L + Math.floor(kh / sh) * Wg + Math.floor(kw / sw);
      const available = Math.min(L, rowLength - offset);
      for (let c = 0; c < C; c++) {
        const from = c * rowLength + offset;
        dst.set(src.subarray(from, from + available), o);
        if (available < L) dst.fill(0, o + available, o + L);
        o += L;
      }
    }
  }
  return im2col;
}

/**
 * Stride 1, without an im2col matrix. On the padded grid (Hg×Wg per image, L
 * rows over (b,u,v)), tap (kh,kw) is the constant shift `kh·Wg + kw` along L,
 * so with xᵀ `[C, L]` its left operand is the window of xᵀ that starts that
 * many values later, read as a dense `[C, L]` matrix (a heap view, no copy):
 *   dW[kh,kw] `[C, Cout]` = window `[C, L]` · dyGrid `[L, Cout]`.
 * Row c of a window runs `shift` values into row c+1 (and the last row into one
 * zero row kept after xᵀ); those columns meet dyGrid rows that are zero, as the
 * shift only crosses the grid padding (0·x: a non-finite x there would spread,
 * as it does through the convolution anyway). All KH·KW products share dyGrid, which
 * XNNPACK packs once (its operator cache is keyed by that tensor). Per output
 * the sum over L runs as in one product (deterministic).
 */
function filterGradStride1(
  scope: KernelScope,
  x: TensorInfo,
  dy: TensorInfo,
  info: Conv2DInfo,
): TensorInfo {
  const { batchSize: B, inHeight: H, inWidth: W, inChannels: C, outChannels: CO } = info;
  const { outHeight: Ho, outWidth: Wo, filterHeight: KH, filterWidth: KW } = info;
  const { top: padTop, left: padLeft } = info.padInfo;
  const Hg = Ho + KH - 1;
  const Wg = Wo + KW - 1;
  const L = B * Hg * Wg;
  const wasm = scope.backend as unknown as HeapBackend;

  // xᵀ on the grid, then one zero row: [C + 1, L].
  const xT = scope.keepOut(wasm.makeOutput([C + 1, L], 'float32'));
  {
    // Views are taken after makeOutput, which may grow (and detach) the heap.
    const src = wasm.typedArrayFromHeap(x) as Float32Array;
    const dst = wasm.typedArrayFromHeap(xT) as Float32Array;
    dst.fill(0);
    const y0 = Math.max(0, -padTop);
    const y1 = Math.min(H, Hg - padTop);
    const x0 = Math.max(0, -padLeft);
    const x1 = Math.min(W, Wg - padLeft);
    for (let b = 0; b < B; b++) {
      for (let y = y0; y < y1; y++) {
        let g = (b * Hg + y + padTop) * Wg + x0 + padLeft;
        let s = ((b * H + y) * W + x0) * C;
        for (let xx = x0; xx < x1; xx++, g++) {
          for (let c = 0, d = g; c < C; c++, d += L) dst[d] = src[s++] as number;
        }
      }
    }
  }

  const dyRows = dyOnGrid(scope, dy, Hg, Wg);

  const dw = scope.keepOut(wasm.makeOutput([KH, KW, C, CO], 'float32'));
  const tapSize = C * CO;
  for (let kh = 0; kh < KH; kh++) {
    for (let kw = 0; kw < KW; kw++) {
      const window = scope.view(xT, kh * Wg + kw, [C, L]);
      const tap = scope.run(
        'BatchMatMul',
        { a: window, b: dyRows },
        { transposeA: false, transposeB: false },
      );
      // Views after the product, which may grow (and detach) the heap.
      const out = wasm.typedArrayFromHeap(dw) as Float32Array;
      out.set(wasm.typedArrayFromHeap(tap) as Float32Array, (kh * KW + kw) * tapSize);
    }
  }
  return dw;
}
