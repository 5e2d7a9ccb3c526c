/**
 * What the wasm kernels share: the backend's heap methods they use, the kernel
 * function signature, and a slice copied heap to heap.
 */
import {
  util,
  type KernelBackend,
  type NamedAttrMap,
  type NamedTensorInfoMap,
  type TensorInfo,
} from '@tensorflow/tfjs-core';

/** The tfjs backend name these kernels register for. */
export const WASM = 'wasm';

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

/** The tfjs-backend-wasm 4.22 internal that maps a tensor to its place on the heap. */
interface OffsetBackend {
  dataIdMap: { get(dataId: object): { memoryOffset: number } | undefined };
}

/**
 * Whether `backend` has the internal {@link heapOffset} reads (tfjs-backend-wasm
 * 4.22's); kernels that need it take another route where it has not.
 */
export function hasHeapOffsets(backend: KernelBackend): boolean {
  return typeof (backend as unknown as Partial<OffsetBackend>).dataIdMap?.get === 'function';
}

/**
 * The heap byte offset of `x`'s values (check {@link hasHeapOffsets} first).
 */
export function heapOffset(backend: KernelBackend, x: TensorInfo): number {
  const data = (backend as unknown as OffsetBackend).dataIdMap.get(x.dataId);
  if (data == null) throw new Error('@ssd/backend: a tensor that is not on the wasm heap');
  return data.memoryOffset;
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
  const { d, run } = trailingRun(shape, (k) => size[k] === shape[k]);
  if (d < 0) {
    dst.set(src.subarray(0, total));
    return out;
  }
  const runLength = run * (size[d] as number);
  const strides = util.computeStrides(shape as number[]);
  strides.push(1);
  // Outer dimensions 0..d-1 are iterated; dimension d and below form a run.
  const outer = size.slice(0, d) as number[];
  copyRuns(src, dst, outer, runLength, {
    from: begin.reduce((acc, b, k) => acc + b * (strides[k] as number), 0),
    fromStrides: strides,
    to: 0,
    toStrides: contiguousStrides(outer, runLength),
  });
  return out;
}

/**
 * `x` padded with `constantValue` (`paddings[d]` = [before, after] per
 * dimension) on the wasm heap. The stock kernel moves one element at a time;
 * here the output is filled once and the input copied in runs: the trailing
 * unpadded dimensions merge with the last padded one into one contiguous run
 * (an NHWC spatial pad copies one image row of W·C values per `set`). Returns
 * null for dtypes it does not handle; the caller then uses the stock kernel.
 */
export function padOnHeap(
  backend: KernelBackend,
  x: TensorInfo,
  paddings: readonly (readonly [number, number])[],
  constantValue: number,
): TensorInfo | null {
  if (x.dtype !== 'float32' && x.dtype !== 'int32' && x.dtype !== 'bool') return null;
  if (paddings.length !== x.shape.length) return null;
  const heap = backend as unknown as HeapBackend;
  const shape = x.shape;
  const outShape = shape.map((n, k) => (paddings[k]![0] as number) + n + paddings[k]![1]);
  const out = heap.makeOutput(outShape, x.dtype);
  const total = util.sizeFromShape(shape);
  // Views are taken after makeOutput, which may grow (and detach) the heap.
  const dst = heap.typedArrayFromHeap(out);
  dst.fill(constantValue);
  if (total === 0) return out;
  const src = heap.typedArrayFromHeap(x);

  const { d, run } = trailingRun(shape, (k) => paddings[k]![0] === 0 && paddings[k]![1] === 0);
  if (d < 0) {
    dst.set(src.subarray(0, total));
    return out;
  }
  const runLength = run * (shape[d] as number);
  const outStrides = util.computeStrides(outShape);
  outStrides.push(1);
  const outer = shape.slice(0, d);
  copyRuns(src, dst, outer, runLength, {
    from: 0,
    fromStrides: contiguousStrides(outer, runLength),
    to: paddings.reduce((acc, p, k) => acc + p[0] * (outStrides[k] as number), 0),
    toStrides: outStrides,
  });
  return out;
}

type Values = Float32Array | Int32Array | Uint8Array;

/**
 * The trailing dimensions copied whole (`whole(k)`): `run` values per index of
 * the dimensions before them, and `d`, the last dimension that is not whole
 * (−1 when all are: one contiguous copy).
 */
function trailingRun(shape: readonly number[], whole: (k: number) => boolean) {
  let d = shape.length - 1;
  let run = 1;
  while (d >= 0 && whole(d)) run *= shape[d--] as number;
  return { d, run };
}

/** Strides of the outer dimensions of a contiguous `[...outer, runLength]` array. */
function contiguousStrides(outer: readonly number[], runLength: number): number[] {
  return util.computeStrides([...outer, runLength]).slice(0, outer.length);
}

/**
 * For every index of `outer` (row-major), copies `runLength` values from
 * `src[from + index·fromStrides]` to `dst[to + index·toStrides]`: one `set` per
 * run, or a plain loop for runs too short to pay for a `set`.
 */
function copyRuns(
  src: Values,
  dst: Values,
  outer: readonly number[],
  runLength: number,
  at: { from: number; fromStrides: readonly number[]; to: number; toStrides: readonly number[] },
): void {
  const index = new Array<number>(outer.length).fill(0);
  const runs = util.sizeFromShape(outer as number[]);
  for (let r = 0; r < runs; r++) {
    let from = at.from;
    let to = at.to;
    for (let k = 0; k < outer.length; k++) {
      from += (index[k] as number) * (at.fromStrides[k] as number);
      to += (index[k] as number) * (at.toStrides[k] as number);
    }
    if (runLength >= MIN_SET_RUN) {
      dst.set(src.subarray(from, from + runLength), to);
    } else {
      for (let i = 0; i < runLength; i++) dst[to + i] = src[from + i] as number;
    }
    for (let k = outer.length - 1; k >= 0; k--) {
      index[k] = (index[k] as number) + 1;
      if ((index[k] as number) < (outer[k] as number)) break;
      index[k] = 0;
    }
  }
}
