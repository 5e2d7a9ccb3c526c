import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-wasm';
import * as tfl from '@tensorflow/tfjs-layers';
import { expectNoTensorLeak, testRng } from '@ssd/testing';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { registerWasmTrainingKernels } from './wasm-kernels';

let initial: string;
let isTest: boolean;
beforeAll(async () => {
  initial = tf.getBackend();
  // tfjs's per-kernel leak check (IS_TEST) misfires on wasm for customGrad ops
  // (fused matMul): their saved inputs are cloned, and wasm's Identity copies.
  // Leaks are checked here with tf.memory() instead.
  isTest = tf.env().getBool('IS_TEST');
  tf.env().set('IS_TEST', false);
  registerWasmTrainingKernels();
  expect(await tf.setBackend('wasm')).toBe(true);
});
afterAll(async () => {
  tf.env().set('IS_TEST', isTest);
  await tf.setBackend(initial);
});

/** A VGG-style stack: 3×3 convs (one strided), max-pool, 1×1 conv, dense head. */
function vggStyleNet(): tfl.Sequential {
  const init = (seed: number) => tfl.initializers.heNormal({ seed });
  return tfl.sequential({
    layers: [
      tfl.layers.conv2d({
        inputShape: [17, 17, 3],
        filters: 8,
        kernelSize: 3,
        padding: 'same',
        activation: 'relu',
        kernelInitializer: init(1),
      }),
      tfl.layers.conv2d({
        filters: 8,
        kernelSize: 3,
        padding: 'same',
        activation: 'relu',
        kernelInitializer: init(2),
      }),
      tfl.layers.maxPooling2d({ poolSize: 2, strides: 2 }),
      tfl.layers.conv2d({
        filters: 16,
        kernelSize: 3,
        strides: 2,
        padding: 'valid',
        activation: 'relu',
        kernelInitializer: init(3),
      }),
      tfl.layers.conv2d({
        filters: 8,
        kernelSize: 1,
        activation: 'relu',
        kernelInitializer: init(4),
      }),
      tfl.layers.flatten(),
      tfl.layers.dense({
        units: 2,
        kernelInitializer: tfl.initializers.glorotUniform({ seed: 5 }),
      }),
    ],
  });
}

/** Images with a bright 5×5 square in the left (class 0) or right (class 1) half. */
function batch(rng: () => number, size: number): { x: Float32Array; y: Float32Array } {
  const x = new Float32Array(size * 17 * 17 * 3);
  const y = new Float32Array(size * 2);
  for (let i = 0; i < size; i++) {
    const right = rng() < 0.5 ? 1 : 0;
    y[i * 2 + right] = 1;
    const x0 = right ? 9 + Math.floor(rng() * 4) : Math.floor(rng() * 4);
    const y0 = Math.floor(rng() * 12);
    for (let p = 0; p < 17 * 17 * 3; p++) x[i * 867 + p] = (rng() - 0.5) * 0.2;
    for (let r = y0; r < y0 + 5; r++) {
      for (let c = x0; c < x0 + 5; c++) {
        for (let ch = 0; ch < 3; ch++) x[i * 867 + (r * 17 + c) * 3 + ch] = 1;
      }
    }
  }
  return { x, y };
}

it('a small VGG-style conv net trains on wasm: loss falls over 20 steps, no tensors leak', async () => {
  const model = vggStyleNet();
  const optimizer = tf.train.momentum(0.02, 0.9);
  const rng = testRng(3);
  const losses: number[] = [];
  const step = async () => {
    const { x, y } = batch(rng, 8);
    const loss = tf.tidy(() => {
      const xs = tf.tensor4d(x, [8, 17, 17, 3]);
      const ys = tf.tensor2d(y, [8, 2]);
      return optimizer.minimize(
        () => tf.losses.softmaxCrossEntropy(ys, model.apply(xs, { training: true }) as tf.Tensor),
        true,
      ) as tf.Scalar;
    });
    losses.push((await loss.data())[0] as number);
    loss.dispose();
  };
  await step(); // creates the momentum accumulators
  await expectNoTensorLeak(async () => {
    for (let i = 1; i < 20; i++) await step();
  });
  const first = losses.slice(0, 5).reduce((a, b) => a + b) / 5;
  const last = losses.slice(-5).reduce((a, b) => a + b) / 5;
  expect(losses.every(Number.isFinite)).toBe(true);
  expect(last).toBeLessThan(first * 0.6);
  optimizer.dispose();
  model.dispose();
});
