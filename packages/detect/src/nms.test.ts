import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';
import { testRng } from '@ssd/testing';
import { DetectInputError, nonMaxSuppressionPacked } from './index';

describe('nonMaxSuppressionPacked: hand cases', () => {
  // Box 1 overlaps box 0 with IoU 81/100 = 0.81; box 2 is far away.
  const boxes = new Float32Array([0, 0, 10, 10, 1, 1, 10, 10, 20, 20, 30, 30]);

  it('drops the lower-scoring of two overlapping boxes, keeps a separate one', () => {
    expect(
      Array.from(nonMaxSuppressionPacked(boxes, [0.9, 0.8, 0.7], { iouThreshold: 0.45 })),
    ).toEqual([0, 2]);
    expect(
      Array.from(nonMaxSuppressionPacked(boxes, [0.8, 0.9, 0.7], { iouThreshold: 0.45 })),
    ).toEqual([1, 2]);
  });

  it('suppresses only above the threshold (IoU 0.81)', () => {
    expect(
      Array.from(nonMaxSuppressionPacked(boxes, [0.9, 0.8, 0.7], { iouThreshold: 0.82 })),
    ).toEqual([0, 1, 2]);
    expect(
      Array.from(nonMaxSuppressionPacked(boxes, [0.9, 0.8, 0.7], { iouThreshold: 0.8 })),
    ).toEqual([0, 2]);
    // Identical boxes have IoU 1, which a threshold of 1 keeps.
    const same = new Float32Array([0, 0, 1, 1, 0, 0, 1, 1]);
    expect(nonMaxSuppressionPacked(same, [0.5, 0.6], { iouThreshold: 1 }).length).toBe(2);
    expect(Array.from(nonMaxSuppressionPacked(same, [0.5, 0.6], { iouThreshold: 0.99 }))).toEqual([
      1,
    ]);
  });

  it('returns by decreasing score, ties by index, capped at maxOutput', () => {
    const far = new Float32Array([0, 0, 1, 1, 5, 5, 6, 6, 10, 10, 11, 11]);
    expect(
      Array.from(nonMaxSuppressionPacked(far, [0.5, 0.5, 0.9], { iouThreshold: 0.5 })),
    ).toEqual([2, 0, 1]);
    expect(
      Array.from(
        nonMaxSuppressionPacked(far, [0.5, 0.5, 0.9], { iouThreshold: 0.5, maxOutput: 2 }),
      ),
    ).toEqual([2, 0]);
  });

  it('only considers the candidates given', () => {
    const kept = nonMaxSuppressionPacked(boxes, [0.9, 0.8, 0.7], {
      iouThreshold: 0.45,
      candidates: Int32Array.from([1, 2]),
    });
    expect(Array.from(kept)).toEqual([1, 2]);
  });

  it('a degenerate box overlaps nothing', () => {
    const flat = new Float32Array([0, 0, 10, 10, 2, 2, 2, 8]);
    expect(nonMaxSuppressionPacked(flat, [0.9, 0.8], { iouThreshold: 0.1 }).length).toBe(2);
  });

  it('rejects mismatched lengths and thresholds out of range', () => {
    expect(() => nonMaxSuppressionPacked(boxes, [1, 2], { iouThreshold: 0.5 })).toThrow(
      DetectInputError,
    );
    expect(() => nonMaxSuppressionPacked(boxes, [1, 2, 3], { iouThreshold: 1.5 })).toThrow(
      'iouThreshold',
    );
  });
});

describe('nonMaxSuppressionPacked agrees with tf.image.nonMaxSuppression', () => {
  for (const [seed, iouThreshold] of [
    [1, 0.45],
    [2, 0.3],
    [3, 0.7],
  ] as const) {
    it(`300 random boxes, IoU ${iouThreshold}`, async () => {
      const rng = testRng(seed);
      const n = 300;
      const boxes = new Float32Array(n * 4);
      const scores = new Float32Array(n);
      for (let i = 0; i < n; i++) {
        const cx = rng();
        const cy = rng();
        const w = 0.05 + 0.3 * rng();
        const h = 0.05 + 0.3 * rng();
        boxes.set([cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2], i * 4);
        scores[i] = rng();
      }
      const yxyx = new Float32Array(n * 4);
      for (let i = 0; i < n; i++) {
        yxyx.set([boxes[i * 4 + 1]!, boxes[i * 4]!, boxes[i * 4 + 3]!, boxes[i * 4 + 2]!], i * 4);
      }
      const boxTensor = tf.tensor2d(yxyx, [n, 4]);
      const scoreTensor = tf.tensor1d(scores);
      const expected = await tf.image.nonMaxSuppressionAsync(
        boxTensor,
        scoreTensor,
        n,
        iouThreshold,
      );
      const ours = nonMaxSuppressionPacked(boxes, scores, { iouThreshold });
      expect(ours.length).toBeGreaterThan(10);
      expect(Array.from(ours)).toEqual(Array.from(await expected.data()));
      tf.dispose([boxTensor, scoreTensor, expected]);
    });
  }
});
