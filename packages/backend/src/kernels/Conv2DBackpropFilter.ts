import {
  backend_util,
  type Conv2DBackpropFilterAttrs,
  type KernelBackend,
  type NamedAttrMap,
  type NamedTensorInfoMap,
  type TensorInfo,
} from '@tensorflow/tfjs-core';

import { ACCUMULATE, gemmFor, type Gemm } from './gemm';
import { heapOffset, type HeapBackend } from './heap';
import { KernelScope } from './kernel-scope';
import { packPanels, PANEL } from './panels';

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

/** Bytes of each operand one GEMM call's chunk of the reduction reads (they stay in cache across the taps). */
const CHUNK_BYTES = 1 << 14;

/**
 * The left operand of {@link gemmProducts}: M rows, in groups of Wm rows S
 * bytes apart, R bytes from one group to the next; Ks bytes per reduction step.
 */
interface LeftOperand {
  a: TensorInfo;
  M: number;
  Wm: number;
  R: number;
  S: number;
  Ks: number;
}

/**
 * The filter gradient's products on the GEMM of `gemm.ts`, in place of XNNPACK's:
 *   out `[M, Cout]` = A `[M, L]` · dyRows `[L, Cout]`,
 * A read in place (see {@link LeftOperand}; in bounds: the caller's rows are
 * long enough). dy is read as it is where Cout is a multiple of 8, else
 * packed once into panels of 8 columns; the reduction runs in chunks
 * accumulating onto a zeroed output (one order per output: deterministic).
 */
function gemmProducts(
  scope: KernelScope,
  gemm: Gemm,
  left: LeftOperand,
  L: number,
  dyRows: TensorInfo,
  out: TensorInfo,
): void {
  const { M, Wm, R, S, Ks } = left;
  const CO = dyRows.shape[1] as number;
  const P = Math.ceil(CO / PANEL);
  const F = Float32Array.BYTES_PER_ELEMENT;
  const wasm = scope.backend as unknown as HeapBackend;
  // dy as it is where Cout fills whole panels (panel j at b + j·PS, each reduction
  // step Bs bytes on), else packed.
  const whole8 = CO % PANEL === 0;
  const b = whole8 ? dyRows : packPanels(scope, gemm, dyRows, L, CO);
  const Bs = whole8 ? CO * F : PANEL * F;
  const PS = whole8 ? PANEL * F : L * PANEL * F;
  // Whole panels are accumulated: a Cout that is not a multiple of 8 goes through a padded copy.
  const ldc = P * PANEL;
  const acc = ldc === CO ? out : scope.keepOut(wasm.makeOutput([M * ldc], 'float32'));
  (wasm.typedArrayFromHeap(acc) as Float32Array).fill(0);

  const chunk = Math.max(64, Math.floor(CHUNK_BYTES / Math.max(Bs, Ks, 32)));
  const aAt = heapOffset(scope.backend, left.a);
  const bAt = heapOffset(scope.backend, b);
  const cAt = heapOffset(scope.backend, acc);
  const call = { S, Wm, R, Ks, KH: 1, KW: 1, TH: 0, TW: 0, Bs, PS, c: cAt, ldc: ldc * F, M, N: CO };
  const whole = Math.floor(L / chunk);
  const tail = L - whole * chunk;
  const products = { ...call, bias: 0, flags: ACCUMULATE };
  // The whole chunks as repetitions of one product, then the rest.
  if (whole > 0) {
    gemm.run({
      ...products,
      a: aAt,
      bp: bAt,
      Kc: chunk,
      reps: whole,
      aRep: chunk * Ks,
      bRep: chunk * Bs,
    });
  }
  if (tail > 0) {
    gemm.run({ ...products, a: aAt + whole * chunk * Ks, bp: bAt + whole * chunk * Bs, Kc: tail });
  }
  if (acc !== out) {
    const src = wasm.typedArrayFromHeap(acc) as Float32Array;
    const dst = wasm.typedArrayFromHeap(out) as Float32Array;
    for (let r = 0; r < M; r++) dst.set(src.subarray(r * ldc, r * ldc + CO), r * CO);
  }
}

/**
 * Stride 1 on the GEMM, with no copy of x but its zero padding: on the padded
 * grid (Hg×Wg per image, L positions over (b,u,v)) tap (kh,kw) is the
 * constant shift `kh·Wg + kw` positions, so
 *   dW[kh,kw,c][co] = Σ_l xGrid[l + kh·Wg + kw, c] · dyGrid[l, co],
 * one product whose KH·KW·C rows are read in place: row (kh,kw,c) starts
 * (kh·Wg + kw)·C + c values into the grid and steps one position (C values)
 * per reduction step. One zero image after the grid keeps the last rows' reads
 * in bounds; they meet dy's zero grid padding, as do the reads that run from
 * one grid row into the next.
 */
function filterGradGemm(
  scope: KernelScope,
  gemm: Gemm,
  x: TensorInfo,
  dy: TensorInfo,
  info: Conv2DInfo,
): TensorInfo {
  const { batchSize: B, inChannels: C, outChannels: CO } = info;
  const { outHeight: Ho, outWidth: Wo, filterHeight: KH, filterWidth: KW } = info;
  const Hg = Ho + KH - 1;
  const Wg = Wo + KW - 1;
  const xg = onGrid(scope, x, info, Hg, Wg, 1);
  const dyRows = dyOnGrid(scope, dy, Hg, Wg);
  const wasm = scope.backend as unknown as HeapBackend;
  const dw = scope.keepOut(wasm.makeOutput([KH, KW, C, CO], 'float32'));
  const F = Float32Array.BYTES_PER_ELEMENT;
  // Row (kh, kw, c) at (kh·Wg + kw)·C + c values: groups of KW·C rows 4 bytes
  // apart, one grid row (Wg·C values) from one kh to the next.
  const left = { a: xg, M: KH * KW * C, Wm: KW * C, R: Wg * C * F, S: F, Ks: C * F };
  gemmProducts(scope, gemm, left, B * Hg * Wg, dyRows, dw);
  return dw;
}

/**
 * x zero-padded (or cropped) to exactly `[B + extraImages, Hg·sh, Wg·sw, C]`,
 * the convolution's padding at the top and left.
 */
function onGrid(
  scope: KernelScope,
  x: TensorInfo,
  info: Conv2DInfo,
  Hg: number,
  Wg: number,
  extraImages: number,
): TensorInfo {
  const { batchSize: B, inHeight: H, inWidth: W, inChannels: C } = info;
  const { strideHeight: sh, strideWidth: sw } = info;
  const { top: padTop, left: padLeft } = info.padInfo;
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
  if (padTop > 0 || padLeft > 0 || padBottom > 0 || padRight > 0 || extraImages > 0) {
    xg = scope.run(
      'PadV2',
      { x: xg },
      {
        paddings: [
          [0, extraImages],
          [padTop, Math.max(padBottom, 0)],
          [padLeft, Math.max(padRight, 0)],
          [0, 0],
        ],
        constantValue: 0,
      },
    );
  }
  return xg;
}

function toNhwc(scope: KernelScope, t: TensorInfo, dataFormat: string): TensorInfo {
  return dataFormat === 'NCHW' ? scope.run('Transpose', { x: t }, { perm: [0, 2, 3, 1] }) : t;
}

/**
 * `Conv2DBackpropFilter` (NHWC; NCHW is transposed first), dilation 1, any
 * strides and padding, as matrix products over L = the (b,u,v) rows of a grid:
 * on the GEMM of `gemm.ts` where it runs on the backend, else XNNPACK's
 * BatchMatMul (the threaded build).
 *
 * dW[kh,kw,ci,co] = Σ_{b,y,x} xPad[b, y·sh+kh, x·sw+kw, ci] · dy[b,y,x,co].
 * Write kh = qh·sh + rh. Phase (rh,rw) of xPad is the grid
 * X_r[b,u,v] = xPad[b, u·sh+rh, v·sw+rw] of size Hg×Wg; on that grid the tap is
 * a plain shift by (qh,qw). With dy zero-padded to the same Hg×Wg grid and both
 * flattened over (b,u,v) into L rows, the shift is a constant offset
 * `qh·Wg + qw` along L.
 *
 * Stride 1 (one phase) on the GEMM: {@link filterGradGemm}, one product over
 * the padded x read in place. Otherwise: with X_rᵀ `[C, L]` (one transpose), the row
 * (kh,kw,ci) of the im2col matrix `[KH·KW·C, L]` is the contiguous run
 * X_rᵀ[ci, offset … offset + L), and
 *   dW `[KH·KW·C, Cout]` = im2colᵀ `[KH·KW·C, L]` · dyGrid `[L, Cout]`,
 * already in the filter's `[KH, KW, C, Cout]` order: one product whose left
 * operand has KH·KW·C rows keeps the GEMM's tiles full even for 3–16
 * channels, where `[Cout, L] · [L, C]` per tap would leave most of each tile empty.
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
   * `auto`: at stride 1 the shifted rows of {@link filterGradGemm}, else the
   * im2col product; `im2col` forces the latter (tests and benchmarks).
   */
  route: 'auto' | 'im2col' = 'auto',
  /**
   * The products on the GEMM of `gemm.ts` where it runs on this backend, else
   * XNNPACK's BatchMatMul (im2col); false forces XNNPACK (tests and benchmarks).
   */
  useGemm = true,
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
    const { batchSize: B, inChannels: C, outChannels: CO } = info;
    const { outHeight: Ho, outWidth: Wo, filterHeight: KH, filterWidth: KW } = info;
    const { strideHeight: sh, strideWidth: sw } = info;

    if (B * Ho * Wo * C * CO === 0) {
      // Nothing to sum (or nothing to sum into): a zero gradient.
      const wasm = backend as unknown as HeapBackend;
      const dw = scope.keepOut(wasm.makeOutput([KH, KW, C, CO], 'float32'));
      (wasm.typedArrayFromHeap(dw) as Float32Array).fill(0);
      return scope.finish(dw);
    }
    const gemm = useGemm ? gemmFor(backend) : null;
    if (sh === 1 && sw === 1 && route === 'auto' && gemm != null) {
      return scope.finish(filterGradGemm(scope, gemm, x, dy, info));
    }

    const qhMax = Math.floor((KH - 1) / sh);
    const qwMax = Math.floor((KW - 1) / sw);
    const Hg = Ho + qhMax; // phase-grid rows: every y + qh stays inside
    const Wg = Wo + qwMax;
    const xg = onGrid(scope, x, info, Hg, Wg, 0);
    // Phases: [B, Hg, sh, Wg, sw, C] → [sh, sw, B, Hg, Wg, C] → [sh·sw·L, C], then
    // transposed to [C, sh·sw·L]: phase r of channel c is the run [c, r·L … r·L + L).
    // (The stock rank-6 Transpose is slow; the phase split is a gather of C-float runs.)
    const phases =
      sh === 1 && sw === 1 ? scope.reshape(xg, [B * Hg * Wg, C]) : phaseSplit(scope, xg, sh, sw);
    const phasesT = scope.run('Transpose', { x: phases }, { perm: [1, 0] });

    const dyRows = dyOnGrid(scope, dy, Hg, Wg);
    const a = KH * KW * sh * sw === 1 ? phasesT : im2colRows(scope, phasesT, info, Hg, Wg);
    if (gemm != null) {
      const wasm = backend as unknown as HeapBackend;
      const dw = scope.keepOut(wasm.makeOutput([KH, KW, C, CO], 'float32'));
      const L = B * Hg * Wg;
      const F = Float32Array.BYTES_PER_ELEMENT;
      const M = KH * KW * C;
      const left = { a, M, Wm: M, R: 0, S: L * F, Ks: F };
      gemmProducts(scope, gemm, left, L, dyRows, dw);
      return scope.finish(dw);
    }

    const dw = scope.run(
      'BatchMatMul',
      // A 1×1 stride-1 kernel's im2colᵀ is the transpose itself.
      { a, b: dyRows },
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
