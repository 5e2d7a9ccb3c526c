import type { TensorInfo } from '@tensorflow/tfjs-core';

import type { HeapBackend, KernelArgs, KernelArgsFunc } from './heap';
import { KernelScope } from './kernel-scope';

/** `OneHot` for a float `dtype`: the stock kernel at int32, then a cast (and scale). */
export function oneHotWithDtype(
  args: KernelArgs,
  stock: KernelArgsFunc,
): TensorInfo | TensorInfo[] {
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
