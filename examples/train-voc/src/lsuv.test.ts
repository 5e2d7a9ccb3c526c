import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { SeededRng } from '@ssd/random';
import { expectNoTensorLeak } from '@ssd/testing';
import { describe, expect, it } from 'vitest';
import { lsuvInitialise } from './lsuv';
import { buildNetwork, preprocess } from './network';

/** RMS of every convolution's output on `images`, by layer name. */
function outputRms(model: tfl.LayersModel, images: tf.Tensor4D): Map<string, number> {
  const convs = model.layers.filter((l) =>
    l.weights.some((w) => w.shape.length === 4 && w.originalName.endsWith('kernel')),
  );
  const probe = tfl.model({
    inputs: model.inputs,
    outputs: convs.map((l) => l.output as tfl.SymbolicTensor),
  });
  const outs = probe.apply(images, { training: false }) as tf.Tensor[];
  const rms = convs.map(
    (l, i) =>
      [l.name, tf.tidy(() => tf.sqrt(tf.mean(tf.square(outs[i]!))).dataSync()[0]!)] as const,
  );
  tf.dispose(outs);
  return new Map(rms);
}

describe('lsuvInitialise', () => {
  it('gives every conv output the RMS of a unit-variance pre-activation, heads RMS 1', async () => {
    const options = {
      preset: 'shapes',
      numClasses: 4,
      inputSize: 64,
      widthMultiplier: 1 / 16,
      seed: 3,
      heInit: false,
      inputScale: 1,
    } as const;
    const net = buildNetwork(options);
    const rng = new SeededRng(7);
    const pixels = Float32Array.from({ length: 6 * 64 * 64 * 3 }, () => rng.next() * 255);
    const images = tf.tidy(() => preprocess(tf.tensor4d(pixels, [6, 64, 64, 3])));
    const before = outputRms(net.model, images);
    // Glorot on 0–255-minus-mean inputs: far from the targets.
    expect(before.get('block1_conv1')!).toBeGreaterThan(10);

    const scales = await expectNoTensorLeak(() => lsuvInitialise(net.model, images, 3));
    const after = outputRms(net.model, images);
    expect(scales.map((s) => s.layer)).toEqual([...after.keys()]);
    expect(after.size).toBeGreaterThan(20);
    for (const [name, rms] of after) {
      const target = /^(loc|conf)_\d+$/.test(name) ? 1 : Math.SQRT1_2;
      expect(rms, name).toBeCloseTo(target, 3);
    }
    // Biases stay zero; only kernels move.
    for (const w of net.model.weights.filter((v) => v.originalName.endsWith('bias'))) {
      expect(Math.max(...Array.from(w.read().dataSync(), Math.abs)), w.originalName).toBe(0);
    }
    // A second network in the same process (its variables get `_1` names) gets the
    // same weights: runs are reproducible however many ran before.
    const again = buildNetwork(options);
    expect(again.model.weights[0]!.name).not.toBe(net.model.weights[0]!.name);
    await lsuvInitialise(again.model, images, 3);
    net.model.weights.forEach((w, i) => {
      const a = w.read().dataSync();
      const b = again.model.weights[i]!.read().dataSync();
      expect(Array.from(b), w.originalName).toEqual(Array.from(a));
    });
    images.dispose();
    net.dispose();
    again.dispose();
  });
});
