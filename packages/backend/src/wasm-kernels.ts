/**
 * Registration of the wasm training kernels; one kernel per file in `kernels/`,
 * as tfjs lays out its own.
 */
import {
  Conv2D,
  Conv2DBackpropFilter,
  Conv2DBackpropInput,
  FusedConv2D,
  getKernel,
  Identity,
  MaxPoolGrad,
  OneHot,
  PadV2,
  Reverse,
  Slice,
  SplitV,
  registerKernel,
  unregisterKernel,
  type Conv2DAttrs,
  type Conv2DBackpropInputAttrs,
  type FusedConv2DAttrs,
  type KernelConfig,
  type KernelFunc,
} from '@tensorflow/tfjs-core';

import { conv2DOnHeap } from './kernels/Conv2D';
import { conv2DBackpropFilterWasm } from './kernels/Conv2DBackpropFilter';
import { conv2DBackpropInputFast } from './kernels/Conv2DBackpropInput';
import { WASM, type KernelArgsFunc } from './kernels/heap';
import { shareIdentity } from './kernels/Identity';
import { maxPoolGradOnHeap } from './kernels/MaxPoolGrad';
import { oneHotWithDtype } from './kernels/OneHot';
import { makePadV2Kernel } from './kernels/PadV2';
import { reverseOnHeap } from './kernels/Reverse';
import { makeSliceKernel } from './kernels/Slice';
import { makeSplitVKernel } from './kernels/SplitV';

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
 * `Slice`, `SplitV`, `PadV2`, `Reverse` and `MaxPoolGrad` that work on the wasm heap directly and an
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
    Conv2D,
    (stock) => (args) =>
      conv2DOnHeap(args.inputs, args.backend, args.attrs as unknown as Conv2DAttrs) ?? stock(args),
  );
  replace(
    FusedConv2D,
    (stock) => (args) =>
      conv2DOnHeap(args.inputs, args.backend, args.attrs as unknown as FusedConv2DAttrs) ??
      stock(args),
  );
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
  replace(PadV2, makePadV2Kernel);
  replace(Reverse, (stock) => (args) => reverseOnHeap(args) ?? stock(args));
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
