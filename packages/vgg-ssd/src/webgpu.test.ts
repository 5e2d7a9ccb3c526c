/**
 * Everything SSD trains with, on the webgpu backend (in CI: Dawn on SwiftShader),
 * against the cpu backend: each layer type's input and weight gradients, a few
 * optimiser steps of a width-1/16 SSD whose MultiBox loss goes down, and a
 * checkpoint of weights read back from the GPU. Skipped without a WebGPU
 * device, failing instead when `CI` is set (see `@ssd/testing`'s describeOnWebgpu).
 */
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { expect, it } from 'vitest';
import { SSD300_VOC, generateAnchorsPacked } from '@ssd/anchors';
import { encodeTargets } from '@ssd/matcher';
import { multiboxLoss } from '@ssd/loss';
import {
  describeOnWebgpu,
  expectArrayClose,
  onBackend,
  testRng,
  webgpuForTests,
} from '@ssd/testing';
import {
  AtrousConv2D,
  BatchNorm,
  L2Normalization,
  anchorConfigForModel,
  loadSsdModel,
  preprocess,
} from './index';
import { narrowSsd, saveToMemory } from './test-helpers';

const webgpu = await webgpuForTests();

/** Deterministic values in [-1, 1). */
function values(length: number, seed: number): Float32Array {
  const rng = testRng(seed);
  return Float32Array.from({ length }, () => rng() * 2 - 1);
}

/**
 * webgpu against cpu: within 1e-4 relative plus 1e-5 of the largest magnitude
 * (float32 sums in another order). A 1% error in any kernel fails it.
 */
function expectAgree(actual: Float32Array, expected: Float32Array, what: string): void {
  const scale = expected.reduce((m, v) => Math.max(m, Math.abs(v)), 0);
  expect(scale, `${what}: a gradient of zeros checks nothing`).toBeGreaterThan(0);
  try {
    expectArrayClose(actual, expected, { atol: 1e-5 * scale, rtol: 1e-4 });
  } catch (error) {
    throw new Error(`${what}: ${(error as Error).message}`);
  }
}

/**
 * The output and the gradients of `Σ layer(x) · r` (r fixed and random) with
 * respect to x and to every weight of the layer, the weights set from `seed`.
 */
async function layerGradients(
  makeLayer: () => tfl.layers.Layer,
  inputShape: number[],
  seed: number,
  training = false,
): Promise<Float32Array[]> {
  const layer = makeLayer();
  const x = tf.variable(
    tf.tensor(
      values(
        inputShape.reduce((a, b) => a * b),
        seed,
      ),
      inputShape,
    ),
  );
  tf.dispose(layer.apply(x) as tf.Tensor); // builds the weights
  layer.setWeights(
    layer.getWeights().map((w, i) => tf.tensor(values(w.size, seed + 1 + i), w.shape)),
  );
  const outputShape = (layer.apply(x, { training }) as tf.Tensor).shape;
  const r = tf.tensor(
    values(
      outputShape.reduce((a, b) => a * b),
      seed + 99,
    ),
    outputShape,
  );
  const variables = [x, ...layer.trainableWeights.map((w) => w.read() as tf.Variable)];
  const { value, grads } = tf.variableGrads(
    () => tf.sum(tf.mul(layer.apply(x, { training }) as tf.Tensor, r)) as tf.Scalar,
    variables,
  );
  const out = [
    await value.data(),
    ...(await Promise.all(variables.map((v) => grads[v.name]!.data()))),
  ];
  tf.dispose([value, ...Object.values(grads), x, r]);
  layer.dispose();
  return out as Float32Array[];
}

/** Name, layer, input shape, and whether it runs in training mode (batch norm). */
const LAYERS: [string, () => tfl.layers.Layer, number[], boolean?][] = [
  [
    'conv 3×3 same + bias + relu (VGG blocks)',
    () => tfl.layers.conv2d({ filters: 6, kernelSize: 3, padding: 'same', activation: 'relu' }),
    [2, 12, 12, 5],
  ],
  [
    'conv 3×3 stride 2 valid after zero padding (extras)',
    () =>
      tfl.sequential({
        layers: [
          tfl.layers.zeroPadding2d({ padding: 1, inputShape: [9, 9, 4] }),
          tfl.layers.conv2d({ filters: 5, kernelSize: 3, strides: 2, activation: 'relu' }),
        ],
      }) as unknown as tfl.layers.Layer,
    [2, 9, 9, 4],
  ],
  [
    'conv 1×1 + relu (fc7, extras’ reduce)',
    () => tfl.layers.conv2d({ filters: 7, kernelSize: 1, activation: 'relu' }),
    [1, 6, 6, 4],
  ],
  [
    'conv 3×3 linear (loc/conf heads)',
    () => tfl.layers.conv2d({ filters: 8, kernelSize: 3, padding: 'same' }),
    [1, 5, 5, 4],
  ],
  [
    'fc6: AtrousConv2D, 3×3 dilation 6, its own gradient',
    () => new AtrousConv2D({ filters: 6, kernelSize: 3, dilationRate: 6, activation: 'relu' }),
    [2, 10, 10, 4],
  ],
  [
    'max pool 2×2 stride 2 valid',
    () => tfl.layers.maxPooling2d({ poolSize: 2, strides: 2, padding: 'valid' }),
    [2, 8, 8, 3],
  ],
  [
    'max pool 2×2 stride 2 same (pool3 ceil mode, odd size)',
    () => tfl.layers.maxPooling2d({ poolSize: 2, strides: 2, padding: 'same' }),
    [2, 9, 9, 3],
  ],
  [
    'max pool 3×3 stride 1 same (pool5)',
    () => tfl.layers.maxPooling2d({ poolSize: 3, strides: 1, padding: 'same' }),
    [2, 6, 6, 3],
  ],
  ['L2Normalization (conv4_3_norm)', () => new L2Normalization({ scaleInit: 20 }), [2, 5, 5, 6]],
  [
    'BatchNorm + ReLU in training mode (--normalization batch)',
    () => new BatchNorm({ activation: 'relu' }),
    [2, 6, 6, 5],
    true,
  ],
];

describeOnWebgpu(webgpu, 'webgpu gradients equal cpu’s, layer by layer', () => {
  it.each(LAYERS)('%s', async (name, makeLayer, shape, training) => {
    const cpu = await onBackend('cpu', () => layerGradients(makeLayer, shape, 7, training));
    const gpu = await onBackend('webgpu', () => layerGradients(makeLayer, shape, 7, training));
    expect(gpu.length).toBe(cpu.length);
    const labels = ['output', 'd/dx', 'd/dkernel (or gamma)', 'd/dbias'];
    cpu.forEach((expected, i) => expectAgree(gpu[i]!, expected, `${name}, ${labels[i]}`));
  });

  it('the heads’ reshape + concat (gradients route back to each head)', async () => {
    const run = async () => {
      const a = tf.variable(tf.tensor(values(2 * 3 * 3 * 8, 1), [2, 3, 3, 8]));
      const b = tf.variable(tf.tensor(values(2 * 1 * 1 * 12, 2), [2, 1, 1, 12]));
      const r = tf.tensor(values(2 * 12 * 4, 3), [2, 12, 4]);
      const { grads } = tf.variableGrads(() => {
        const flat = tf.concat([tf.reshape(a, [2, 18, 4]), tf.reshape(b, [2, 3, 4])], 1);
        return tf.sum(tf.mul(tf.square(tf.slice(flat, [0, 0, 0], [2, 12, 4])), r)) as tf.Scalar;
      }, [a, b]);
      const out = [await grads[a.name]!.data(), await grads[b.name]!.data()];
      tf.dispose([a, b, r, ...Object.values(grads)]);
      return out as Float32Array[];
    };
    const cpu = await onBackend('cpu', run);
    const gpu = await onBackend('webgpu', run);
    expectAgree(gpu[0]!, cpu[0]!, 'first head');
    // b's rows past the slice get no gradient: zeros on both.
    expectArrayClose(gpu[1]!, cpu[1]!, { atol: 0 });
  });
});

/** Images and MultiBox targets for `narrowSsd` at 64 px (as in train.test.ts). */
function trainingBatch(model: tfl.LayersModel) {
  const anchors = generateAnchorsPacked(anchorConfigForModel(model, SSD300_VOC));
  const numAnchors = anchors.length / 4;
  const rng = testRng(5);
  const pixels = Float32Array.from({ length: 2 * 64 * 64 * 3 }, () => Math.floor(rng() * 256));
  const locTargets = new Float32Array(2 * numAnchors * 4);
  const labels = new Int32Array(2 * numAnchors);
  [
    [0.1, 0.1, 0.6, 0.5, 0.5, 0.4, 0.95, 0.9],
    [0.2, 0.3, 0.8, 0.9],
  ].forEach((gt, b) => {
    const targets = encodeTargets(
      anchors,
      Float32Array.from(gt),
      Int32Array.from({ length: gt.length / 4 }, (_, i) => 1 + ((b + i) % 3)),
    );
    locTargets.set(targets.locTargets, b * numAnchors * 4);
    labels.set(targets.labels, b * numAnchors);
  });
  return {
    images: preprocess(tf.tensor4d(pixels, [2, 64, 64, 3])),
    locTargets: tf.tensor3d(locTargets, [2, numAnchors, 4]),
    labels: tf.tensor2d(labels, [2, numAnchors], 'int32'),
  };
}

describeOnWebgpu(webgpu, 'training a width-1/16 SSD on webgpu', () => {
  it('the whole MultiBox loss gradient (all weights) equals cpu’s', async () => {
    const run = async () => {
      const model = narrowSsd({ numClasses: 4, seed: 21 });
      const batch = trainingBatch(model);
      const { value, grads } = tf.variableGrads(() => {
        const [locPred, logits] = model.apply(batch.images, { training: true }) as tf.Tensor[];
        return multiboxLoss({ locPred: locPred!, logits: logits! }, batch).total as tf.Scalar;
      });
      // Variable names get a suffix per model built; the layers' own names do not.
      const weights = model.trainableWeights;
      const names = weights.map((w) => w.originalName);
      const out = {
        loss: (await value.data())[0]!,
        names,
        grads: await Promise.all(weights.map((w) => grads[(w.read() as tf.Variable).name]!.data())),
      };
      tf.dispose([value, ...Object.values(grads), batch.images, batch.locTargets, batch.labels]);
      model.dispose();
      return out;
    };
    const cpu = await onBackend('cpu', run);
    const gpu = await onBackend('webgpu', run);
    expect(Math.abs(gpu.loss - cpu.loss)).toBeLessThan(1e-4 * cpu.loss);
    expect(gpu.names).toEqual(cpu.names);
    const checked: string[] = [];
    cpu.grads.forEach((expected, i) => {
      // A loc head whose anchors match no box at 64 px has a zero gradient, on both.
      if (expected.every((v) => v === 0)) expectArrayClose(gpu.grads[i]!, expected, { atol: 0 });
      else {
        expectAgree(gpu.grads[i] as Float32Array, expected as Float32Array, gpu.names[i]!);
        checked.push(gpu.names[i]!);
      }
    });
    expect(checked).toEqual(
      expect.arrayContaining([
        'fc6/kernel',
        'conv4_3_norm/gamma',
        'block1_conv1/kernel',
        'conf_5/kernel',
      ]),
    );
    expect(checked.length).toBeGreaterThan(cpu.grads.length * 0.8);
  });

  it.each([
    ['Adam', () => tf.train.adam(1e-3)],
    ['SGD with momentum', () => tf.train.momentum(1e-3, 0.9)],
  ])(
    '%s steps lower the loss; no tensor leaks; the checkpoint read back from the GPU reloads bit for bit',
    async (_, makeOptimizer) => {
      await onBackend('webgpu', async () => {
        const model = narrowSsd({ numClasses: 4, seed: 21 });
        const batch = trainingBatch(model);
        const optimizer = makeOptimizer();
        const step = () =>
          optimizer.minimize(() => {
            const [locPred, logits] = model.apply(batch.images, { training: true }) as tf.Tensor[];
            return multiboxLoss({ locPred: locPred!, logits: logits! }, batch).total as tf.Scalar;
          }, true)!;
        const losses: number[] = [];
        const first = step();
        losses.push((await first.data())[0]!);
        first.dispose();
        const before = tf.memory().numTensors;
        for (let i = 0; i < 4; i++) {
          const loss = step();
          losses.push((await loss.data())[0]!);
          loss.dispose();
        }
        expect(tf.memory().numTensors).toBe(before);
        expect(losses.every(Number.isFinite)).toBe(true);
        expect(losses.at(-1)!).toBeLessThan(losses[0]! * 0.9);

        // Checkpoint: weights read back from the GPU, saved, loaded on cpu.
        const saved = await saveToMemory(model);
        const trained = await Promise.all(model.getWeights().map((w) => w.data()));
        const outputs = model.predict(batch.images) as tf.Tensor[];
        const gpuOutputs = await Promise.all(outputs.map((t) => t.data()));
        const pixels = await batch.images.data();
        tf.dispose(outputs);
        await onBackend('cpu', async () => {
          const loaded = await loadSsdModel(tf.io.fromMemory(saved));
          const reloaded = await Promise.all(loaded.getWeights().map((w) => w.data()));
          expect(reloaded.length).toBe(trained.length);
          reloaded.forEach((w, i) => expectArrayClose(w, trained[i]!, { atol: 0 }));
          const images = tf.tensor4d(
            pixels,
            batch.images.shape as [number, number, number, number],
          );
          const cpuOutputs = loaded.predict(images) as tf.Tensor[];
          const data = await Promise.all(cpuOutputs.map((t) => t.data()));
          data.forEach((d, i) =>
            expectAgree(d as Float32Array, gpuOutputs[i] as Float32Array, `output ${i} on cpu`),
          );
          tf.dispose([images, ...cpuOutputs]);
          loaded.dispose();
        });
        optimizer.dispose();
        tf.dispose([batch.images, batch.locTargets, batch.labels]);
        model.dispose();
      });
    },
  );
});
