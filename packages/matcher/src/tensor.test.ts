import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';
import { SSD300_VOC, anchorConfigFromScales, generateAnchorsPacked } from '@ssd/anchors';
import { expectBitwiseOnCpu, expectNoTensorLeak, expectSameArray, testRng } from '@ssd/testing';
import { createTargetEncoder, encodeTargets, encodeTargetsBatch, matchAnchors } from './index';

const anchors = generateAnchorsPacked(SSD300_VOC);
const numAnchors = anchors.length / 4;
// A small SSD150-like set (2234 anchors) keeps the in-graph comparison quick on `cpu`.
const smallAnchors = generateAnchorsPacked(
  anchorConfigFromScales({
    imageSize: 150,
    featureMapSizes: [19, 10, 5, 3, 1],
    steps: [8, 16, 32, 64, 150],
    scales: [0.1, 0.26, 0.42, 0.58, 0.74, 0.9],
    aspectRatios: [[2], [2, 3], [2, 3], [2], [2]],
  }),
);

/** `count` random relative xyxy boxes, sizes 0.02..0.7. */
function randomBoxes(rng: () => number, count: number): number[] {
  const out: number[] = [];
  for (let i = 0; i < count; i++) {
    const w = 0.02 + 0.68 * rng();
    const h = 0.02 + 0.68 * rng();
    const x = rng() * (1 - w);
    const y = rng() * (1 - h);
    out.push(x, y, x + w, y + h);
  }
  return out;
}

describe('encodeTargetsBatch agrees with encodeTargets (bit for bit on cpu)', () => {
  for (const options of [{}, { negativeIouThreshold: 0.4 }, { iouThreshold: 0.6 }]) {
    it(`over 2234 anchors, padded batch, options ${JSON.stringify(options)}`, async () => {
      const rng = testRng(11);
      const numAnchors = smallAnchors.length / 4;
      const counts = [3, 0, 12, 1];
      const maxBoxes = 12;
      const boxes = new Float32Array(counts.length * maxBoxes * 4);
      const labels = new Int32Array(counts.length * maxBoxes);
      counts.forEach((count, b) => {
        boxes.set(randomBoxes(rng, count), b * maxBoxes * 4);
        for (let g = 0; g < count; g++) labels[b * maxBoxes + g] = 1 + Math.floor(rng() * 20);
      });
      // A padding row carrying a box, and a degenerate box with a label: both ignored.
      boxes.set([0.1, 0.1, 0.5, 0.5], (0 * maxBoxes + 5) * 4);
      boxes.set([0.3, 0.3, 0.3, 0.6], (0 * maxBoxes + 6) * 4);
      labels[0 * maxBoxes + 6] = 4;

      const anchorTensor = tf.tensor2d(smallAnchors, [smallAnchors.length / 4, 4]);
      const boxTensor = tf.tensor3d(boxes, [counts.length, maxBoxes, 4]);
      const labelTensor = tf.tensor2d(labels, [counts.length, maxBoxes], 'int32');
      await expectNoTensorLeak(async () => {
        const batch = encodeTargetsBatch(anchorTensor, boxTensor, labelTensor, options);
        expect(batch.locTargets.shape).toEqual([4, numAnchors, 4]);
        expect(batch.labels.dtype).toBe('int32');
        const loc = await batch.locTargets.data();
        const lab = await batch.labels.data();
        const mat = await batch.matches.data();
        counts.forEach((count, b) => {
          const gt = boxes.slice(b * maxBoxes * 4, (b * maxBoxes + count) * 4);
          const gtLabels = labels.slice(b * maxBoxes, b * maxBoxes + count);
          const one = encodeTargets(smallAnchors, gt, gtLabels, options);
          expectSameArray(lab.subarray(b * numAnchors, (b + 1) * numAnchors), one.labels);
          expectSameArray(
            mat.subarray(b * numAnchors, (b + 1) * numAnchors),
            matchAnchors(smallAnchors, gt, options),
          );
          expectBitwiseOnCpu(
            loc.subarray(b * numAnchors * 4, (b + 1) * numAnchors * 4),
            one.locTargets,
          );
        });
        tf.dispose([batch.locTargets, batch.labels, batch.matches]);
      });
      tf.dispose([anchorTensor, boxTensor, labelTensor]);
    });
  }

  it('gives all-background targets for a batch without boxes (G = 0)', async () => {
    const anchorTensor = tf.tensor2d(smallAnchors, [smallAnchors.length / 4, 4]);
    const boxes = tf.zeros([2, 0, 4]) as tf.Tensor3D;
    const labels = tf.zeros([2, 0], 'int32') as tf.Tensor2D;
    const batch = encodeTargetsBatch(anchorTensor, boxes, labels);
    expect(batch.locTargets.shape).toEqual([2, smallAnchors.length / 4, 4]);
    expect((await batch.labels.data()).every((l) => l === 0)).toBe(true);
    expect((await batch.matches.data()).every((m) => m === -1)).toBe(true);
    expect((await batch.locTargets.data()).every((t) => t === 0)).toBe(true);
    tf.dispose([anchorTensor, boxes, labels, batch.locTargets, batch.labels, batch.matches]);
  });

  it('rejects bad shapes and the bipartite strategy', () => {
    const a = tf.zeros([4, 4]) as tf.Tensor2D;
    const b = tf.zeros([2, 3, 4]) as tf.Tensor3D;
    expect(() => encodeTargetsBatch(a, b, tf.zeros([2, 2], 'int32') as tf.Tensor2D)).toThrow(
      'gtLabels: expected shape [2, 3], got [2, 2]',
    );
    expect(() =>
      encodeTargetsBatch(a, b, tf.zeros([2, 3], 'int32') as tf.Tensor2D, { strategy: 'bipartite' }),
    ).toThrow(/only 'ssd'/);
    tf.dispose([a, b]);
  });
});

describe('encodeTargets', () => {
  it('gives all-background targets for an image without boxes', () => {
    const { locTargets, labels } = encodeTargets(anchors, new Float32Array(0), new Int32Array(0));
    expect(labels.length).toBe(numAnchors);
    expect(labels.every((l) => l === 0)).toBe(true);
    expect(locTargets.every((v) => v === 0)).toBe(true);
  });

  it('labels positives with the class, the band with -1', () => {
    const gt = new Float32Array([0.2, 0.2, 0.6, 0.7]);
    const matches = matchAnchors(anchors, gt, { negativeIouThreshold: 0.4 });
    const { labels } = encodeTargets(anchors, gt, new Int32Array([5]), {
      negativeIouThreshold: 0.4,
    });
    let ignored = 0;
    const expected = Int32Array.from(matches, (m) => (m === 0 ? 5 : m === -2 ? -1 : 0));
    expectSameArray(labels, expected);
    for (const m of matches) if (m === -2) ignored++;
    expect(ignored).toBeGreaterThan(0);
  });

  it('createTargetEncoder from a config equals encodeTargets on its anchors', () => {
    const encode = createTargetEncoder(SSD300_VOC, { iouThreshold: 0.5 });
    const gt = new Float32Array([0.1, 0.1, 0.3, 0.4]);
    const fromConfig = encode(gt, [2]);
    const direct = encodeTargets(anchors, gt, [2]);
    expectSameArray(fromConfig.labels, direct.labels);
    expectSameArray(fromConfig.locTargets, direct.locTargets);
  });
});
