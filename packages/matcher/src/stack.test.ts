import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';
import { expectNoTensorLeak } from '@ssd/testing';
import { MatcherInputError, encodeTargets, stackTargets } from './index';

const anchors = new Float32Array([0.25, 0.25, 0.5, 0.5, 0.75, 0.75, 0.5, 0.5, 0.5, 0.5, 1, 1]);

describe('stackTargets', () => {
  it('puts image b at row b of [B, P, 4] and [B, P] int32', async () => {
    const perImage = [
      encodeTargets(anchors, new Float32Array([0, 0, 0.5, 0.5]), [2]),
      encodeTargets(anchors, new Float32Array(0), []),
      encodeTargets(anchors, new Float32Array([0.5, 0.5, 1, 1, 0.1, 0.1, 0.9, 0.9]), [1, 3]),
    ];
    await expectNoTensorLeak(async () => {
      const { locTargets, labels } = stackTargets(perImage);
      expect(locTargets.shape).toEqual([3, 3, 4]);
      expect(locTargets.dtype).toBe('float32');
      expect(labels.shape).toEqual([3, 3]);
      expect(labels.dtype).toBe('int32');
      const loc = (await locTargets.array()) as number[][][];
      const lab = (await labels.array()) as number[][];
      perImage.forEach((targets, b) => {
        expect(lab[b]).toEqual(Array.from(targets.labels));
        expect(loc[b]!.flat()).toEqual(Array.from(targets.locTargets));
      });
      expect(lab).toEqual([
        [2, 0, 0],
        [0, 0, 0],
        [0, 1, 3],
      ]);
      tf.dispose([locTargets, labels]);
    });
  });

  it('rejects an empty batch and images over different anchors', () => {
    expect(() => stackTargets([])).toThrow(MatcherInputError);
    const three = encodeTargets(anchors, new Float32Array(0), []);
    const two = encodeTargets(anchors.subarray(0, 8), new Float32Array(0), []);
    expect(() => stackTargets([three, two])).toThrow(
      'perImage[1].labels: expected shape [3] (as perImage[0]), got length 2',
    );
    expect(() =>
      stackTargets([three, { locTargets: new Float32Array(8), labels: new Int32Array(3) }]),
    ).toThrow('perImage[1].locTargets: expected shape [3 * 4] (4 per label), got length 8');
  });
});
