import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';
import { expectNoTensorLeak, expectTensorClose, testRng } from '@ssd/testing';
import {
  BoxShapeError,
  boxArea,
  clipBoxes,
  convertBoxes,
  pairwiseIntersection,
  pairwiseIou,
  toAbsolute,
  toRelative,
  type BoxFormat,
} from './index';

const xyxy = [10, 20, 30, 60];
const same: Record<BoxFormat, number[]> = {
  xyxy,
  cxcywh: [20, 40, 20, 40],
  xywh: [10, 20, 20, 40],
  yxyx: [20, 10, 60, 30],
};
const formats = Object.keys(same) as BoxFormat[];

describe('convertBoxes', () => {
  for (const from of formats) {
    for (const to of formats) {
      it(`${from} -> ${to}`, async () => {
        const out = convertBoxes(tf.tensor2d([same[from]!]), from, to);
        await expectTensorClose(out, same[to]!, [1, 4]);
      });
    }
  }

  it('keeps leading dimensions and frees its intermediates', async () => {
    const boxes = tf.randomUniform([2, 3, 4]);
    const out = convertBoxes(boxes, 'xyxy', 'cxcywh');
    expect(out.shape).toEqual([2, 3, 4]);
    await expectNoTensorLeak(() => convertBoxes(boxes, 'cxcywh', 'yxyx').dispose());
    tf.dispose([boxes, out]);
  });

  it('round-trips random boxes through every format', async () => {
    const rng = testRng(1);
    const data = Array.from({ length: 40 }, () => rng() * 100);
    const boxes = tf.tensor2d(data, [10, 4]);
    for (const f of formats) {
      const back = convertBoxes(convertBoxes(boxes, 'xyxy', f), f, 'xyxy');
      await expectTensorClose(back, data, [10, 4], { atol: 1e-4 });
    }
  });

  it('rejects a last dimension other than 4, naming the shapes', () => {
    expect(() => convertBoxes(tf.zeros([3, 5]), 'xyxy', 'cxcywh')).toThrow(BoxShapeError);
    expect(() => convertBoxes(tf.zeros([3, 5]), 'xyxy', 'cxcywh')).toThrow(
      'boxes: expected shape [..., 4], got [3, 5]',
    );
    expect(() => convertBoxes(tf.scalar(1), 'xyxy', 'cxcywh')).toThrow('got []');
  });

  it('rejects an unknown format', () => {
    expect(() => convertBoxes(tf.zeros([1, 4]), 'xyxy', 'ltrb' as BoxFormat)).toThrow(
      "to: unknown box format 'ltrb'",
    );
  });
});

describe('toAbsolute / toRelative', () => {
  it('scales x by width and y by height, for yxyx too', async () => {
    const size = { width: 200, height: 100 };
    await expectTensorClose(
      toAbsolute(tf.tensor2d([[0.1, 0.2, 0.5, 1]]), 'xyxy', size),
      [20, 20, 100, 100],
      [1, 4],
      { atol: 1e-4 },
    );
    await expectTensorClose(
      toAbsolute(tf.tensor2d([[0.2, 0.1, 1, 0.5]]), 'yxyx', size),
      [20, 20, 100, 100],
      [1, 4],
      { atol: 1e-4 },
    );
    await expectTensorClose(
      toRelative(tf.tensor2d([[20, 20, 100, 100]]), 'cxcywh', size),
      [0.1, 0.2, 0.5, 1],
      [1, 4],
    );
  });

  it('rejects a non-positive image size', () => {
    expect(() => toAbsolute(tf.zeros([1, 4]), 'xyxy', { width: 0, height: 5 })).toThrow(
      'size.width: expected a positive number, got 0',
    );
  });
});

describe('boxArea', () => {
  it('computes areas and gives 0 for empty and inverted boxes', async () => {
    const boxes = tf.tensor2d([xyxy, [5, 5, 5, 9], [10, 10, 0, 0], [0, 0, 2, 3]]);
    await expectTensorClose(boxArea(boxes, 'xyxy'), [800, 0, 0, 6], [4]);
  });

  it('works in every format', async () => {
    for (const f of formats) {
      await expectTensorClose(boxArea(tf.tensor2d([same[f]!]), f), [800], [1]);
    }
  });
});

describe('pairwiseIou', () => {
  it('matches hand-computed values', async () => {
    const a = tf.tensor2d([
      [0, 0, 10, 10],
      [5, 5, 15, 15],
    ]);
    const b = tf.tensor2d([
      [0, 0, 10, 10],
      [10, 10, 20, 20],
      [0, 0, 5, 10],
    ]);
    // a1∩b2 = 0 (touching corners); a2∩b1 = 25, union 175.
    await expectTensorClose(pairwiseIou(a, b, 'xyxy'), [1, 0, 0.5, 25 / 175, 25 / 175, 0], [2, 3]);
    await expectTensorClose(pairwiseIntersection(a, b, 'xyxy'), [100, 0, 50, 25, 25, 0], [2, 3]);
  });

  it('gives 0, never NaN, for degenerate boxes', async () => {
    const a = tf.tensor2d([
      [1, 1, 1, 1],
      [4, 4, 2, 2],
      [0, 0, 0, 0],
    ]);
    const b = tf.tensor2d([
      [1, 1, 1, 1],
      [0, 0, 0, 0],
      [0, 0, 5, 5],
    ]);
    await expectTensorClose(pairwiseIou(a, b, 'xyxy'), new Array(9).fill(0), [3, 3]);
  });

  it('accepts every format and does not leak', async () => {
    const a = tf.tensor2d([same.cxcywh!]);
    await expectTensorClose(pairwiseIou(a, a, 'cxcywh'), [1], [1, 1]);
    await expectNoTensorLeak(() => pairwiseIou(a, a, 'cxcywh').dispose());
  });

  it('broadcasts leading dimensions: [B, N, 4] × [M, 4] → [B, N, M], each slice as in 2-D', async () => {
    const a = tf.tensor3d([
      [
        [0, 0, 10, 10],
        [5, 5, 15, 15],
      ],
      [
        [0, 0, 5, 10],
        [20, 20, 30, 30],
      ],
    ]); // [2, 2, 4]
    const b = tf.tensor2d([
      [0, 0, 10, 10],
      [10, 10, 20, 20],
      [0, 0, 5, 10],
    ]); // [3, 4]
    const batched = pairwiseIou(a, b, 'xyxy');
    expect(batched.shape).toEqual([2, 2, 3]);
    const perImage = tf.stack([0, 1].map((i) => pairwiseIou(tf.gather(a, i), b, 'xyxy')));
    // Bit for bit, not merely close: the batched path is the same arithmetic.
    expect(await batched.data()).toEqual(await perImage.data());
    await expectTensorClose(
      batched,
      [1, 0, 0.5, 25 / 175, 25 / 175, 0, 0.5, 0, 1, 0, 0, 0],
      [2, 2, 3],
    );
    const inter = pairwiseIntersection(a, tf.expandDims(b, 0), 'xyxy'); // [2, 2, 4] × [1, 3, 4]
    await expectTensorClose(inter, [100, 0, 50, 25, 25, 0, 50, 0, 50, 0, 0, 0], [2, 2, 3]);
    await expectNoTensorLeak(() => pairwiseIou(a, b, 'xyxy').dispose());
  });

  it('pairs batch slices of equal leading dimensions', async () => {
    const a = tf.tensor3d([[[0, 0, 2, 2]], [[0, 0, 2, 2]]]); // [2, 1, 4]
    const b = tf.tensor3d([[[0, 0, 2, 2]], [[1, 0, 3, 2]]]); // [2, 1, 4]
    await expectTensorClose(pairwiseIou(a, b, 'xyxy'), [1, 1 / 3], [2, 1, 1]);
  });

  it('rejects rank-1 inputs and leading dimensions that do not broadcast', () => {
    const zeros = (shape: number[]): tf.Tensor => tf.zeros(shape);
    expect(() => pairwiseIou(zeros([4]), zeros([1, 4]), 'xyxy')).toThrow(
      'a: expected shape [..., N, 4], got [4]',
    );
    expect(() => pairwiseIou(zeros([1, 3]), zeros([1, 4]), 'xyxy')).toThrow(
      'a: expected shape [..., N, 4], got [1, 3]',
    );
    expect(() => pairwiseIou(zeros([2, 1, 4]), zeros([3, 1, 4]), 'xyxy')).toThrow(BoxShapeError);
  });
});

describe('clipBoxes', () => {
  it('clips to the unit square by default and to an image size on request', async () => {
    const boxes = tf.tensor2d([[-0.5, 0.2, 1.5, 0.9]]);
    await expectTensorClose(clipBoxes(boxes, 'xyxy'), [0, 0.2, 1, 0.9], [1, 4]);
    await expectTensorClose(
      clipBoxes(tf.tensor2d([[50, 50, 200, 200]]), 'cxcywh', { width: 100, height: 80 }),
      [50, 40, 100, 80],
      [1, 4],
    );
  });
});
