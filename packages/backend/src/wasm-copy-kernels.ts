import {
  backend_util,
  slice_util,
  util,
  type KernelBackend,
  type MaxPoolGradAttrs,
  type NamedAttrMap,
  type NamedTensorInfoMap,
  type SliceAttrs,
  type SplitVAttrs,
  type TensorInfo,
} from '@tensorflow/tfjs-core';

/** The two public methods of tfjs-backend-wasm's `BackendWasm` used for heap copies. */
export interface HeapBackend {
  makeOutput(
    shape: number[],
    dtype: 'float32' | 'int32' | 'bool',
    memoryOffset?: number,
    values?: Float32Array,
  ): TensorInfo;
  typedArrayFromHeap(t: TensorInfo): Float32Array | Int32Array | Uint8Array;
}

/** What a kernel function receives. */
export interface KernelArgs {
  inputs: NamedTensorInfoMap;
  backend: KernelBackend;
  attrs: NamedAttrMap;
}
export type KernelArgsFunc = (args: KernelArgs) => TensorInfo | TensorInfo[];

/** Runs shorter than this are copied element by element (a `set` per run costs more). */
const MIN_SET_RUN = 32;

/**
 * `x[begin : begin + size]` on the wasm heap. The stock kernel first copies the
 * whole input out of the heap (`readSync`), then copies rows of the innermost
 * dimension one `set` call at a time, which costs milliseconds for the narrow
 * `[batch, anchors, 4]` slices of SSD's head gradients. Here the trailing
 * dimensions taken whole are merged into one contiguous run, and short runs are
 * copied with a plain loop. Returns null for dtypes it does not handle (string,
 * complex64); the caller then uses the stock kernel.
 */
export function sliceOnHeap(
  backend: KernelBackend,
  x: TensorInfo,
  begin: readonly number[],
  size: readonly number[],
): TensorInfo | null {
  if (x.dtype !== 'float32' && x.dtype !== 'int32' && x.dtype !== 'bool') return null;
  const heap = backend as unknown as HeapBackend;
  const shape = x.shape;
  const out = heap.makeOutput(size.slice(), x.dtype);
  const total = util.sizeFromShape(size as number[]);
  if (total === 0) return out;
  // Views are taken after makeOutput, which may grow (and detach) the heap.
  const src = heap.typedArrayFromHeap(x);
  const dst = heap.typedArrayFromHeap(out);

  // Trailing dimensions taken whole merge into one contiguous run, and so
  // does the last partial dimension d before them.
  let d = shape.length - 1;
  let run = 1;
  while (d >= 0 && size[d] === shape[d]) {
    run *= shape[d] as number;
    d--;
  }
  if (d < 0) {
    dst.set(src.subarray(0, total));
    return out;
  }
  const runLength = run * (size[d] as number);
  const strides = util.computeStrides(shape as number[]);
  strides.push(1);
  // Outer dimensions 0..d-1 are iterated; dimension d and below form a run.
  const outer = size.slice(0, d) as number[];
  const index = new Array<number>(outer.length).fill(0);
  const baseOffset = begin.reduce((acc, b, k) => acc + b * (strides[k] as number), 0);
  const runs = total / runLength;
  let o = 0;
  for (let r = 0; r < runs; r++) {
    let from = baseOffset;
    for (let k = 0; k < outer.length; k++) from += (index[k] as number) * (strides[k] as number);
    if (runLength >= MIN_SET_RUN) {
      dst.set(src.subarray(from, from + runLength), o);
    } else {
      for (let i = 0; i < runLength; i++) dst[o + i] = src[from + i] as number;
    }
    o += runLength;
    for (let k = outer.length - 1; k >= 0; k--) {
      index[k] = (index[k] as number) + 1;
      if ((index[k] as number) < (outer[k] as number)) break;
      index[k] = 0;
    }
  }
  return out;
}

/** A `Slice` kernel function over {@link sliceOnHeap}, falling back to `stock`. */
export function makeSliceKernel(stock: KernelArgsFunc) {
  return (args: KernelArgs): TensorInfo | TensorInfo[] => {
    const x = args.inputs.x as TensorInfo;
    const attrs = args.attrs as unknown as SliceAttrs;
    const [begin, size] = slice_util.parseSliceParams(x, attrs.begin, attrs.size);
    return sliceOnHeap(args.backend, x, begin, size) ?? stock(args);
  };
}

/** A `SplitV` kernel function: one {@link sliceOnHeap} per piece, falling back to `stock`. */
export function makeSplitVKernel(stock: KernelArgsFunc) {
  return (args: KernelArgs): TensorInfo | TensorInfo[] => {
    const x = args.inputs.x as TensorInfo;
    if (x.dtype !== 'float32' && x.dtype !== 'int32' && x.dtype !== 'bool') return stock(args);
    const attrs = args.attrs as unknown as SplitVAttrs;
    const axis = util.parseAxisParam(attrs.axis, x.shape)[0] as number;
    const sizes = backend_util.prepareSplitSize(x as never, attrs.numOrSizeSplits, axis);
    const begin = new Array<number>(x.shape.length).fill(0);
    const size = x.shape.slice();
    const pieces: TensorInfo[] = [];
    for (const s of sizes) {
      size[axis] = s;
      pieces.push(sliceOnHeap(args.backend, x, begin, size) as TensorInfo);
      begin[axis] = (begin[axis] as number) + s;
    }
    return pieces;
  };
}

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

/**
 * `Identity` that shares the input's memory (one more reference to it), as the
 * cpu backend does, instead of copying it; tfjs calls it hundreds of times per
 * training step (`clone`, gradients that pass `dy` through). Safe because no
 * kernel writes into its inputs. Returns null for strings (stock kernel).
 */
export function shareIdentity(args: KernelArgs): TensorInfo | null {
  const x = args.inputs.x as TensorInfo;
  if (x.dtype === 'string') return null;
  args.backend.incRef(x.dataId);
  return { dataId: x.dataId, shape: x.shape, dtype: x.dtype };
}
