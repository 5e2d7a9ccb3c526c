import type { PadV2Attrs, TensorInfo } from '@tensorflow/tfjs-core';

import { padOnHeap, type KernelArgs, type KernelArgsFunc } from './heap';

/** A `PadV2` kernel function over {@link padOnHeap}, falling back to `stock`. */
export function makePadV2Kernel(stock: KernelArgsFunc) {
  return (args: KernelArgs): TensorInfo | TensorInfo[] => {
    const x = args.inputs.x as TensorInfo;
    const attrs = args.attrs as unknown as PadV2Attrs;
    return padOnHeap(args.backend, x, attrs.paddings, attrs.constantValue) ?? stock(args);
  };
}
