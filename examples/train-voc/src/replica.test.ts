import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';
import type { RunConfig } from './config';
import { SHAPES_RECIPE } from './recipes';
import { createReplica } from './replica';

const config = {
  ...SHAPES_RECIPE,
  inputSize: 64,
  widthMultiplier: 1 / 32,
  data: null,
  classes: null,
  backboneWeights: null,
  weights: null,
  backend: 'cpu',
  workers: 1,
  seed: 3,
} as unknown as RunConfig;

describe('createReplica', () => {
  it('applies the flat averaged gradient, skips a non-finite one, and keeps no tensors', async () => {
    const replica = await createReplica({ config, numClasses: 3 });
    const trainable = replica.model.trainableWeights.map((w) => w.read());
    const weights = replica.model.weights.map((w) => w.read());
    const counter = weights[weights.length - 1]!;
    const snapshot = async () =>
      Promise.all(trainable.map(async (v) => Array.from(await v.data())));
    const gradient = new Float32Array(trainable.reduce((n, v) => n + v.size, 0)).fill(0.01);

    const before = await snapshot();
    replica.applyFlatGradients(gradient, 1e-3);
    const after = await snapshot();
    expect(after).not.toEqual(before);
    expect((await counter.data())[0]).toBe(1);
    expect(replica.optimizer.learningRate).toBe(1e-3);

    const tensors = tf.memory().numTensors;
    for (let i = 0; i < 3; i++) replica.applyFlatGradients(gradient, undefined);
    expect(tf.memory().numTensors).toBe(tensors);
    expect((await counter.data())[0]).toBe(4);

    const current = await snapshot();
    for (const bad of [NaN, Infinity]) {
      gradient[gradient.length - 1] = bad;
      replica.applyFlatGradients(gradient, undefined);
    }
    expect(await snapshot()).toEqual(current);
    expect(replica.optimizer.skipped).toBe(2);
    expect((await counter.data())[0]).toBe(4);
    tf.dispose(weights);
  });
});
