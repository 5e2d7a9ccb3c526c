import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { describe, expect, it } from 'vitest';
import { expectArrayClose, testRng } from '@ssd/testing';
import { SSD300_VOC } from '@ssd/anchors';
import {
  BatchNorm,
  batchNormTrain,
  channelMoments,
  createSsdVgg16,
  loadSsdModel,
  loadTorchvisionWeights,
} from './index';
import { narrowSsd, saveToMemory } from './test-helpers';

function random(shape: number[], seed: number, scale = 1, offset = 0): tf.Tensor {
  const rng = testRng(seed);
  const n = shape.reduce((a, b) => a * b, 1);
  return tf.tensor(
    Float32Array.from({ length: n }, () => (rng() * 2 - 1) * scale + offset),
    shape,
  );
}

/** Batch norm (+ ReLU) written out in tfjs ops; its gradients are tfjs' autodiff. */
function reference(x: tf.Tensor, gamma: tf.Tensor, beta: tf.Tensor, eps: number, relu: boolean) {
  const axes = x.shape.slice(0, -1).map((_, i) => i);
  const { mean, variance } = tf.moments(x, axes);
  const z = tf.add(tf.mul(tf.div(tf.sub(x, mean), tf.sqrt(tf.add(variance, eps))), gamma), beta);
  return relu ? tf.relu(z) : z;
}

describe('batchNormTrain: training-mode batch norm, one kernel each way', () => {
  // Channels 3 (odd, fewer than a SIMD lane), 16; a channel that is constant over the
  // batch (variance 0), and inputs far from zero mean (a one-pass variance's weak spot).
  const cases: { shape: number[]; relu: boolean; offset: number }[] = [
    { shape: [2, 5, 7, 3], relu: true, offset: 0 },
    { shape: [2, 5, 7, 3], relu: false, offset: 0 },
    { shape: [3, 4, 4, 16], relu: true, offset: 20 },
    { shape: [6, 1, 1, 4], relu: true, offset: 0 },
  ];
  for (const { shape, relu, offset } of cases) {
    it(`equals the op-by-op form and its autodiff gradients: [${shape}], relu ${relu}, mean ${offset}`, async () => {
      const eps = 1e-5;
      const C = shape[shape.length - 1]!;
      const x = random(shape, shape[3]! + (relu ? 1 : 0), 1.5, offset);
      const gamma = random([C], 7, 0.5, 1) as tf.Tensor1D;
      const beta = random([C], 8, 0.5) as tf.Tensor1D;
      const dy = random(shape, 9);
      // Gradients of Σ dy·y, so every output element has its own weight.
      const ours = tf.grads((a: tf.Tensor, g: tf.Tensor, b: tf.Tensor) =>
        tf.sum(
          tf.mul(
            batchNormTrain(a as tf.Tensor4D, g as tf.Tensor1D, b as tf.Tensor1D, {
              epsilon: eps,
              relu,
            })[0],
            dy,
          ),
        ),
      );
      const theirs = tf.grads((a: tf.Tensor, g: tf.Tensor, b: tf.Tensor) =>
        tf.sum(tf.mul(reference(a, g, b, eps, relu), dy)),
      );
      const [y, mean, variance] = batchNormTrain(x as tf.Tensor4D, gamma, beta, {
        epsilon: eps,
        relu,
      });
      const moments = tf.moments(x, [0, 1, 2]);
      expectArrayClose(await y.data(), await reference(x, gamma, beta, eps, relu).data(), {
        atol: 1e-4,
      });
      expectArrayClose(await mean.data(), await moments.mean.data(), { atol: 1e-4, rtol: 1e-5 });
      expectArrayClose(await variance.data(), await moments.variance.data(), {
        atol: 1e-4,
        rtol: 1e-4,
      });
      const got = ours([x, gamma, beta]);
      const want = theirs([x, gamma, beta]);
      for (let i = 0; i < 3; i++) {
        expectArrayClose(await got[i]!.data(), await want[i]!.data(), { atol: 2e-4, rtol: 1e-3 });
      }
    });
  }

  it('keeps the variance where the mean is 10⁴ times the spread (two passes)', async () => {
    const x = random([4, 8, 8, 2], 5, 0.01, 100);
    const { variance } = channelMoments(x as tf.Tensor4D);
    const expected = tf.moments(tf.sub(x, 100), [0, 1, 2]).variance;
    expectArrayClose(await variance.data(), await expected.data(), { rtol: 2e-2 });
  });

  it('gives a zero input gradient for a constant channel, not NaN', async () => {
    const x = tf.fill([4, 2, 2, 2], 3);
    const g = tf.grad((a: tf.Tensor) =>
      tf.sum(
        batchNormTrain(
          a as tf.Tensor4D,
          tf.ones([2]) as tf.Tensor1D,
          tf.zeros([2]) as tf.Tensor1D,
          { epsilon: 1e-5, relu: false },
        )[0],
      ),
    )(x);
    expect([...(await g.data())].every((v) => v === 0)).toBe(true);
  });
});

describe('BatchNorm layer', () => {
  it('normalises by the batch in training and moves its running statistics (unbiased variance)', async () => {
    const layer = new BatchNorm({ momentum: 0.75, activation: 'linear' });
    const x = random([2, 3, 3, 4], 3, 2, 5);
    const y = layer.apply(x, { training: true }) as tf.Tensor;
    const { mean, variance } = tf.moments(x, [0, 1, 2]);
    expectArrayClose(
      await y.data(),
      await reference(x, tf.ones([4]), tf.zeros([4]), 1e-5, false).data(),
      {
        atol: 1e-4,
      },
    );
    const [, , movingMean, movingVariance] = layer.getWeights();
    const rows = 18;
    expectArrayClose(await movingMean!.data(), await tf.mul(mean, 0.25).data(), { atol: 1e-5 });
    expectArrayClose(
      await movingVariance!.data(),
      await tf.add(0.75, tf.mul(variance, 0.25 * (rows / (rows - 1)))).data(),
      { atol: 1e-5 },
    );
  });

  it('uses the running statistics at inference, with the ReLU', async () => {
    const layer = new BatchNorm({ activation: 'relu' });
    const x = random([1, 2, 2, 2], 4, 3);
    layer.apply(x); // builds
    layer.setWeights([
      tf.tensor1d([2, 0.5]),
      tf.tensor1d([0.1, -0.2]),
      tf.tensor1d([1, -1]),
      tf.tensor1d([4, 0.25]),
    ]);
    const y = layer.apply(x) as tf.Tensor;
    const expected = tf.relu(
      tf.add(
        tf.mul(tf.div(tf.sub(x, [1, -1]), tf.sqrt(tf.add(tf.tensor1d([4, 0.25]), 1e-5))), [2, 0.5]),
        [0.1, -0.2],
      ),
    );
    expectArrayClose(await y.data(), await expected.data(), { atol: 1e-5 });
  });

  it('rejects a momentum outside [0, 1)', () => {
    expect(() => new BatchNorm({ momentum: 1 })).toThrow(/momentum must be in \[0, 1\)/);
  });
});

describe("createSsdVgg16({ normalization: 'batch' })", () => {
  it('puts batch norm + ReLU after every backbone and extra conv, whose biases go', () => {
    const model = narrowSsd({ normalization: 'batch' });
    const plain = narrowSsd();
    const convs = plain.layers
      .filter((l) => /^(block\d_conv\d|fc[67]|conv\d+_[12])$/.test(l.name))
      .map((l) => l.name);
    expect(convs).toHaveLength(13 + 2 + 8);
    for (const name of convs) {
      const bn = model.getLayer(`${name}_bn`);
      expect(bn).toBeInstanceOf(BatchNorm);
      expect(bn.getWeights().map((w) => w.shape)).toHaveLength(4);
      expect(model.getLayer(name).getWeights()).toHaveLength(1); // the kernel, no bias
    }
    // The heads are the paper's: a bias, no batch norm.
    expect(model.getLayer('loc_0').getWeights()).toHaveLength(2);
    expect(model.layers.filter((l) => l instanceof BatchNorm)).toHaveLength(convs.length);
    model.dispose();
    plain.dispose();
  });

  it('round-trips through the Keras JSON topology (BatchNorm is registered)', () => {
    const model = narrowSsd({ normalization: 'batch' });
    const json = model.toJSON(null, false) as unknown as tf.serialization.ConfigDict;
    const restored = tfl.models.modelFromJSON({ modelTopology: json } as never);
    return restored.then((r) => {
      expect(r.layers.map((l) => l.getClassName())).toEqual(
        model.layers.map((l) => l.getClassName()),
      );
      r.dispose();
      model.dispose();
    });
  });

  it('saves and loads with its running statistics: the same inference outputs, bit for bit', async () => {
    const model = narrowSsd({ normalization: 'batch', seed: 3 });
    const x = random([2, 64, 64, 3], 11, 2) as tf.Tensor4D;
    // A training-mode pass moves the running statistics away from 0 and 1.
    tf.dispose(model.apply(x, { training: true }) as tf.Tensor[]);
    const moved = model.getLayer('block1_conv1_bn').getWeights()[2]!;
    expect(Math.max(...(await tf.abs(moved).data()))).toBeGreaterThan(0);
    const loaded = await loadSsdModel(tf.io.fromMemory(await saveToMemory(model)));
    expect(loaded.getLayer('fc7_bn')).toBeInstanceOf(BatchNorm);
    const outputs = async (m: tfl.LayersModel) =>
      Promise.all((m.predict(x) as tf.Tensor[]).map((t) => t.data()));
    expect(await outputs(loaded)).toEqual(await outputs(model));
    model.dispose();
    loaded.dispose();
  });

  it('trains and predicts without growing the tensor count', () => {
    const model = narrowSsd({ normalization: 'batch' });
    const x = random([2, 64, 64, 3], 12, 2) as tf.Tensor4D;
    const weights = model.trainableWeights.map((w) => w.read() as tf.Variable);
    const step = () => {
      const { value, grads } = tf.variableGrads(() => {
        const [loc, logits] = model.apply(x, { training: true }) as tf.Tensor[];
        return tf.add(tf.sum(loc!), tf.sum(logits!)) as tf.Scalar;
      }, weights);
      tf.dispose([value, ...Object.values(grads), ...(model.predict(x) as tf.Tensor[])]);
      return tf.memory().numTensors;
    };
    step();
    const after = step();
    expect(step()).toBe(after);
    model.dispose();
  });

  it('refuses pretrained VGG16 weights, which have no batch norm, naming the layer', () => {
    const model = narrowSsd({ normalization: 'batch' });
    expect(() => loadTorchvisionWeights(model, new Map(), { source: 'vgg16.safetensors' })).toThrow(
      /vgg16\.safetensors: block1_conv1_bn: .*have no batch norm/,
    );
    model.dispose();
  });

  it('rejects an unknown normalization', () => {
    expect(() =>
      createSsdVgg16({
        numClasses: 3,
        preset: SSD300_VOC,
        normalization: 'group' as never,
      }),
    ).toThrow(/normalization: expected 'none' or 'batch'/);
  });
});
