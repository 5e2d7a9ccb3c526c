import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';
import { expectArrayClose, testRng } from '@ssd/testing';
import {
  BOX_FORMATS,
  BoxShapeError,
  boxArea,
  boxAreaPacked,
  clipBoxes,
  clipBoxesPacked,
  convertBoxes,
  convertBoxesPacked,
  pairwiseIntersection,
  pairwiseIntersectionPacked,
  pairwiseIou,
  pairwiseIouPacked,
  toAbsolute,
  toAbsolutePacked,
  toRelativePacked,
} from './index';

/** Random boxes, some of them empty, inverted or outside the unit square. */
function randomBoxes(n: number, seed: number): Float32Array {
  const rng = testRng(seed);
  const out = new Float32Array(n * 4);
  for (let i = 0; i < n; i++) {
    const x = rng() * 1.2 - 0.1;
    const y = rng() * 1.2 - 0.1;
    const kind = i % 7;
    const w = kind === 0 ? 0 : kind === 1 ? -rng() * 0.2 : rng() * 0.5;
    const h = kind === 2 ? 0 : rng() * 0.5;
    out.set([x, y, x + w, y + h], i * 4);
  }
  return out;
}

describe('packed twins agree with the tensor versions', () => {
  const a = randomBoxes(37, 1);
  const b = randomBoxes(23, 2);

  for (const format of BOX_FORMATS) {
    it(`on random boxes read as ${format}`, async () => {
      const ta = tf.tensor2d(a, [37, 4]);
      const tb = tf.tensor2d(b, [23, 4]);
      expectArrayClose(pairwiseIouPacked(a, b, format), await pairwiseIou(ta, tb, format).data());
      expectArrayClose(
        pairwiseIntersectionPacked(a, b, format),
        await pairwiseIntersection(ta, tb, format).data(),
      );
      expectArrayClose(boxAreaPacked(a, format), await boxArea(ta, format).data());
      expectArrayClose(clipBoxesPacked(a, format), await clipBoxes(ta, format).data());
      for (const to of BOX_FORMATS) {
        expectArrayClose(
          convertBoxesPacked(a, format, to),
          await convertBoxes(ta, format, to).data(),
        );
      }
      const size = { width: 640, height: 480 };
      expectArrayClose(
        toAbsolutePacked(a, format, size),
        await toAbsolute(ta, format, size).data(),
        { atol: 1e-4 },
      );
      expectArrayClose(toRelativePacked(toAbsolutePacked(a, format, size), format, size), a);
    });
  }

  it('never produces NaN or Inf, even for NaN input', () => {
    const bad = new Float32Array([NaN, 0, 1, 1, 0, 0, 0, 0, 3, 3, 1, 1]);
    for (const v of pairwiseIouPacked(bad, bad, 'xyxy')) expect(Number.isFinite(v)).toBe(true);
  });

  it('rejects a length that is not a multiple of 4', () => {
    expect(() => boxAreaPacked(new Float32Array(6), 'xyxy')).toThrow(BoxShapeError);
    expect(() => pairwiseIouPacked(new Float32Array(4), new Float32Array(5), 'xyxy')).toThrow(
      'b: expected shape [N * 4], got length 5',
    );
  });
});
