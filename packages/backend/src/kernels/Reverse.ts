import { util, type ReverseAttrs, type TensorInfo } from '@tensorflow/tfjs-core';

import type { HeapBackend, KernelArgs } from './heap';

/**
 * `Reverse` on the wasm heap: the trailing dimensions that are not reversed
 * stay one contiguous run, copied whole to its mirrored place (SSD's atrous
 * `fc6` gradient flips a `[3, 3, Cin, Cout]` kernel: 9 runs of Cin·Cout). The
 * stock kernel costs milliseconds for such a flip. Returns null for dtypes it
 * does not handle and for scalars; the caller then uses the stock kernel.
 */
export function reverseOnHeap(args: KernelArgs): TensorInfo | null {
  const x = args.inputs.x as TensorInfo;
  if (x.dtype !== 'float32' && x.dtype !== 'int32' && x.dtype !== 'bool') return null;
  if (x.shape.length === 0) return null;
  const shape = x.shape;
  const axes = new Set(util.parseAxisParam((args.attrs as unknown as ReverseAttrs).dims, shape));
  const heap = args.backend as unknown as HeapBackend;
  const out = heap.makeOutput(shape.slice(), x.dtype);
  const total = util.sizeFromShape(shape);
  if (total === 0) return out;
  // Views are taken after makeOutput, which may grow (and detach) the heap.
  const src = heap.typedArrayFromHeap(x);
  const dst = heap.typedArrayFromHeap(out);
  let d = shape.length - 1;
  let run = 1;
  while (d >= 0 && !axes.has(d)) run *= shape[d--] as number;
  if (d < 0) {
    dst.set(src.subarray(0, total));
    return out;
  }
  const outer = shape.slice(0, d + 1);
  const strides = util.computeStrides(outer);
  strides.push(1);
  const index = new Array<number>(outer.length).fill(0);
  for (let from = 0; from < total; from += run) {
    let to = 0;
    for (let k = 0; k < outer.length; k++) {
      const i = index[k] as number;
      to += (axes.has(k) ? (outer[k] as number) - 1 - i : i) * (strides[k] as number);
    }
    to *= run;
    if (run === 1) dst[to] = src[from] as number;
    else dst.set(src.subarray(from, from + run), to);
    for (let k = outer.length - 1; k >= 0; k--) {
      index[k] = (index[k] as number) + 1;
      if ((index[k] as number) < (outer[k] as number)) break;
      index[k] = 0;
    }
  }
  return out;
}
