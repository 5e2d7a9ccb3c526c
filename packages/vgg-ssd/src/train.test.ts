/**
 * The acceptance check "training works on the CPU test backend": a few Adam steps
 * of the real MultiBox loss (@ssd/loss) on targets from @ssd/matcher, on a narrow
 * model at 64 px, lower the loss.
 */
import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';
import { testRng } from '@ssd/testing';
import { SSD300_VOC, generateAnchorsPacked } from '@ssd/anchors';
import { encodeTargets } from '@ssd/matcher';
import { multiboxLoss } from '@ssd/loss';
import { anchorConfigForModel, preprocess } from './index';
import { narrowSsd } from './test-helpers';

const yieldToEventLoop = () => new Promise((resolve) => setTimeout(resolve, 0));

describe('training with the MultiBox loss', () => {
  it('Adam steps on a narrow SSD300 (64 px) lower multiboxLoss; no tensor leaks', async () => {
    const numClasses = 4;
    const model = narrowSsd({ numClasses, seed: 21 });
    const anchors = generateAnchorsPacked(anchorConfigForModel(model, SSD300_VOC));
    const numAnchors = anchors.length / 4;
    const rng = testRng(5);
    const pixels = Float32Array.from({ length: 2 * 64 * 64 * 3 }, () => Math.floor(rng() * 256));
    const images = preprocess(tf.tensor4d(pixels, [2, 64, 64, 3]));
    const locTargets = new Float32Array(2 * numAnchors * 4);
    const labels = new Int32Array(2 * numAnchors);
    const boxes = [
      [0.1, 0.1, 0.6, 0.5, 0.5, 0.4, 0.95, 0.9],
      [0.2, 0.3, 0.8, 0.9],
    ];
    boxes.forEach((gt, b) => {
      const targets = encodeTargets(
        anchors,
        Float32Array.from(gt),
        Int32Array.from({ length: gt.length / 4 }, (_, i) => 1 + ((b + i) % 3)),
      );
      locTargets.set(targets.locTargets, b * numAnchors * 4);
      labels.set(targets.labels, b * numAnchors);
    });
    const targets = {
      locTargets: tf.tensor3d(locTargets, [2, numAnchors, 4]),
      labels: tf.tensor2d(labels, [2, numAnchors], 'int32'),
    };
    expect(labels.some((l) => l > 0)).toBe(true);

    const optimizer = tf.train.adam(1e-3);
    const losses: number[] = [];
    const step = () =>
      optimizer.minimize(() => {
        const [locPred, logits] = model.apply(images, { training: true }) as tf.Tensor[];
        return multiboxLoss({ locPred: locPred!, logits: logits! }, targets).total as tf.Scalar;
      }, true)!;
    const first = step();
    losses.push((await first.data())[0]!);
    first.dispose();
    await yieldToEventLoop();
    const before = tf.memory().numTensors;
    for (let i = 0; i < 4; i++) {
      const loss = step();
      losses.push((await loss.data())[0]!);
      loss.dispose();
      await yieldToEventLoop();
    }
    expect(tf.memory().numTensors).toBe(before);
    expect(losses.every(Number.isFinite)).toBe(true);
    expect(losses[losses.length - 1]!).toBeLessThan(losses[0]! * 0.9);
    optimizer.dispose();
    tf.dispose([images, targets.locTargets, targets.labels]);
    model.dispose();
  });
});
