import { backend_util, util, type SplitVAttrs, type TensorInfo } from '@tensorflow/tfjs-core';

import { sliceOnHeap, type KernelArgs, type KernelArgsFunc } from './heap';

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
