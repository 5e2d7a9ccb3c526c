import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { describe, expect, it } from 'vitest';
import { expectNoTensorLeak, testRng } from '@ssd/testing';
import {
  LossInputError,
  kerasMultiboxLoss,
  multiboxLoss,
  packPredictions,
  packTargets,
} from './index';

const B = 3;
const P = 20;
const C = 5;

function randomBatch(seed: number) {
  const rng = testRng(seed);
  const labels = Int32Array.from({ length: B * P }, (_, i) => {
    const r = rng();
    return i % P === 7 ? -1 : r < 0.2 ? 1 + Math.floor(rng() * (C - 1)) : 0;
  });
  labels[0] = 2; // at least one positive
  return {
    locTargets: tf.tensor3d(
      Float32Array.from({ length: B * P * 4 }, () => rng() - 0.5),
      [B, P, 4],
    ),
    labels: tf.tensor2d(labels, [B, P], 'int32'),
    locPred: tf.tensor3d(
      Float32Array.from({ length: B * P * 4 }, () => rng() * 2 - 1),
      [B, P, 4],
    ),
    logits: tf.tensor3d(
      Float32Array.from({ length: B * P * C }, () => rng() * 4 - 2),
      [B, P, C],
    ),
  };
}

describe('kerasMultiboxLoss', () => {
  it('equals multiboxLoss().total for both target packings', async () => {
    const { locTargets, labels, locPred, logits } = randomBatch(1);
    const direct = multiboxLoss({ locPred, logits }, { locTargets, labels });
    const expected = (await direct.total.data())[0]!;
    const yPred = packPredictions(locPred, logits);
    const loss = kerasMultiboxLoss();
    await expectNoTensorLeak(async () => {
      for (const packing of ['label', 'oneHot'] as const) {
        const yTrue = packTargets(
          locTargets,
          labels,
          packing === 'label' ? { packing } : { packing, numClasses: C },
        );
        expect(yTrue.shape).toEqual([B, P, packing === 'label' ? 5 : 4 + C]);
        const value = loss(yTrue, yPred);
        expect(value.rank).toBe(0);
        expect((await value.data())[0]).toBeCloseTo(expected, 5);
        tf.dispose([yTrue, value]);
      }
    });
    tf.dispose([
      locTargets,
      labels,
      locPred,
      logits,
      yPred,
      direct.total,
      direct.localization,
      direct.confidence,
    ]);
  });

  it('rejects a yTrue that fits neither packing', () => {
    const yPred = tf.zeros([1, 4, 4 + C]);
    expect(() => kerasMultiboxLoss()(tf.zeros([1, 4, 6]), yPred)).toThrow(LossInputError);
    expect(() => kerasMultiboxLoss()(tf.zeros([1, 4, 5]), tf.zeros([1, 4, 5]))).toThrow(/yPred/);
    tf.dispose(yPred);
  });

  it("packTargets requires numClasses for packing: 'oneHot'", () => {
    const locTargets = tf.zeros([1, 4, 4]);
    const labels = tf.zeros([1, 4], 'int32');
    const before = tf.memory().numTensors;
    for (const numClasses of [undefined, 1, 2.5, NaN]) {
      const options = { packing: 'oneHot', numClasses } as {
        packing: 'oneHot';
        numClasses: number;
      };
      expect(() => packTargets(locTargets, labels, options)).toThrow(LossInputError);
      expect(() => packTargets(locTargets, labels, options)).toThrow(
        /^options\.numClasses: expected an integer ≥ 2 .* for packing: 'oneHot', got /,
      );
    }
    expect(() =>
      packTargets(locTargets, labels, { packing: 'oneHot' } as unknown as { packing: 'label' }),
    ).toThrow(
      "options.numClasses: expected an integer ≥ 2 (the K object classes plus background) for packing: 'oneHot', got none",
    );
    expect(() =>
      packTargets(locTargets, labels, { packing: 'onehot' } as unknown as { packing: 'label' }),
    ).toThrow("options.packing: expected 'label' or 'oneHot', got onehot");
    expect(tf.memory().numTensors).toBe(before);
    tf.dispose([locTargets, labels]);
  });

  it('drops into model.compile / model.fit of a tfjs-layers model, and trains', async () => {
    const { locTargets, labels } = randomBatch(2);
    const rng = testRng(3);
    const features = tf.tensor3d(
      Float32Array.from({ length: B * P * 8 }, () => rng() - 0.5),
      [B, P, 8],
    );
    const input = tfl.input({ shape: [P, 8] });
    const loc = tfl.layers
      .dense({ units: 4, kernelInitializer: 'glorotUniform' })
      .apply(input) as tfl.SymbolicTensor;
    const cls = tfl.layers.dense({ units: C }).apply(input) as tfl.SymbolicTensor;
    const packed = tfl.layers.concatenate({ axis: -1 }).apply([loc, cls]) as tfl.SymbolicTensor;
    const model = tfl.model({ inputs: input, outputs: packed });
    model.compile({ optimizer: tf.train.adam(0.05), loss: kerasMultiboxLoss() });
    // model.fit needs targets shaped like the output: the one-hot packing.
    const yTrue = packTargets(locTargets, labels, { packing: 'oneHot', numClasses: C });
    const history = await model.fit(features, yTrue, { epochs: 30, batchSize: B, verbose: 0 });
    const losses = history.history.loss as number[];
    expect(losses.every(Number.isFinite)).toBe(true);
    expect(losses.at(-1)!).toBeLessThan(losses[0]! * 0.7);

    // A custom loop with the compact packing and optimizer.minimize.
    const compact = packTargets(locTargets, labels);
    const lossFn = kerasMultiboxLoss();
    const optimizer = tf.train.sgd(0.05);
    const step = () =>
      optimizer.minimize(() => lossFn(compact, model.predict(features) as tf.Tensor), true)!;
    const first = step();
    const firstValue = (await first.data())[0]!;
    first.dispose();
    // Every later step leaves the tensor count where it was (no leak in the loss).
    const before = tf.memory().numTensors;
    let lastValue = firstValue;
    for (let i = 0; i < 10; i++) {
      const cost = step();
      lastValue = (await cost.data())[0]!;
      cost.dispose();
    }
    expect(tf.memory().numTensors).toBe(before);
    expect(lastValue).toBeLessThan(firstValue);
    tf.dispose([features, yTrue, compact, locTargets, labels]);
    model.dispose();
    optimizer.dispose();
  });
});
