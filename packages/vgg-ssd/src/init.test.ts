import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { expectNoTensorLeak, testRng } from '@ssd/testing';
import { describe, expect, it } from 'vitest';
import { heInitialise, lsuvInitialise, preprocess } from './index';
import { narrowSsd } from './test-helpers';

const HEAD = /^(loc|conf)_\d+$/;

/** RMS of every convolution's output on `images`, by layer name. */
async function outputRms(
  model: tfl.LayersModel,
  images: tf.Tensor4D,
): Promise<Map<string, number>> {
  const convs = model.layers.filter((l) =>
    l.weights.some((w) => w.shape.length === 4 && w.originalName.endsWith('kernel')),
  );
  const probe = tfl.model({
    inputs: model.inputs,
    outputs: convs.map((l) => l.output as tfl.SymbolicTensor),
  });
  const outs = probe.apply(images, { training: false }) as tf.Tensor[];
  const rms = new Map<string, number>();
  for (const [i, l] of convs.entries()) {
    const r = tf.tidy(() => tf.sqrt(tf.mean(tf.square(outs[i]!))));
    rms.set(l.name, (await r.data())[0]!);
    r.dispose();
  }
  tf.dispose(outs);
  return rms;
}

const kernels = (model: tfl.LayersModel): tfl.LayerVariable[] =>
  model.weights.filter((w) => w.shape.length === 4 && w.originalName.endsWith('kernel'));

describe('heInitialise', () => {
  it('draws He-normal kernels (std √(2/fan-in)) from the seed, heads only when asked', async () => {
    const a = narrowSsd({ numClasses: 4, seed: 3 });
    const b = narrowSsd({ numClasses: 4, seed: 3 });
    const headsBefore = await Promise.all(
      kernels(a)
        .filter((w) => HEAD.test(w.originalName.split('/')[0]!))
        .map((w) => w.read().data()),
    );
    expect(headsBefore.length).toBeGreaterThan(0);
    await expectNoTensorLeak(() => heInitialise(a, { seed: 9 }));
    heInitialise(b, { seed: 9, heads: true });
    for (const [i, w] of kernels(a).entries()) {
      const values = (await w.read().data()) as Float32Array;
      const [kh, kw, cin] = w.shape as number[];
      if (HEAD.test(w.originalName.split('/')[0]!)) continue;
      const std = Math.sqrt(values.reduce((s, v) => s + v * v, 0) / values.length);
      if (values.length >= 500) {
        expect(std / Math.sqrt(2 / (kh! * kw! * cin!)), w.name).toBeCloseTo(1, 0);
      }
      // Same seed, same draws (the heads come after the backbone in network order).
      expect(Array.from(await kernels(b)[i]!.read().data()), w.originalName).toEqual(
        Array.from(values),
      );
    }
    // Without `heads`, the heads keep the model's own initialisation.
    const headsAfter = await Promise.all(
      kernels(a)
        .filter((w) => HEAD.test(w.originalName.split('/')[0]!))
        .map((w) => w.read().data()),
    );
    headsAfter.forEach((h, i) => expect(Array.from(h)).toEqual(Array.from(headsBefore[i]!)));
    a.dispose();
    b.dispose();
  });
});

describe('lsuvInitialise', () => {
  it('gives every conv output the RMS of a unit-variance pre-activation, heads RMS 1', async () => {
    const model = narrowSsd({ numClasses: 4, seed: 3 });
    const rng = testRng(7);
    const pixels = Float32Array.from({ length: 6 * 64 * 64 * 3 }, () => rng() * 255);
    const images = tf.tidy(() => preprocess(tf.tensor4d(pixels, [6, 64, 64, 3])));
    const before = await outputRms(model, images);
    // Glorot on 0–255-minus-mean inputs: far from the targets.
    expect(before.get('block1_conv1')!).toBeGreaterThan(10);

    const scales = await expectNoTensorLeak(() => lsuvInitialise(model, images, { seed: 3 }));
    const after = await outputRms(model, images);
    expect(scales.map((s) => s.layer)).toEqual([...after.keys()]);
    expect(after.size).toBeGreaterThan(20);
    for (const [name, rms] of after) {
      expect(rms, name).toBeCloseTo(HEAD.test(name) ? 1 : Math.SQRT1_2, 3);
    }
    // Biases stay zero; only kernels move.
    for (const w of model.weights.filter((v) => v.originalName.endsWith('bias'))) {
      const values = await w.read().data();
      expect(Math.max(...Array.from(values, Math.abs)), w.originalName).toBe(0);
    }
    // A second network in the same process (its variables get `_1` names) gets the
    // same weights: runs are reproducible however many ran before.
    const again = narrowSsd({ numClasses: 4, seed: 3 });
    expect(again.weights[0]!.name).not.toBe(model.weights[0]!.name);
    await lsuvInitialise(again, images, { seed: 3 });
    for (const [i, w] of model.weights.entries()) {
      const a = await w.read().data();
      const b = await again.weights[i]!.read().data();
      expect(Array.from(b), w.originalName).toEqual(Array.from(a));
    }
    images.dispose();
    model.dispose();
    again.dispose();
  });
});
