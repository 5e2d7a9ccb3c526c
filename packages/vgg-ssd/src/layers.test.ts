import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { describe, expect, it } from 'vitest';
import { expectArrayClose, testRng } from '@ssd/testing';
import { AtrousConv2D, L2Normalization, PREPROCESS_MEAN_RGB, preprocess } from './index';
import { atrousConv2d } from './layers';

function random(shape: number[], seed: number): tf.Tensor {
  const rng = testRng(seed);
  const n = shape.reduce((a, b) => a * b, 1);
  return tf.tensor(
    Float32Array.from({ length: n }, () => rng() * 2 - 1),
    shape,
  );
}

describe('fc6: atrous convolution with its own gradients', () => {
  // SSD300's fc6 sees 19×19 (and SSD512's 32×32); the odd sizes exercise the extra padding.
  const cases: [number, number, number][] = [
    [19, 6, 3],
    [10, 6, 3],
    [32, 6, 3],
    [7, 2, 3],
    [1, 6, 3],
    [9, 3, 5],
  ];
  for (const [size, rate, k] of cases) {
    it(`equals a plain dilated conv: ${size}×${size}, rate ${rate}, ${k}×${k}`, async () => {
      const x = random([2, size, size, 5], size * 10 + rate) as tf.Tensor4D;
      const kernel = random([k, k, 5, 7], 99) as tf.Tensor4D;
      const pad = (rate * (k - 1)) / 2;
      const expected = tf.conv2d(
        x,
        kernel,
        1,
        [
          [0, 0],
          [pad, pad],
          [pad, pad],
          [0, 0],
        ],
        'NHWC',
        [rate, rate],
      );
      const actual = atrousConv2d(x, kernel, rate);
      expect(actual.shape).toEqual([2, size, size, 7]);
      expectArrayClose(await actual.data(), await expected.data(), { atol: 1e-5 });
      tf.dispose([x, kernel, expected, actual]);
    });
  }

  // TensorFlow's atrous_conv2d, differentiated by tfjs autodiff: the reference for the
  // hand-written gradients.
  function spaceToBatchReference(x: tf.Tensor4D, kernel: tf.Tensor4D, rate: number): tf.Tensor4D {
    const [, height, width] = x.shape;
    const pad = (rate * (kernel.shape[0] - 1)) / 2;
    const extraH = (rate - ((height + 2 * pad) % rate)) % rate;
    const extraW = (rate - ((width + 2 * pad) % rate)) % rate;
    const phases = tf.spaceToBatchND(
      x,
      [rate, rate],
      [
        [pad, pad + extraH],
        [pad, pad + extraW],
      ],
    ) as tf.Tensor4D;
    return tf.batchToSpaceND(
      tf.conv2d(phases, kernel, 1, 'valid'),
      [rate, rate],
      [
        [0, extraH],
        [0, extraW],
      ],
    ) as tf.Tensor4D;
  }

  for (const [size, rate, k] of cases) {
    it(`gradients equal space-to-batch autodiff: ${size}×${size}, rate ${rate}, ${k}×${k}`, async () => {
      const x = random([2, size, size, 5], size + rate) as tf.Tensor4D;
      const kernel = random([k, k, 5, 7], 7) as tf.Tensor4D;
      const weights = random([2, size, size, 7], 3);
      // A loss whose dy is neither constant nor symmetric.
      const loss = (f: typeof atrousConv2d) => (a: tf.Tensor, b: tf.Tensor) =>
        tf.sum(tf.mul(tf.square(f(a as tf.Tensor4D, b as tf.Tensor4D, rate)), weights));
      const [dx, dk] = tf.grads(loss(atrousConv2d))([x, kernel]);
      const [rx, rk] = tf.grads(loss(spaceToBatchReference))([x, kernel]);
      expectArrayClose(await dx!.data(), await rx!.data(), { atol: 1e-4, rtol: 1e-4 });
      expectArrayClose(await dk!.data(), await rk!.data(), { atol: 1e-4, rtol: 1e-4 });
      tf.dispose([x, kernel, weights, dx!, dk!, rx!, rk!]);
    });
  }

  it('has gradients for its input and kernel (tfjs refuses them for dilated conv2d)', async () => {
    const x = random([1, 11, 11, 3], 1) as tf.Tensor4D;
    const kernel = random([3, 3, 3, 4], 2) as tf.Tensor4D;
    expect(() =>
      tf.grad((k: tf.Tensor) => tf.conv2d(x, k as tf.Tensor4D, 1, 'same', 'NHWC', [6, 6]))(kernel),
    ).toThrow();
    const [dx, dk] = tf.grads((a: tf.Tensor, b: tf.Tensor) =>
      tf.sum(tf.square(atrousConv2d(a as tf.Tensor4D, b as tf.Tensor4D, 6))),
    )([x, kernel]);
    // d/dk of Σ conv² is 2·Σ conv·x_shifted: compare with a finite difference.
    const eps = 1e-2;
    const plus = tf.sum(
      tf.square(atrousConv2d(x, tf.add(kernel, oneHot(kernel.shape, 40, eps)) as tf.Tensor4D, 6)),
    );
    const minus = tf.sum(
      tf.square(atrousConv2d(x, tf.sub(kernel, oneHot(kernel.shape, 40, eps)) as tf.Tensor4D, 6)),
    );
    const numeric = ((await plus.data())[0]! - (await minus.data())[0]!) / (2 * eps);
    expect((await dk!.data())[40]).toBeCloseTo(numeric, 1);
    expect(dx!.shape).toEqual(x.shape);
    tf.dispose([x, kernel, dx!, dk!, plus, minus]);
  });

  it('AtrousConv2D keeps the spatial size and serializes', () => {
    const input = tfl.input({ shape: [19, 19, 4] });
    const layer = new AtrousConv2D({ name: 'fc6', filters: 8, kernelSize: 3, dilationRate: 6 });
    const out = layer.apply(input) as tfl.SymbolicTensor;
    expect(out.shape).toEqual([null, 19, 19, 8]);
    const model = tfl.model({ inputs: input, outputs: out });
    const restored = tfl.models.modelFromJSON({
      modelTopology: model.toJSON(null, false),
    } as never);
    return restored.then((m) => {
      expect(m.getLayer('fc6')).toBeInstanceOf(AtrousConv2D);
      expect((m.getLayer('fc6') as AtrousConv2D).dilationRate).toBe(6);
      m.dispose();
      model.dispose();
    });
  });

  it('rejects even kernels', () => {
    expect(() => new AtrousConv2D({ filters: 1, kernelSize: 2, dilationRate: 6 })).toThrow(
      'kernelSize must be an odd integer, got 2',
    );
  });
});

function oneHot(shape: number[], index: number, value: number): tf.Tensor {
  const values = new Float32Array(shape.reduce((a, b) => a * b, 1));
  values[index] = value;
  return tf.tensor(values, shape);
}

describe('L2Normalization', () => {
  it('normalises across channels and scales by gamma = 20', async () => {
    const layer = new L2Normalization({ name: 'norm' });
    const x = tf.tensor4d([3, 4, 0, 0, 0, 0], [1, 1, 3, 2]);
    const y = layer.apply(x) as tf.Tensor;
    expect(layer.getWeights()[0]!.shape).toEqual([2]);
    expectArrayClose(await y.data(), [12, 16, 0, 0, 0, 0], { atol: 1e-5 }); // zero stays zero, no NaN
    tf.dispose([x, y]);
  });
});

describe('preprocess', () => {
  it('subtracts the RGB mean (123, 117, 104) on the 0–255 scale', async () => {
    const images = tf.tensor4d([255, 0, 104, 123, 117, 0], [1, 1, 2, 3], 'int32');
    const out = preprocess(images);
    expect(out.dtype).toBe('float32');
    expect(PREPROCESS_MEAN_RGB).toEqual([123, 117, 104]);
    expectArrayClose(await out.data(), [132, -117, 0, 0, 0, -104]);
    tf.dispose([images, out]);
  });

  it('rejects a non-RGB batch with the shape named', () => {
    const gray = tf.zeros([1, 4, 4, 1]) as tf.Tensor4D;
    expect(() => preprocess(gray)).toThrow('got shape [1, 4, 4, 1]');
    gray.dispose();
  });
});

describe('L2Normalization gradient', () => {
  it('stays finite where every channel is 0 (sqrt(0) would give 0·∞ = NaN)', async () => {
    const layer = new L2Normalization({ scaleInit: 20 });
    layer.build([1, 2, 1, 3]);
    const x = tf.tensor4d([0, 0, 0, 1, 2, 2], [1, 2, 1, 3]);
    const g = tf.grad((input: tf.Tensor) => tf.sum(layer.apply(input) as tf.Tensor))(x);
    const values = await g.data();
    for (const v of values) expect(Number.isFinite(v)).toBe(true);
    // Where the norm exceeds ε the output is the plain L2 normalisation times the scale.
    const y = await (layer.apply(x) as tf.Tensor).data();
    expectArrayClose(Array.from(y).slice(3), [20 / 3, 40 / 3, 40 / 3], { atol: 1e-5 });
    tf.dispose([x, g]);
    for (const w of layer.weights) w.dispose();
  });
});
