import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';
import { SSD300_VOC, generateAnchorsPacked } from '@ssd/anchors';
import { expectArrayClose, expectBitwiseOnCpu, expectNoTensorLeak, testRng } from '@ssd/testing';
import {
  DECODE_EXP_CLIP,
  VARIANCES,
  decodeBoxes,
  decodeBoxesPacked,
  encodeBoxes,
  encodeBoxesPacked,
  encodeTargets,
} from './index';

const anchors = generateAnchorsPacked(SSD300_VOC);
const numAnchors = anchors.length / 4;

/** One random valid xyxy box per anchor, near it (like a matched ground truth). */
function boxesNearAnchors(seed: number): Float32Array {
  const rng = testRng(seed);
  const out = new Float32Array(anchors.length);
  for (let p = 0; p < numAnchors; p++) {
    const [cx, cy, w, h] = anchors.subarray(p * 4, p * 4 + 4) as unknown as number[];
    const bw = w! * (0.3 + 2 * rng());
    const bh = h! * (0.3 + 2 * rng());
    const bcx = cx! + (rng() - 0.5) * w!;
    const bcy = cy! + (rng() - 0.5) * h!;
    out.set([bcx - bw / 2, bcy - bh / 2, bcx + bw / 2, bcy + bh / 2], p * 4);
  }
  return out;
}

/** Packed boxes from literals (the packed API takes float32 boxes). */
const f32 = (values: number[]) => new Float32Array(values);

describe('box coder', () => {
  it('VARIANCES are the Caffe/ssd.pytorch constants (torchvision weights 10, 10, 5, 5)', () => {
    expect(VARIANCES).toEqual([0.1, 0.1, 0.2, 0.2]);
    expect(VARIANCES.map((v) => 1 / v)).toEqual([10, 10, 5, 5]);
    expect(Object.isFrozen(VARIANCES)).toBe(true);
  });

  it('encodes a hand-computed box', () => {
    // Anchor cxcywh (0.5, 0.5, 0.2, 0.4); box centre (0.55, 0.55), size (0.2, 0.4):
    // ((0.05)/(0.2·0.1), (0.05)/(0.4·0.1), log 1 / 0.2, log 1 / 0.2) = (2.5, 1.25, 0, 0).
    const code = encodeBoxesPacked(f32([0.45, 0.35, 0.65, 0.75]), f32([0.5, 0.5, 0.2, 0.4]));
    expectArrayClose(code, [2.5, 1.25, 0, 0], { atol: 1e-5 });
    // Twice the width: log(2)/0.2 — the seed blog's prose swaps 5 and 10; its code does not.
    const wide = encodeBoxesPacked(f32([0.35, 0.35, 0.75, 0.75]), f32([0.5, 0.5, 0.2, 0.4]));
    expectArrayClose(wide, [2.5, 1.25, Math.log(2) / 0.2, 0], { atol: 1e-5 });
    expectArrayClose(decodeBoxesPacked(wide, f32([0.5, 0.5, 0.2, 0.4])), [0.35, 0.35, 0.75, 0.75], {
      atol: 1e-6,
    });
  });

  it('decode inverts encode over all 8732 SSD300 anchors (max error ≤ 1e-5)', async () => {
    const boxes = boxesNearAnchors(3);
    const codes = encodeBoxesPacked(boxes, anchors);
    expectArrayClose(decodeBoxesPacked(codes, anchors), boxes, { atol: 1e-5 });
    const anchorTensor = tf.tensor2d(anchors, [numAnchors, 4]);
    const boxTensor = tf.tensor3d(boxes, [1, numAnchors, 4]);
    await expectNoTensorLeak(async () => {
      const encoded = encodeBoxes(boxTensor, anchorTensor);
      expect(encoded.shape).toEqual([1, numAnchors, 4]);
      // The tensor encoder matches the packed one bit for bit on cpu.
      expectBitwiseOnCpu(await encoded.data(), codes);
      const decoded = decodeBoxes(encoded, anchorTensor);
      expectArrayClose(await decoded.data(), boxes, { atol: 1e-5 });
      expectArrayClose(await decoded.data(), decodeBoxesPacked(codes, anchors), { atol: 1e-6 });
      tf.dispose([encoded, decoded]);
    });
    tf.dispose([anchorTensor, boxTensor]);
  });

  it('encodeTargets codes equal encodeBoxesPacked of the matched boxes', () => {
    const gt = new Float32Array([0.1, 0.2, 0.4, 0.7, 0.5, 0.5, 0.9, 0.8]);
    const { locTargets, labels } = encodeTargets(anchors, gt, new Int32Array([3, 7]));
    let positives = 0;
    for (let p = 0; p < numAnchors; p++) {
      const code = locTargets.subarray(p * 4, p * 4 + 4);
      if (labels[p] === 0) {
        expect(Array.from(code)).toEqual([0, 0, 0, 0]);
        continue;
      }
      positives++;
      const g = labels[p] === 3 ? 0 : 1;
      const expected = encodeBoxesPacked(
        gt.subarray(g * 4, g * 4 + 4),
        anchors.subarray(p * 4, p * 4 + 4),
      );
      expect(Array.from(code)).toEqual(Array.from(expected));
    }
    expect(positives).toBeGreaterThan(2);
  });

  it('clamps the exponent so a wild prediction decodes finite', async () => {
    const loc = [0, 0, 1e6, 1e30];
    const anchor = [0.5, 0.5, 0.1, 0.1];
    const box = decodeBoxesPacked(loc, f32(anchor));
    const limit = 0.05 * Math.exp(DECODE_EXP_CLIP); // half of 62.5 × 0.1
    expectArrayClose(box, [0.5 - limit, 0.5 - limit, 0.5 + limit, 0.5 + limit], { atol: 1e-5 });
    const t = decodeBoxes(tf.tensor2d([loc]), tf.tensor2d([anchor]));
    expectArrayClose(await t.data(), box, { atol: 1e-5 });
    expect(DECODE_EXP_CLIP).toBeCloseTo(Math.log(62.5), 12);
  });

  it('rejects mismatched shapes and variances', () => {
    expect(() => decodeBoxesPacked(new Float32Array(8), new Float32Array(4))).toThrow(/loc/);
    expect(() => encodeBoxesPacked(new Float32Array(8), new Float32Array(4))).toThrow(/anchors/);
    expect(() =>
      encodeBoxesPacked(f32([0, 0, 1, 1]), f32([0.5, 0.5, 1, 1]), { variances: [0.1, 0.1, 0.2] }),
    ).toThrow(/variances/);
    expect(() => decodeBoxes(tf.zeros([2, 5, 4]), tf.zeros([4, 4]) as tf.Tensor2D)).toThrow(
      'loc: expected shape [..., 4, 4], got [2, 5, 4]',
    );
    expect(() => decodeBoxes(tf.zeros([4, 4]), tf.zeros([4, 3]) as tf.Tensor2D)).toThrow(
      'anchors: expected shape [numAnchors, 4], got [4, 3]',
    );
  });
});
