import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-core/dist/register_all_gradients';
import '@tensorflow/tfjs-backend-wasm';
import { Conv2DBackpropInput, getKernel } from '@tensorflow/tfjs-core';
import { expectArrayClose, testRng } from '@ssd/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { registerWasmTrainingKernels } from './wasm-kernels';

type Pad = 'same' | 'valid' | [[0, 0], [number, number], [number, number], [0, 0]];
interface Case {
  batch: number;
  height: number;
  width: number;
  inChannels: number;
  outChannels: number;
  kernel: number;
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

function randomArray(size: number, rng: () => number): Float32Array {
  const out = new Float32Array(size);
  for (let i = 0; i < size; i++) out[i] = rng() * 2 - 1;
  return out;
}

/** Gradients of Σ(conv(x, w) · r) with respect to x and w on the active backend. */
async function convGrads(c: Case, seed: number): Promise<{ dx: Float32Array; dw: Float32Array }> {
  const rng = testRng(seed);
  const xShape: [number, number, number, number] = [c.batch, c.height, c.width, c.inChannels];
  const wShape: [number, number, number, number] = [
    c.kernel,
    c.kernel,
    c.inChannels,
    c.outChannels,
  ];
  const xs = randomArray(
    xShape.reduce((a, b) => a * b),
    rng,
  );
  const ws = randomArray(
    wShape.reduce((a, b) => a * b),
    rng,
  );
  const [dx, dw] = tf.tidy(() => {
    const x = tf.tensor4d(xs, xShape);
    const w = tf.tensor4d(ws, wShape);
    const probe = tf.conv2d(x, w, c.stride, c.pad);
    const r = tf.tensor(randomArray(probe.size, rng), probe.shape);
    return tf.grads((a: tf.Tensor, b: tf.Tensor) =>
      tf.sum(tf.mul(tf.conv2d(a as tf.Tensor4D, b as tf.Tensor4D, c.stride, c.pad), r)),
    )([x, w]);
  }) as [tf.Tensor, tf.Tensor];
  const out = { dx: (await dx.data()) as Float32Array, dw: (await dw.data()) as Float32Array };
  tf.dispose([dx, dw]);
  return out;
}

function relativeTolerance(expected: Float32Array) {
  let scale = 0;
  for (const v of expected) scale = Math.max(scale, Math.abs(v));
  return { atol: 1e-4 * scale, rtol: 1e-4 };
}

describe('wasm training kernels', () => {
  let initial: string;
  beforeAll(async () => {
    initial = tf.getBackend();
    registerWasmTrainingKernels();
    expect(await tf.setBackend('wasm')).toBe(true);
  });
  afterAll(async () => {
    await tf.setBackend(initial);
  });

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

  it('frees every intermediate: one new data id per kernel call', async () => {
    await tf.setBackend('wasm');
    const x = tf.ones([2, 9, 9, 4]);
    const dy = tf.ones([2, 5, 5, 3]);
    const w = tf.ones([3, 3, 4, 3]);
    const backend = tf.backend();
    const before = backend.numDataIds();
    const dw = tf.engine().runKernel(
      'Conv2DBackpropFilter',
      { x, dy },
      {
        strides: 2,
        pad: 'same',
        dataFormat: 'NHWC',
        filterShape: [3, 3, 4, 3],
      },
    ) as tf.Tensor;
    const dx = tf.conv2dTranspose(dy as tf.Tensor4D, w as tf.Tensor4D, [2, 9, 9, 4], 2, 'same');
    expect(backend.numDataIds()).toBe(before + 2);
    expect(dw.shape).toEqual([3, 3, 4, 3]);
    expect(dx.shape).toEqual([2, 9, 9, 4]);
    tf.dispose([x, dy, w, dw, dx]);
  });

  it('keeps the stock Conv2DBackpropInput setup and restores the stock kernel on unregister', () => {
    const ours = getKernel(Conv2DBackpropInput, 'wasm');
    const handle = registerWasmTrainingKernels();
    expect(handle.registered).toEqual(['Conv2DBackpropFilter', 'Conv2DBackpropInput', 'OneHot']);
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
});
