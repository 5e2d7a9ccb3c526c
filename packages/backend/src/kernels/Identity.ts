import type { TensorInfo } from '@tensorflow/tfjs-core';

import type { KernelArgs } from './heap';

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
