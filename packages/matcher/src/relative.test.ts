import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';
import {
  MatcherInputError,
  RELATIVE_BOX_TOLERANCE,
  assertRelativeBoxes,
  createTargetEncoder,
  encodeTargets,
  encodeTargetsBatch,
} from './index';

const anchors = new Float32Array([0.5, 0.5, 0.5, 0.5, 0.25, 0.25, 0.5, 0.5]);

describe('ground truth must be relative', () => {
  it('encodeTargets refuses pixel boxes, naming the box, its values and the fix', () => {
    const pixels = new Float32Array([12, 12, 40, 40]);
    const call = () => encodeTargets(anchors, pixels, new Int32Array([1]));
    expect(call).toThrow(MatcherInputError);
    expect(call).toThrow('gtBoxes[0]: [12, 12, 40, 40] looks like pixels');
    expect(call).toThrow(/relative to the image \(0\.\.1\).*toRelativePacked/);
    try {
      call();
    } catch (error) {
      expect((error as MatcherInputError).field).toBe('gtBoxes[0]');
      expect((error as MatcherInputError).value).toEqual([12, 12, 40, 40]);
    }
  });

  it('names the first offending box among valid ones', () => {
    const gt = new Float32Array([0.1, 0.1, 0.5, 0.5, 30, 20, 180, 140]);
    expect(() => encodeTargets(anchors, gt, new Int32Array([1, 2]))).toThrow(
      /^gtBoxes\[1\]: \[30, 20, 180, 140\] looks like pixels/,
    );
    const encode = createTargetEncoder(anchors, { numClasses: 3 });
    expect(() => encode(gt, [1, 2])).toThrow(/gtBoxes\[1\].*looks like pixels/);
  });

  it('refuses relative boxes past the border, without calling them pixels', () => {
    for (const bad of [
      [-0.2, 0.1, 0.5, 0.6],
      [0.3, 0.3, 1.4, 0.9],
      [0.3, 0.3, 0.9, 1 + 2 * RELATIVE_BOX_TOLERANCE],
    ]) {
      expect(() => encodeTargets(anchors, Float32Array.from(bad), [1])).toThrow(
        /^gtBoxes\[0\]: .* lies outside the image: .*\[0, 1\].*clipBoxesPacked/,
      );
    }
  });

  it('accepts float32 rounding at the border (within the tolerance)', () => {
    const gt = Float32Array.from([-1e-6, 0, 1 + 1e-6, 1 + RELATIVE_BOX_TOLERANCE / 2]);
    expect(() => encodeTargets(anchors, gt, [1])).not.toThrow();
    expect(() => assertRelativeBoxes([0, 0, 1, 1, 0.2, 0.3, 0.4, 0.5])).not.toThrow();
  });

  it('leaves non-finite coordinates to the degenerate-box check', () => {
    const gt = new Float32Array([0.2, NaN, 0.4, 0.6]);
    expect(() => encodeTargets(anchors, gt, [1])).toThrow(/degenerate box/);
    const kept = encodeTargets(anchors, gt, [1], { invalidBoxes: 'drop' });
    expect(Array.from(kept.labels)).toEqual([0, 0]);
  });

  it('assertRelativeBoxes uses the field name it is given', () => {
    expect(() => assertRelativeBoxes([0, 0, 300, 300], 'batch[2].boxes')).toThrow(
      /^batch\[2\]\.boxes\[0\]: \[0, 0, 300, 300\] looks like pixels/,
    );
  });

  it('encodeTargetsBatch refuses int32 (pixel) boxes at the entry', () => {
    const a = tf.tensor2d(anchors, [2, 4]);
    const boxes = tf.tensor3d([[[12, 12, 40, 40]]], [1, 1, 4], 'int32');
    const labels = tf.tensor2d([[1]], [1, 1], 'int32');
    expect(() => encodeTargetsBatch(a, boxes, labels)).toThrow(
      /^gtBoxes: expected float32 xyxy boxes relative to the image \(0\.\.1\), got dtype int32/,
    );
    tf.dispose([a, boxes, labels]);
  });
});
