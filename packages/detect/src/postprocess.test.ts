import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';
import { expectNoTensorLeak } from '@ssd/testing';
import { DetectInputError, postprocess } from './index';

// Three anchors (cxcywh): 0 and 1 overlap strongly, 2 is elsewhere.
const anchors = new Float32Array([0.3, 0.3, 0.2, 0.2, 0.31, 0.3, 0.2, 0.2, 0.75, 0.75, 0.2, 0.4]);

function logitsFor(probabilities: number[][]): tf.Tensor3D {
  // log p is a valid logit vector: softmax(log p) = p.
  return tf.tensor3d([probabilities.map((p) => p.map(Math.log))]);
}

describe('postprocess', () => {
  it('decodes, thresholds, runs per-class NMS and scales to pixels', async () => {
    const locPred = tf.zeros([1, 3, 4]); // zero offsets: the boxes are the anchors
    const logits = logitsFor([
      [0.1, 0.8, 0.1],
      [0.2, 0.7, 0.1],
      [0.1, 0.3, 0.6],
    ]);
    const [detections] = await expectNoTensorLeak(() =>
      postprocess({ locPred, logits }, anchors, {
        imageSizes: [{ width: 200, height: 100 }],
        scoreThreshold: 0.25,
        labels: ['cat', 'dog'],
      }),
    );
    // class 1: anchor 0 (0.8) suppresses anchor 1 (0.7, IoU 0.9); anchor 2 has 0.3 > 0.25.
    // class 2: anchor 2 (0.6). Class 0 (background) never appears.
    expect(detections!.map((d) => [d.classId, d.label, Number(d.score.toFixed(5))])).toEqual([
      [1, 'cat', 0.8],
      [2, 'dog', 0.6],
      [1, 'cat', 0.3],
    ]);
    const first = detections![0]!.box;
    expect(first.xMin).toBeCloseTo(0.2 * 200, 4);
    expect(first.yMin).toBeCloseTo(0.2 * 100, 4);
    expect(first.xMax).toBeCloseTo(0.4 * 200, 4);
    expect(first.yMax).toBeCloseTo(0.4 * 100, 4);
    // Anchor 2 reaches y = 0.95: inside; a box past the edge is clipped.
    expect(detections![1]!.box.yMax).toBeCloseTo(95, 4);
    tf.dispose([locPred, logits]);
  });

  it('clips boxes to the image and applies maxDetections and topK', async () => {
    const locPred = tf.tensor3d([
      [
        [0, 0, 10, 10],
        [0, 0, 0, 0],
        [0, 0, 0, 0],
      ],
    ]); // anchor 0 grows e^2 = 7.4×
    const logits = logitsFor(
      [
        [0.1, 0.9, 0],
        [0.2, 0.1, 0.7],
        [0.1, 0.3, 0.6],
      ].map((p) => p.map((v) => v + 1e-6)),
    );
    const [all] = await postprocess({ locPred, logits }, anchors, {
      imageSizes: [{ width: 10, height: 10 }],
    });
    const big = all!.find((d) => d.classId === 1 && d.score > 0.8)!;
    expect(big.box.xMin).toBe(0);
    expect(big.box.yMin).toBe(0);
    const [capped] = await postprocess({ locPred, logits }, anchors, {
      imageSizes: [{ width: 10, height: 10 }],
      maxDetections: 2,
    });
    expect(capped!.map((d) => d.score)).toEqual(all!.slice(0, 2).map((d) => d.score));
    const [top1] = await postprocess({ locPred, logits }, anchors, {
      imageSizes: [{ width: 10, height: 10 }],
      topK: 1,
    });
    // One candidate per class: class 1 → anchor 0, class 2 → anchor 1.
    expect(top1!.map((d) => d.classId).sort()).toEqual([1, 2]);
    tf.dispose([locPred, logits]);
  });

  it('handles a batch, one size per image', async () => {
    const locPred = tf.zeros([2, 3, 4]);
    const logits = tf.concat([
      logitsFor([
        [0.1, 0.8, 0.1],
        [0.9, 0.05, 0.05],
        [0.9, 0.05, 0.05],
      ]),
      logitsFor([
        [0.9, 0.05, 0.05],
        [0.9, 0.05, 0.05],
        [0.1, 0.1, 0.8],
      ]),
    ]);
    const out = await postprocess({ locPred, logits }, tf.tensor2d(anchors, [3, 4]), {
      imageSizes: [
        { width: 100, height: 100 },
        { width: 50, height: 20 },
      ],
      scoreThreshold: 0.5,
    });
    expect(out.map((d) => d.map((x) => x.classId))).toEqual([[1], [2]]);
    expect(out[1]![0]!.box.xMax).toBeCloseTo(0.85 * 50, 4);
    tf.dispose([locPred, logits]);
  });

  it('names what is wrong', async () => {
    const locPred = tf.zeros([1, 3, 4]);
    const logits = tf.zeros([1, 3, 3]);
    const sizes = { imageSizes: [{ width: 1, height: 1 }] };
    await expect(postprocess({ locPred, logits }, anchors.subarray(0, 8), sizes)).rejects.toThrow(
      'anchors: expected 3 anchors',
    );
    await expect(postprocess({ locPred, logits }, anchors, { imageSizes: [] })).rejects.toThrow(
      DetectInputError,
    );
    await expect(
      postprocess({ locPred, logits }, anchors, { ...sizes, labels: ['x'] }),
    ).rejects.toThrow('labels: expected 2 names for classes 1..2, got 1');
    await expect(postprocess({ locPred: logits, logits }, anchors, sizes)).rejects.toThrow(
      'locPred',
    );
    tf.dispose([locPred, logits]);
  });
});
