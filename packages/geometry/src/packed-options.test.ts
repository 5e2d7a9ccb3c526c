import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';
import { testRng } from '@ssd/testing';
import {
  BOX_FORMATS,
  BoxArgumentError,
  BoxShapeError,
  boxAreaPacked,
  boxIouPacked,
  pairwiseIntersectionPacked,
  pairwiseIou,
  pairwiseIouPacked,
} from './index';

const f = Math.fround;

describe('inclusive pixel widths (the VOC devkit)', () => {
  // [0, 9] covers pixels 0..9: 10 wide; [5, 14] overlaps it on pixels 5..9: 5 wide.
  const a = [0, 0, 9, 9];
  const b = [5, 5, 14, 14];

  it('counts x2 − x1 + 1 pixels in areas and intersections', () => {
    expect([...boxAreaPacked(a, 'xyxy', { inclusive: true })]).toEqual([100]);
    expect([...pairwiseIntersectionPacked(a, b, 'xyxy', { inclusive: true })]).toEqual([25]);
    // 25 / (100 + 100 − 25)
    expect(boxIouPacked(a, 0, b, 0, 'xyxy', { inclusive: true })).toBe(1 / 7);
  });

  it('continuous edges by default: 81-pixel areas, 16 shared, IoU 16 / 146', () => {
    expect([...boxAreaPacked(a, 'xyxy')]).toEqual([81]);
    expect(boxIouPacked(a, 0, b, 0, 'xyxy')).toBe(16 / 146);
  });

  it('a one-pixel box (x1 = x2) has area 1, and touching boxes share a pixel column', () => {
    expect([...boxAreaPacked([3, 3, 3, 3], 'yxyx', { inclusive: true })]).toEqual([1]);
    // [0, 4] and [4, 8] share column 4: 1·5 of 5·5 + 5·5 − 5
    expect(boxIouPacked([0, 0, 4, 4], 0, [4, 0, 8, 4], 0, 'xyxy', { inclusive: true })).toBe(
      5 / 45,
    );
    expect(boxIouPacked([0, 0, 4, 4], 0, [4, 0, 8, 4], 0, 'xyxy')).toBe(0);
  });

  it('needs a corner format', () => {
    expect(() => pairwiseIouPacked(a, b, 'xywh', { inclusive: true })).toThrow(BoxArgumentError);
    expect(() => boxAreaPacked(a, 'cxcywh', { inclusive: true })).toThrow(/corner format/);
  });
});

describe('float32 precision', () => {
  it('rounds the inputs: 2^24 + 1 is 2^24 in float32, so the box is empty', () => {
    const box = [16777216, 0, 16777217, 1];
    expect(boxIouPacked(box, 0, box, 0, 'xyxy')).toBe(1);
    expect(boxIouPacked(box, 0, box, 0, 'xyxy', { precision: 'float32' })).toBe(0);
    expect([...boxAreaPacked(box, 'xyxy', { precision: 'float32' })]).toEqual([0]);
  });

  it('rounds the quotient: IoU 1/3 is fround(1/3), while float64 keeps 1/3', () => {
    const a = [0, 0, 1, 1];
    const b = [0, 0, 1, 1 / 3];
    expect(boxIouPacked(a, 0, b, 0, 'xyxy')).toBe(1 / 3);
    expect(boxIouPacked(a, 0, b, 0, 'xyxy', { precision: 'float32' })).toBe(f(1 / 3));
    expect(f(1 / 3)).not.toBe(1 / 3);
  });

  it('rounds every step of a cxcywh conversion: corners fround(cx ∓ fround(w / 2))', () => {
    const box = [0.1, 0.2, 0.3, 0.7]; // cxcywh
    const x1 = f(f(0.1) - f(f(0.3) / 2));
    const x2 = f(f(0.1) + f(f(0.3) / 2));
    const y1 = f(f(0.2) - f(f(0.7) / 2));
    const y2 = f(f(0.2) + f(f(0.7) / 2));
    const area = f(f(x2 - x1) * f(y2 - y1));
    expect(boxAreaPacked(box, 'cxcywh', { precision: 'float32' })[0]).toBe(area);
  });

  /** torchvision's `box_iou` in float32, one rounding per operation, written out. */
  function referenceIouFloat32(a: Float32Array, i: number, b: Float32Array, j: number): number {
    const [ax1, ay1, ax2, ay2] = a.subarray(i * 4, i * 4 + 4);
    const [bx1, by1, bx2, by2] = b.subarray(j * 4, j * 4 + 4);
    const areaA = f(Math.max(0, f(ax2! - ax1!)) * Math.max(0, f(ay2! - ay1!)));
    const areaB = f(Math.max(0, f(bx2! - bx1!)) * Math.max(0, f(by2! - by1!)));
    const w = Math.max(0, f(Math.min(ax2!, bx2!) - Math.max(ax1!, bx1!)));
    const h = Math.max(0, f(Math.min(ay2!, by2!) - Math.max(ay1!, by1!)));
    const inter = f(w * h);
    const union = f(f(areaA + areaB) - inter);
    return union > 0 ? f(inter / union) : 0;
  }

  function randomBoxes(n: number, seed: number): Float32Array {
    const rng = testRng(seed);
    const out = new Float32Array(n * 4);
    for (let i = 0; i < n; i++) {
      const x = rng();
      const y = rng();
      const w = i % 5 === 0 ? 0 : rng() * 0.4;
      out.set([x, y, x + w, y + rng() * 0.4], i * 4);
    }
    return out;
  }

  it('is bit-identical to the written-out float32 reference and to the tfjs cpu tensor version', async () => {
    const a = randomBoxes(41, 3);
    const b = randomBoxes(17, 4);
    const packed = pairwiseIouPacked(a, b, 'xyxy', { precision: 'float32' });
    const tensor = await pairwiseIou(
      tf.tensor2d(a, [41, 4]),
      tf.tensor2d(b, [17, 4]),
      'xyxy',
    ).data();
    let differsFromFloat64 = 0;
    const float64 = pairwiseIouPacked(a, b, 'xyxy', { out: new Float64Array(41 * 17) });
    for (let i = 0; i < 41; i++) {
      for (let j = 0; j < 17; j++) {
        const v = packed[i * 17 + j]!;
        expect(v).toBe(referenceIouFloat32(a, i, b, j));
        expect(v).toBe(tensor[i * 17 + j]);
        expect(boxIouPacked(a, i, b, j, 'xyxy', { precision: 'float32' })).toBe(v);
        if (v !== float64[i * 17 + j]) differsFromFloat64++;
      }
    }
    // The two precisions are really different computations on these boxes.
    expect(differsFromFloat64).toBeGreaterThan(0);
  });

  it('agrees with float64 to float32 accuracy in every format', () => {
    const a = randomBoxes(9, 5);
    const b = randomBoxes(7, 6);
    for (const format of BOX_FORMATS) {
      const x = pairwiseIouPacked(a, b, format, { precision: 'float32' });
      const y = pairwiseIouPacked(a, b, format);
      for (let k = 0; k < x.length; k++) expect(x[k]).toBeCloseTo(y[k]!, 5);
    }
  });

  it('rejects an unknown precision', () => {
    expect(() =>
      pairwiseIouPacked([0, 0, 1, 1], [0, 0, 1, 1], 'xyxy', {
        precision: 'float16' as 'float32',
      }),
    ).toThrow("options.precision: expected 'float64' or 'float32', got float16");
  });
});

describe('output buffers and the one-pair form', () => {
  const a = new Float32Array([0, 0, 2, 2, 1, 1, 3, 3, 5, 5, 6, 6]);
  const b = new Float32Array([0, 0, 2, 2, 1, 0, 2, 2]);

  it('writes into `out` (a Float64Array keeps float64 values unrounded)', () => {
    const out = new Float64Array(6);
    const result = pairwiseIouPacked(a, b, 'xyxy', { out });
    expect(result).toBe(out);
    // [1, 2/4], [1/7, 1/5], [0, 0]
    expect([...out]).toEqual([1, 0.5, 1 / 7, 1 / 5, 0, 0]);
    expect([...pairwiseIouPacked(a, b, 'xyxy')]).toEqual([1, 0.5, f(1 / 7), f(1 / 5), 0, 0]);
  });

  it('rejects an `out` of the wrong length', () => {
    expect(() => pairwiseIouPacked(a, b, 'xyxy', { out: new Float32Array(5) })).toThrow(
      BoxShapeError,
    );
  });

  it('boxIouPacked gives the pairwise entry, unrounded in float64 mode', () => {
    const table = pairwiseIouPacked(a, b, 'xyxy', { out: new Float64Array(6) });
    for (let i = 0; i < 3; i++) {
      for (let j = 0; j < 2; j++) expect(boxIouPacked(a, i, b, j, 'xyxy')).toBe(table[i * 2 + j]);
    }
    expect(boxIouPacked(a, 2, a, 2, 'xyxy')).toBe(1);
  });
});
