import { slice_util, type SliceAttrs, type TensorInfo } from '@tensorflow/tfjs-core';

import { sliceOnHeap, type KernelArgs, type KernelArgsFunc } from './heap';

/** A `Slice` kernel function over {@link sliceOnHeap}, falling back to `stock`. */
export function makeSliceKernel(stock: KernelArgsFunc) {
  return (args: KernelArgs): TensorInfo | TensorInfo[] => {
    const x = args.inputs.x as TensorInfo;
    const attrs = args.attrs as unknown as SliceAttrs;
    const [begin, size] = slice_util.parseSliceParams(x, attrs.begin, attrs.size);
    return sliceOnHeap(args.backend, x, begin, size) ?? stock(args);
  };
}
