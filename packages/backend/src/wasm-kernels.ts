import {
  backend_util,
  Conv2DBackpropFilter,
  Conv2DBackpropInput,
  getKernel,
  Identity,
  MaxPoolGrad,
  OneHot,
  Slice,
  SplitV,
  registerKernel,
  unregisterKernel,
  type Conv2DBackpropFilterAttrs,
  type Conv2DBackpropInputAttrs,
  type KernelBackend,
  type KernelConfig,
  type KernelFunc,
  type NamedAttrMap,
  type NamedTensorInfoMap,
  type TensorInfo,
} from '@tensorflow/tfjs-core';

import {
  makeSliceKernel,
  makeSplitVKernel,
  maxPoolGradOnHeap,
  shareIdentity,
  sliceOnHeap,
  type HeapBackend,
  type KernelArgs,
  type KernelArgsFunc,
} from './wasm-copy-kernels';

const WASM = 'wasm';

/**
 * Runs other `wasm` kernels from inside a kernel and frees every intermediate
 * when the composite kernel returns. Kernels are looked up at call time, so a
 * kernel registered later (ours included) is always the one used.
 */
class KernelScope {
  private readonly made: TensorInfo[] = [];

  constructor(private readonly backend: KernelBackend) {}

  run(kernelName: string, inputs: NamedTensorInfoMap | TensorInfo[], attrs: object): TensorInfo {
    const kernel = getKernel(kernelName, WASM);
    if (kernel == null) {
      throw new Error(`@ssd/backend: the wasm backend has no ${kernelName} kernel`);
    }
    const out = kernel.kernelFunc({
      inputs: inputs as NamedTensorInfoMap,
      attrs: attrs as NamedAttrMap,
      backend: this.backend,
    }) as TensorInfo;
    this.made.push(out);
    return out;
  }

  /**
   * `[B, Hg·sh, Wg·sw, C]` → `[sh·sw·B·Hg·Wg, C]`, phase (rh, rw) being rows
   * `[(rh·sw + rw)·L, …+L)` with rows (b, u, v) = x[b, u·sh+rh, v·sw+rw, :].
   */
  phaseSplit(x: TensorInfo, sh: number, sw: number): TensorInfo {
    const [B, Hs, Ws, C] = x.shape as [number, number, number, number];
    const Hg = Hs / sh;
    const Wg = Ws / sw;
    const wasm = this.backend as unknown as HeapBackend;
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
    this.made.push(out);
    return out;
  }

  /**
   * `[KH, KW, Cin, Cout]` → `[KH, KW, Cout, Cin]` rotated by 180° in space
   * (the stock Reverse kernel is slow on filters).
   */
  flipFilter(w: TensorInfo): TensorInfo {
    const [KH, KW, C, CO] = w.shape as [number, number, number, number];
    const wasm = this.backend as unknown as HeapBackend;
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
    this.made.push(out);
    return out;
  }

  /** Columns `[start, start + cols)` of a float32 `[rows, C]` tensor, copied on the heap. */
  columns(x: TensorInfo, start: number, cols: number): TensorInfo {
    return this.heapSlice(x, [0, start], [x.shape[0] as number, cols]);
  }

  reshape(x: TensorInfo, shape: number[]): TensorInfo {
    return this.run('Reshape', { x }, { shape });
  }

  /** Rows `[start, start + rows)` of a float32 `[R, cols]` tensor: one memmove on the heap. */
  rows(x: TensorInfo, start: number, rows: number): TensorInfo {
    return this.heapSlice(x, [start, 0], [rows, x.shape[1] as number]);
  }

  private heapSlice(x: TensorInfo, begin: number[], size: number[]): TensorInfo {
    const out = sliceOnHeap(this.backend, x, begin, size) as TensorInfo;
    this.made.push(out);
    return out;
  }

  /** Tracks a tensor made outside `run` so `finish` frees it. */
  keepOut(t: TensorInfo): TensorInfo {
    this.made.push(t);
    return t;
  }

  /** Hands `keep` to the caller and disposes everything else this scope made. */
  finish(keep: TensorInfo): TensorInfo {
    for (const t of this.made) {
      if (t !== keep) this.backend.disposeData(t.dataId);
    }
    this.made.length = 0;
    return keep;
  }

  /** Disposes everything (used when an error escapes). */
  abandon(): void {
    for (const t of this.made) this.backend.disposeData(t.dataId);
    this.made.length = 0;
  }
}

type Conv2DInfo = backend_util.Conv2DInfo;

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
function conv2DBackpropFilterWasm(args: {
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
    const phases = sh === 1 && sw === 1 ? scope.reshape(xg, [L, C]) : scope.phaseSplit(xg, sh, sw);

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

/**
 * The fast route for `Conv2DBackpropInput`: the input gradient is a stride-1
 * convolution of the (zero-interleaved, for stride > 1) output gradient with
 * the spatially flipped filter, [KH, KW, Cout, Cin], which runs on XNNPACK.
 * Returns null where that route does not apply (NCHW, or the padding it needs
 * would be negative); the caller then uses the stock kernel.
 */
function conv2DBackpropInputFast(
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
    const swapped = scope.flipFilter(filter);
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

/** `OneHot` for a float `dtype`: the stock kernel at int32, then a cast (and scale). */
function oneHotWithDtype(args: KernelArgs, stock: KernelArgsFunc): TensorInfo | TensorInfo[] {
  const { dtype, onValue, offValue } = args.attrs as unknown as {
    dtype: string;
    onValue: number;
    offValue: number;
  };
  if (dtype === 'int32') return stock(args);
  const scope = new KernelScope(args.backend);
  try {
    const attrs = { ...args.attrs, dtype: 'int32', onValue: 1, offValue: 0 };
    const ints = scope.keepOut(stock({ ...args, attrs }) as TensorInfo);
    let out = scope.run('Cast', { x: ints }, { dtype });
    if (onValue !== 1 || offValue !== 0) {
      const scalar = (v: number) =>
        scope.keepOut(
          (args.backend as unknown as HeapBackend).makeOutput(
            [],
            'float32',
            undefined,
            Float32Array.of(v),
          ),
        );
      out = scope.run('Multiply', { a: out, b: scalar(onValue - offValue) }, {});
      out = scope.run('Add', { a: out, b: scalar(offValue) }, {});
    }
    return scope.finish(out);
  } catch (error) {
    scope.abandon();
    throw error;
  }
}

/** What {@link registerWasmTrainingKernels} did, so it can be undone. */
export interface WasmTrainingKernels {
  /** Kernel names this call registered or replaced. */
  readonly registered: readonly string[];
  /** Restores the stock kernels (and removes the added ones). */
  unregister(): void;
}

let installed: WasmTrainingKernels | null = null;

/**
 * Registers the kernels the `wasm` backend needs to train conv nets:
 * `Conv2DBackpropFilter` (missing upstream, tensorflow/tfjs#8474), a faster
 * `Conv2DBackpropInput` (falls back to the stock kernel, whose setup function is
 * kept, for the cases it does not cover), a `OneHot` that honours a float
 * `dtype` (the stock one writes int32 bits into float outputs), and faster
 * `Slice`, `SplitV` and `MaxPoolGrad` that work on the wasm heap directly and an
 * `Identity` that shares memory instead of copying it
 * (each falls back to the stock kernel for dtypes it does not handle).
 * Idempotent. Call it before or after `tf.setBackend('wasm')`; `selectBackend`
 * calls it for you.
 */
export function registerWasmTrainingKernels(): WasmTrainingKernels {
  if (installed != null) return installed;
  const registered: string[] = [];
  const restore: KernelConfig[] = [];

  /**
   * Registers `make(stock)` in place of `name`, keeping the stock setup function
   * (which initialises the wasm bindings the fallbacks use) and recording the
   * stock kernel for `unregister`. `required`: register even without a stock kernel.
   */
  const replace = (
    name: string,
    make: (stock: KernelArgsFunc) => KernelArgsFunc,
    required = false,
  ): void => {
    const stock = getKernel(name, WASM);
    if (stock == null && !required) return;
    if (stock != null) {
      unregisterKernel(name, WASM);
      restore.push(stock);
    }
    const stockFunc = (stock?.kernelFunc ??
      (() => {
        throw new Error(`@ssd/backend: the wasm backend has no ${name} kernel`);
      })) as unknown as KernelArgsFunc;
    registerKernel({
      kernelName: name,
      backendName: WASM,
      ...(stock?.setupFunc ? { setupFunc: stock.setupFunc } : {}),
      kernelFunc: make(stockFunc) as unknown as KernelFunc,
    });
    registered.push(name);
  };

  replace(Conv2DBackpropFilter, () => conv2DBackpropFilterWasm, true);
  replace(
    Conv2DBackpropInput,
    (stock) => (args) =>
      conv2DBackpropInputFast(
        args.inputs,
        args.backend,
        args.attrs as unknown as Conv2DBackpropInputAttrs,
      ) ?? stock(args),
  );
  // Stock wasm OneHot ignores `dtype` and writes int32 bits into a float32
  // output (1 reads as 1.4e-45), which zeroes every one-hot cross-entropy:
  // compute it as int32 and cast.
  replace(OneHot, (stock) => (args) => oneHotWithDtype(args, stock));
  // Heap-to-heap copies instead of the stock ones, which read the whole input out first.
  replace(Slice, makeSliceKernel);
  replace(SplitV, makeSplitVKernel);
  replace(MaxPoolGrad, (stock) => (args) => maxPoolGradOnHeap(args) ?? stock(args));
  replace(Identity, (stock) => (args) => shareIdentity(args) ?? stock(args));

  const handle: WasmTrainingKernels = {
    registered,
    unregister() {
      for (const name of registered) unregisterKernel(name, WASM);
      for (const config of restore) registerKernel(config);
      installed = null;
    },
  };
  installed = handle;
  return handle;
}
