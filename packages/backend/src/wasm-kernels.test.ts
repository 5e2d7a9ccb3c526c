import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-core/dist/register_all_gradients';
import '@tensorflow/tfjs-backend-wasm';
import {
  Conv2DBackpropInput,
  getKernel,
  type KernelBackend,
  type NamedAttrMap,
  util,
} from '@tensorflow/tfjs-core';
import { expectArrayClose, testRng } from '@ssd/testing';
import { describe, expect, it, onTestFinished } from 'vitest';
import { conv2DBackpropFilterWasm } from './kernels/Conv2DBackpropFilter';
import { conv2DOnHeap } from './kernels/Conv2D';
import { configureWasmGemm, gemmFor } from './kernels/gemm';
import { hasHeapOffsets, type HeapBackend } from './kernels/heap';
import { registerWasmTrainingKernels } from './wasm-kernels';
import { onWasmWithTrainingKernels } from './wasm-test-setup';

type Pad = 'same' | 'valid' | [[0, 0], [number, number], [number, number], [0, 0]];
interface Case {
  batch: number;
  height: number;
  width: number;
  inChannels: number;
  outChannels: number;
  kernel: number;
  /** Kernel width when it differs from `kernel` (the height). */
  kernelWidth?: number;
  stride: number;
  pad: Pad;
}

const cases: Case[] = [];
for (const kernel of [1, 3]) {
  for (const stride of [1, 2]) {
    for (const pad of [
      'same',
      'valid',
      [
        [0, 0],
        [1, 2],
        [2, 0],
        [0, 0],
      ],
    ] as Pad[]) {
      cases.push({
        batch: 2,
        height: 9,
        width: 7,
        inChannels: 3,
        outChannels: 5,
        kernel,
        stride,
        pad,
      });
    }
  }
}
// Even sizes, batch 3, a wider layer, a non-square stride and an oversized explicit pad.
cases.push({
  batch: 3,
  height: 10,
  width: 12,
  inChannels: 4,
  outChannels: 6,
  kernel: 3,
  stride: 2,
  pad: 'same',
});
cases.push({
  batch: 3,
  height: 11,
  width: 11,
  inChannels: 16,
  outChannels: 8,
  kernel: 3,
  stride: 1,
  pad: 'valid',
});
cases.push({
  batch: 2,
  height: 13,
  width: 13,
  inChannels: 8,
  outChannels: 8,
  kernel: 3,
  stride: 1,
  pad: [
    [0, 0],
    [4, 4],
    [4, 4],
    [0, 0],
  ],
});
// Stride 2 with 32 channels each way: the forward conv runs on the GEMM, its input
// gradient (the zero-interleaved output gradient, convolved at stride 1) by Winograd.
cases.push({
  batch: 1,
  height: 9,
  width: 8,
  inChannels: 32,
  outChannels: 32,
  kernel: 3,
  stride: 2,
  pad: 'same',
});

// Deep: by Winograd here; with Winograd off (its own test) the forward conv
// (3×3×344 = 3096) and the input gradient's (3×3×352) run tap by tap (GemmCall.split).
const deep: Case = {
  batch: 1,
  height: 4,
  width: 3,
  inChannels: 344,
  outChannels: 352,
  kernel: 3,
  stride: 1,
  pad: 'same',
};
cases.push(deep);

// Winograd F(2×2, 3×3) (3×3 stride 1, ≥ 32 channels each way), forward and input
// gradient: odd sizes (partial tiles), a partial last panel (40 outputs), channels
// not a multiple of 8 (36), 'valid' and an uneven explicit pad.
cases.push({
  batch: 2,
  height: 9,
  width: 7,
  inChannels: 32,
  outChannels: 40,
  kernel: 3,
  stride: 1,
  pad: 'same',
});
cases.push({
  batch: 1,
  height: 8,
  width: 10,
  inChannels: 36,
  outChannels: 32,
  kernel: 3,
  stride: 1,
  pad: 'valid',
});
cases.push({
  batch: 1,
  height: 6,
  width: 5,
  inChannels: 32,
  outChannels: 32,
  kernel: 3,
  stride: 1,
  pad: [
    [0, 0],
    [2, 0],
    [1, 2],
    [0, 0],
  ],
});

// The filter gradient's im2col rows cross channel and phase boundaries: a stride
// larger than the kernel, a 1×1 kernel at stride 2, and the shapes' network's
// small-channel layers (3 → 8 and 8 → 8 at batch 4, one row past a phase's end).
cases.push({
  batch: 2,
  height: 11,
  width: 10,
  inChannels: 3,
  outChannels: 4,
  kernel: 2,
  stride: 3,
  pad: 'same',
});
cases.push({
  batch: 2,
  height: 9,
  width: 9,
  inChannels: 5,
  outChannels: 3,
  kernel: 1,
  stride: 2,
  pad: 'valid',
});
for (const inChannels of [3, 8]) {
  cases.push({
    batch: 4,
    height: 16,
    width: 16,
    inChannels,
    outChannels: 8,
    kernel: 3,
    stride: 1,
    pad: 'same',
  });
}

// Stride 1 without im2col (from MIN_VIEW_CHANNELS = 8 input channels): every tap
// is a shifted window of xᵀ read as a dense matrix, whose rows run into the next
// channel (and the last into a zero row) where dy's grid padding is: a non-square
// kernel with an asymmetric pad, and a single image whose last tap reads furthest
// past the end.
cases.push({
  batch: 2,
  height: 6,
  width: 9,
  inChannels: 8,
  outChannels: 3,
  kernel: 2,
  kernelWidth: 3,
  stride: 1,
  pad: [
    [0, 0],
    [0, 1],
    [2, 1],
    [0, 0],
  ],
});
cases.push({
  batch: 1,
  height: 5,
  width: 5,
  inChannels: 9,
  outChannels: 2,
  kernel: 3,
  stride: 1,
  pad: 'same',
});

function randomArray(size: number, rng: () => number): Float32Array {
  const out = new Float32Array(size);
  for (let i = 0; i < size; i++) out[i] = rng() * 2 - 1;
  return out;
}

/**
 * The seeded inputs of a case on the active backend: x, w, and r (the output's
 * gradient, shaped as conv(x, w)). The caller disposes them.
 */
function convInputs(c: Case, seed: number): { x: tf.Tensor4D; w: tf.Tensor4D; r: tf.Tensor4D } {
  const rng = testRng(seed);
  const xShape: [number, number, number, number] = [c.batch, c.height, c.width, c.inChannels];
  const wShape: [number, number, number, number] = [
    c.kernel,
    c.kernelWidth ?? c.kernel,
    c.inChannels,
    c.outChannels,
  ];
  const x = tf.tensor4d(randomArray(util.sizeFromShape(xShape), rng), xShape);
  const w = tf.tensor4d(randomArray(util.sizeFromShape(wShape), rng), wShape);
  const outShape = tf.tidy(() => tf.conv2d(x, w, c.stride, c.pad).shape);
  const r = tf.tensor4d(randomArray(util.sizeFromShape(outShape), rng), outShape);
  return { x, w, r };
}

/** Gradients of Σ(conv(x, w) · r) with respect to x and w on the active backend. */
async function convGrads(c: Case, seed: number): Promise<{ dx: Float32Array; dw: Float32Array }> {
  const { x, w, r } = convInputs(c, seed);
  const [dx, dw] = tf.tidy(() =>
    tf.grads((a: tf.Tensor, b: tf.Tensor) =>
      tf.sum(tf.mul(tf.conv2d(a as tf.Tensor4D, b as tf.Tensor4D, c.stride, c.pad), r)),
    )([x, w]),
  ) as [tf.Tensor, tf.Tensor];
  const out = { dx: (await dx.data()) as Float32Array, dw: (await dw.data()) as Float32Array };
  tf.dispose([x, w, r, dx, dw]);
  return out;
}

function relativeTolerance(expected: Float32Array) {
  let scale = 0;
  for (const v of expected) scale = Math.max(scale, Math.abs(v));
  return { atol: 1e-4 * scale, rtol: 1e-4 };
}

describe('wasm training kernels', () => {
  onWasmWithTrainingKernels();

  it.each(cases.map((c) => [JSON.stringify(c), c] as const))(
    'conv2d gradients agree with cpu within 1e-4 relative: %s',
    async (_name, c) => {
      await tf.setBackend('cpu');
      const expected = await convGrads(c, 7);
      await tf.setBackend('wasm');
      const actual = await convGrads(c, 7);
      expectArrayClose(actual.dw, expected.dw, relativeTolerance(expected.dw));
      expectArrayClose(actual.dx, expected.dx, relativeTolerance(expected.dx));
    },
  );

  it.each(cases.map((c) => [JSON.stringify(c), c] as const))(
    'conv2d and fused conv2d (bias, ReLU) agree with cpu within 1e-4 relative: %s',
    async (_name, c) => {
      const forward = async () => {
        const { x, w, r } = convInputs(c, 11);
        const bias = tf.tensor1d(randomArray(c.outChannels, testRng(12)));
        const plain = tf.conv2d(x, w, c.stride, c.pad);
        const fused = tf.fused.conv2d({
          x,
          filter: w,
          strides: c.stride,
          pad: c.pad,
          bias,
          activation: 'relu',
        });
        const out = {
          plain: (await plain.data()) as Float32Array,
          fused: (await fused.data()) as Float32Array,
        };
        tf.dispose([x, w, r, bias, plain, fused]);
        return out;
      };
      await tf.setBackend('cpu');
      const expected = await forward();
      await tf.setBackend('wasm');
      const actual = await forward();
      expectArrayClose(actual.plain, expected.plain, relativeTolerance(expected.plain));
      expectArrayClose(actual.fused, expected.fused, relativeTolerance(expected.fused));
      expect(expected.fused.some((v) => v === 0) && expected.fused.some((v) => v > 0)).toBe(true);
    },
  );

  it.each([
    ['dilation 2, same', { dilation: 2, pad: 'same' as const, kernel: 3, inChannels: 5 }],
    ['dilation 3, explicit pad', { dilation: 3, pad: 3, kernel: 3, inChannels: 8 }],
    [
      '1×1, one product over every pixel',
      { dilation: 1, pad: 'valid' as const, kernel: 1, inChannels: 7 },
    ],
    [
      'a filter wide enough to be packed (96 outputs over 90 rows)',
      { dilation: 1, pad: 'same' as const, kernel: 3, inChannels: 10, outChannels: 96 },
    ],
    [
      'a deep reduction run tap by tap (3×3×352), dilation 2',
      { dilation: 2, pad: 'same' as const, kernel: 3, inChannels: 352, outChannels: 16 },
    ],
  ] as Array<
    [
      string,
      {
        dilation: number;
        pad: 'same' | 'valid' | number;
        kernel: number;
        inChannels: number;
        outChannels?: number;
      },
    ]
  >)('conv2d, %s, agrees with cpu (and leaky ReLU, left to the stock kernel)', async (_n, d) => {
    const forward = async () => {
      const rng = testRng(21);
      const x = tf.tensor4d(randomArray(2 * 11 * 10 * d.inChannels, rng), [
        2,
        11,
        10,
        d.inChannels,
      ]);
      const outChannels = d.outChannels ?? 12;
      const w = tf.tensor4d(randomArray(d.kernel * d.kernel * d.inChannels * outChannels, rng), [
        d.kernel,
        d.kernel,
        d.inChannels,
        outChannels,
      ]);
      const y = tf.conv2d(x, w, 1, d.pad, 'NHWC', d.dilation);
      const leaky = tf.fused.conv2d({
        x,
        filter: w,
        pad: d.pad,
        strides: 1,
        activation: 'leakyrelu',
        leakyreluAlpha: 0.1,
      });
      const out = {
        y: (await y.data()) as Float32Array,
        leaky: (await leaky.data()) as Float32Array,
      };
      tf.dispose([x, w, y, leaky]);
      return out;
    };
    await tf.setBackend('cpu');
    const expected = await forward();
    await tf.setBackend('wasm');
    const actual = await forward();
    expectArrayClose(actual.y, expected.y, relativeTolerance(expected.y));
    expectArrayClose(actual.leaky, expected.leaky, relativeTolerance(expected.leaky));
  });

  it('runs conv2d on the GEMM, leaves what it does not cover to XNNPACK, and handles no channels', async () => {
    await tf.setBackend('wasm');
    const backend = tf.backend();
    const x = tf.ones([1, 5, 5, 8]);
    const filter = tf.ones([3, 3, 8, 8]);
    const attrs = { strides: 1, pad: 'same', dataFormat: 'NHWC', dilations: 1 } as const;
    const y = conv2DOnHeap({ x, filter }, backend, attrs as unknown as tf.Conv2DAttrs);
    expect(y?.shape).toEqual([1, 5, 5, 8]);
    backend.disposeData(y!.dataId);
    const nchw = { ...attrs, dataFormat: 'NCHW' } as unknown as tf.Conv2DAttrs;
    expect(conv2DOnHeap({ x, filter }, backend, nchw)).toBeNull();
    const leaky = { ...attrs, activation: 'leakyrelu' } as unknown as tf.FusedConv2DAttrs;
    expect(conv2DOnHeap({ x, filter }, backend, leaky)).toBeNull();
    // No input channels: the bias (then ReLU) everywhere, and a zero kernel gradient.
    const empty = tf.zeros([1, 4, 4, 0]);
    const emptyFilter = tf.zeros([3, 3, 0, 2]);
    const bias = tf.tensor1d([0.5, -1]);
    const z = tf.fused.conv2d({
      x: empty as tf.Tensor4D,
      filter: emptyFilter as tf.Tensor4D,
      strides: 1,
      pad: 'same',
      bias,
      activation: 'relu',
    });
    expect(Array.from(await z.data())).toEqual(new Array(16).fill([0.5, 0]).flat());
    const dw = tf
      .engine()
      .runKernel(
        'Conv2DBackpropFilter',
        { x: empty, dy: z },
        { strides: 1, pad: 'same', dataFormat: 'NHWC', filterShape: [3, 3, 0, 2] },
      ) as tf.Tensor;
    expect(dw.shape).toEqual([3, 3, 0, 2]);
    tf.dispose([x, filter, empty, emptyFilter, bias, z, dw]);
  });

  it('runs 3×3 stride-1 convolutions of ≥ 32 channels by Winograd, or directly when switched off', async () => {
    const c = cases.find((k) => k.inChannels === 32 && k.outChannels === 40)!;
    const forwardOf = async (k: Case) => {
      const { x, w, r } = convInputs(k, 13);
      const y = tf.conv2d(x, w, k.stride, k.pad);
      const out = (await y.data()) as Float32Array;
      tf.dispose([x, w, r, y]);
      return out;
    };
    const forward = () => forwardOf(c);
    await tf.setBackend('cpu');
    const expected = await forward();
    await tf.setBackend('wasm');
    // Which routes run: the GEMM's calls (split or not) and the Winograd transforms.
    const gemm = gemmFor(tf.backend())!;
    const { run, winogradInput } = gemm;
    const calls: Array<{ split: boolean; reps: number }> = [];
    let transforms = 0;
    gemm.run = (call) => {
      calls.push({ split: call.split === true, reps: call.reps ?? 1 });
      run.call(gemm, call);
    };
    gemm.winogradInput = (...args) => {
      transforms++;
      winogradInput.apply(gemm, args);
    };
    onTestFinished(() => {
      gemm.run = run;
      gemm.winogradInput = winogradInput;
    });
    // (convInputs runs the convolution once for its output shape: two calls each.)
    const winograd = await forward();
    expect(transforms).toBe(2);
    expect(calls).toEqual(new Array(2).fill({ split: false, reps: 16 }));
    calls.length = 0;
    expect(configureWasmGemm({ winograd: false }).winograd).toBe(false);
    try {
      const direct = await forward();
      expect(calls).toEqual(new Array(2).fill({ split: false, reps: 2 }));
      expectArrayClose(winograd, expected, relativeTolerance(expected));
      expectArrayClose(direct, expected, relativeTolerance(expected));
      // The two routes sum in different orders: some last bits differ.
      expect(Array.from(winograd)).not.toEqual(Array.from(direct));
      // More tiles than one chunk of the workspace holds (3 chunks of 31, 31 and 2
      // tile rows, one across the two images).
      const big = { ...c, batch: 2, height: 64, width: 62, outChannels: 36 };
      configureWasmGemm({ winograd: true });
      transforms = 0;
      const chunked = await forwardOf(big);
      expect(transforms).toBe(6);
      await tf.setBackend('cpu');
      const bigExpected = await forwardOf(big);
      await tf.setBackend('wasm');
      expectArrayClose(chunked, bigExpected, relativeTolerance(bigExpected));
      configureWasmGemm({ winograd: false });
      // With Winograd off, the deep case's reductions run tap by tap.
      const want = await (async () => {
        await tf.setBackend('cpu');
        const g = await convGrads(deep, 7);
        await tf.setBackend('wasm');
        return g;
      })();
      calls.length = 0;
      transforms = 0;
      const got = await convGrads(deep, 7);
      // The forward conv (twice) and the input gradient's, tap by tap; none by Winograd.
      expect(calls.filter((k) => k.split)).toHaveLength(3);
      expect(transforms).toBe(0);
      expectArrayClose(got.dx, want.dx, relativeTolerance(want.dx));
      expectArrayClose(got.dw, want.dw, relativeTolerance(want.dw));
    } finally {
      configureWasmGemm({ winograd: true });
    }
  });

  it('frees every Winograd workspace: one new data id per call', async () => {
    await tf.setBackend('wasm');
    const backend = tf.backend();
    const x = tf.ones([2, 9, 9, 32]);
    const w = tf.ones([3, 3, 32, 32]);
    const dy = tf.ones([2, 9, 9, 32]);
    const before = backend.numDataIds();
    const y = tf.conv2d(x as tf.Tensor4D, w as tf.Tensor4D, 1, 'same');
    const dx = tf.conv2dTranspose(dy as tf.Tensor4D, w as tf.Tensor4D, [2, 9, 9, 32], 1, 'same');
    expect(backend.numDataIds()).toBe(before + 2);
    // 3×3 = 9 taps of 32 ones, at the centre.
    expect((await y.data())[4 * 32 * 9 + 4 * 32]).toBe(288);
    tf.dispose([x, w, dy, y, dx]);
  });

  it.each([2, 1])(
    'frees every intermediate: one new data id per kernel call, stride %i',
    async (stride) => {
      await tf.setBackend('wasm');
      const out = Math.ceil(9 / stride);
      // 8 input channels, 3 output channels: the GEMM's packed operands and padded copies.
      const x = tf.ones([2, 9, 9, 8]);
      const dy = tf.ones([2, out, out, 3]);
      const w = tf.ones([3, 3, 8, 3]);
      const bias = tf.ones([3]);
      const backend = tf.backend();
      const before = backend.numDataIds();
      const dw = tf.engine().runKernel(
        'Conv2DBackpropFilter',
        { x, dy },
        {
          strides: stride,
          pad: 'same',
          dataFormat: 'NHWC',
          filterShape: [3, 3, 8, 3],
        },
      ) as tf.Tensor;
      const dx = tf.conv2dTranspose(
        dy as tf.Tensor4D,
        w as tf.Tensor4D,
        [2, 9, 9, 8],
        stride,
        'same',
      );
      const y = tf.fused.conv2d({
        x: x as tf.Tensor4D,
        filter: w as tf.Tensor4D,
        strides: stride,
        pad: 'same',
        bias,
        activation: 'relu',
      });
      expect(backend.numDataIds()).toBe(before + 3);
      expect(dw.shape).toEqual([3, 3, 8, 3]);
      expect(dx.shape).toEqual([2, 9, 9, 8]);
      expect(y.shape).toEqual([2, out, out, 3]);
      tf.dispose([x, dy, w, bias, dw, dx, y]);
    },
  );

  it.each([
    ['auto', true, 3],
    ['auto', false, 8],
    ['im2col', true, 8],
    ['im2col', false, 3],
  ] as const)(
    'the filter gradient by route %s (GEMM: %s) at stride 1 with %i input channels agrees with cpu',
    async (route, useGemm, channels) => {
      const c = cases.find((k) => k.stride === 1 && k.kernel === 3 && k.inChannels === channels)!;
      await tf.setBackend('cpu');
      const expected = await convGrads(c, 7);
      await tf.setBackend('wasm');
      expect(hasHeapOffsets(tf.backend())).toBe(true);
      expect(hasHeapOffsets({} as unknown as KernelBackend)).toBe(false);
      expect(gemmFor({} as unknown as KernelBackend)).toBeNull();
      // The x and dy (= r) convGrads drew.
      const { x, w, r: dy } = convInputs(c, 7);
      const attrs = {
        strides: [1, 1],
        pad: c.pad,
        dataFormat: 'NHWC',
        dimRoundingMode: undefined,
        filterShape: [3, 3, c.inChannels, c.outChannels],
      };
      const before = tf.backend().numDataIds();
      const dw = conv2DBackpropFilterWasm(
        { inputs: { x, dy }, backend: tf.backend(), attrs: attrs as unknown as NamedAttrMap },
        route,
        useGemm,
      );
      expect(tf.backend().numDataIds()).toBe(before + 1);
      const actual = (tf.backend() as unknown as HeapBackend).typedArrayFromHeap(
        dw,
      ) as Float32Array;
      expectArrayClose(actual, expected.dw, relativeTolerance(expected.dw));
      tf.backend().disposeData(dw.dataId);
      tf.dispose([x, w, dy]);
    },
  );

  it('keeps the stock Conv2DBackpropInput setup and restores the stock kernel on unregister', () => {
    const ours = getKernel(Conv2DBackpropInput, 'wasm');
    const handle = registerWasmTrainingKernels();
    expect(handle.registered).toEqual([
      'Conv2DBackpropFilter',
      'Conv2D',
      'FusedConv2D',
      'Conv2DBackpropInput',
      'OneHot',
      'Slice',
      'SplitV',
      'PadV2',
      'Reverse',
      'MaxPoolGrad',
      'Identity',
    ]);
    expect(ours?.setupFunc).toBeTypeOf('function');
    handle.unregister();
    const stock = getKernel(Conv2DBackpropInput, 'wasm');
    expect(stock?.kernelFunc).not.toBe(ours?.kernelFunc);
    expect(stock?.setupFunc).toBe(ours?.setupFunc);
    expect(getKernel('Conv2DBackpropFilter', 'wasm')).toBeUndefined();
    registerWasmTrainingKernels();
    expect(getKernel('Conv2DBackpropFilter', 'wasm')).toBeDefined();
  });

  it('OneHot honours a float dtype (the stock wasm kernel writes int32 bits)', async () => {
    await tf.setBackend('wasm');
    const indices = tf.tensor1d([0, 2, 1, -1], 'int32');
    const floats = tf.oneHot(indices, 3, 1, 0, 'float32');
    const ints = tf.oneHot(indices, 3);
    expect(floats.dtype).toBe('float32');
    expect(Array.from(await floats.data())).toEqual([1, 0, 0, 0, 0, 1, 0, 1, 0, 0, 0, 0]);
    expect(ints.dtype).toBe('int32');
    expect(Array.from(await ints.data())).toEqual([1, 0, 0, 0, 0, 1, 0, 1, 0, 0, 0, 0]);
    const scaled = tf.oneHot(indices, 3, 0.5, -0.25, 'float32');
    expect(Array.from(await scaled.data()).slice(0, 3)).toEqual([0.5, -0.25, -0.25]);
    tf.dispose([indices, floats, ints, scaled]);
  });

  /** Runs `f` on cpu and on wasm and returns both results as plain arrays. */
  async function onBoth(
    f: () => tf.Tensor | tf.Tensor[],
  ): Promise<{ cpu: number[][]; wasm: number[][] }> {
    const run = async (backend: string) => {
      await tf.setBackend(backend);
      const out = tf.tidy(f);
      const list = Array.isArray(out) ? out : [out];
      const values = await Promise.all(list.map(async (t) => Array.from(await t.data())));
      const shapes = list.map((t) => t.shape);
      tf.dispose(list);
      return { values, shapes };
    };
    const cpu = await run('cpu');
    const wasm = await run('wasm');
    expect(wasm.shapes).toEqual(cpu.shapes);
    return { cpu: cpu.values, wasm: wasm.values };
  }

  it.each([
    ['rank 1', [7], [2], [4]],
    ['rank 2, rows', [5, 6], [1, 0], [3, 6]],
    ['rank 2, columns', [5, 6], [0, 2], [5, 3]],
    ['rank 3, middle axis (a head gradient)', [3, 40, 4], [0, 12, 0], [3, 9, 4]],
    ['rank 4, every axis partial', [2, 5, 6, 3], [1, 1, 2, 1], [1, 3, 4, 2]],
    ['rank 5, long rows', [2, 2, 3, 2, 40], [0, 1, 1, 0, 0], [2, 1, 2, 2, 40]],
    ['empty', [4, 3], [1, 0], [0, 3]],
  ] as const)('Slice agrees with cpu: %s', async (_name, shape, begin, size) => {
    const n = shape.reduce((a, b) => a * b, 1);
    const values = Array.from({ length: n }, (_, i) => i * 3 - 7);
    for (const dtype of ['float32', 'int32', 'bool'] as const) {
      const { cpu, wasm } = await onBoth(() =>
        tf.slice(tf.tensor(values, [...shape], dtype), [...begin], [...size]),
      );
      expect(wasm).toEqual(cpu);
    }
  });

  it.each([
    [
      'NHWC spatial (a conv gradient)',
      [2, 5, 4, 3],
      [
        [0, 0],
        [1, 2],
        [2, 1],
        [0, 0],
      ],
      0,
    ],
    [
      'last axis only, short runs',
      [3, 4],
      [
        [0, 0],
        [1, 3],
      ],
      0,
    ],
    [
      'every axis, a constant',
      [2, 3, 2],
      [
        [1, 0],
        [0, 2],
        [3, 1],
      ],
      -1.5,
    ],
    [
      'rank 6 interleave (Conv2DBackpropInput)',
      [1, 3, 1, 4, 1, 2],
      [
        [0, 0],
        [0, 0],
        [0, 1],
        [0, 0],
        [0, 1],
        [0, 0],
      ],
      0,
    ],
    [
      'no padding',
      [4, 40],
      [
        [0, 0],
        [0, 0],
      ],
      0,
    ],
    [
      'empty input',
      [0, 3],
      [
        [1, 1],
        [0, 0],
      ],
      2,
    ],
  ] as const)('PadV2 agrees with cpu: %s', async (_name, shape, paddings, value) => {
    const n = (shape as readonly number[]).reduce((a, b) => a * b, 1);
    const values = Array.from({ length: n }, (_, i) => i * 3 - 7);
    for (const dtype of ['float32', 'int32', 'bool'] as const) {
      const { cpu, wasm } = await onBoth(() =>
        tf.pad(
          tf.tensor(values, [...shape], dtype),
          paddings.map((p) => [...p] as [number, number]),
          dtype === 'bool' ? 1 : value,
        ),
      );
      expect(wasm).toEqual(cpu);
    }
  });

  it.each([
    ['a conv kernel in space (atrous gradient)', [3, 3, 4, 5], [0, 1]],
    ['the last axis, single elements', [4, 6], [1]],
    ['every axis', [2, 3, 4], [0, 1, 2]],
    ['a middle axis, negative index', [2, 5, 3], [-2]],
    ['no axis', [3, 2], []],
  ] as const)('Reverse agrees with cpu: %s', async (_name, shape, dims) => {
    const n = (shape as readonly number[]).reduce((a, b) => a * b, 1);
    const values = Array.from({ length: n }, (_, i) => i * 3 - 7);
    for (const dtype of ['float32', 'int32', 'bool'] as const) {
      const { cpu, wasm } = await onBoth(() =>
        tf.reverse(tf.tensor(values, [...shape], dtype), [...dims]),
      );
      expect(wasm).toEqual(cpu);
    }
  });

  it('SplitV agrees with cpu on every axis, and the pieces are independent tensors', async () => {
    const values = Array.from({ length: 2 * 9 * 4 }, (_, i) => i + 0.5);
    for (const [axis, sizes] of [
      [0, [1, 1]],
      [1, [2, 3, 4]],
      [2, [1, 3]],
      [-1, [2, -1]],
    ] as const) {
      const { cpu, wasm } = await onBoth(() =>
        tf.split(tf.tensor3d(values, [2, 9, 4]), [...sizes], axis),
      );
      expect(wasm).toEqual(cpu);
    }
    await tf.setBackend('wasm');
    const x = tf.tensor2d([1, 2, 3, 4], [2, 2]);
    const [a, b] = tf.split(x, 2, 0) as [tf.Tensor, tf.Tensor];
    x.dispose();
    expect(Array.from(await a.data())).toEqual([1, 2]);
    expect(Array.from(await b.data())).toEqual([3, 4]);
    tf.dispose([a, b]);
  });

  it.each([
    ['2×2 stride 2 valid', 2, 2, 'valid' as const, [2, 8, 6, 5]],
    ['2×2 stride 2 valid, 8 channels (wasm SIMD)', 2, 2, 'valid' as const, [2, 8, 6, 8]],
    ['2×2 stride 2 same, odd size (ceil mode)', 2, 2, 'same' as const, [2, 7, 9, 3]],
    ['3×3 stride 1 same (overlapping windows, SSD pool5)', 3, 1, 'same' as const, [2, 6, 6, 4]],
    ['3×3 stride 2 valid', 3, 2, 'valid' as const, [1, 9, 7, 2]],
  ])(
    'MaxPoolGrad agrees with cpu, ties included: %s',
    async (_name, filter, stride, pad, shape) => {
      const n = shape.reduce((a, b) => a * b, 1);
      const rng = testRng(11);
      // Half the inputs are exact ties (ReLU zeros and a few repeated levels).
      const xs = Array.from({ length: n }, () => Math.max(0, Math.round(rng() * 8 - 4)));
      const probe = tf.tidy(() =>
        tf.maxPool(
          tf.zeros<tf.Rank.R4>(shape as [number, number, number, number]),
          filter,
          stride,
          pad,
        ),
      );
      const rs = Array.from({ length: probe.size }, () => rng() * 2 - 1);
      const outShape = probe.shape;
      probe.dispose();
      const { cpu, wasm } = await onBoth(() =>
        tf.grad((x: tf.Tensor) =>
          tf.sum(
            tf.mul(tf.maxPool(x as tf.Tensor4D, filter, stride, pad), tf.tensor(rs, outShape)),
          ),
        )(tf.tensor4d(xs, shape as [number, number, number, number])),
      );
      expectArrayClose(
        Float32Array.from(wasm[0] as number[]),
        Float32Array.from(cpu[0] as number[]),
        {
          atol: 1e-6,
          rtol: 1e-6,
        },
      );
    },
  );

  it('Identity shares memory: a clone outlives its source and frees it last', async () => {
    await tf.setBackend('wasm');
    const backend = tf.backend();
    const before = backend.numDataIds();
    const x = tf.tensor2d([1, 2, 3, 4], [2, 2]);
    const y = tf.clone(x);
    expect(backend.numDataIds()).toBe(before + 1);
    x.dispose();
    expect(Array.from(await y.data())).toEqual([1, 2, 3, 4]);
    const z = tf.add(y, 1);
    expect(Array.from(await z.data())).toEqual([2, 3, 4, 5]);
    tf.dispose([y, z]);
    expect(backend.numDataIds()).toBe(before);
    const strings = tf.tensor1d(['a', 'b'], 'string');
    const copy = tf.clone(strings);
    strings.dispose();
    expect(await copy.data()).toEqual(['a', 'b']);
    copy.dispose();
  });
});
