import { describe, expect, it } from 'vitest';
import type { PackedBoxes, Sample, TrainingSample } from './index';

function needsAbsoluteXyxy(boxes: PackedBoxes<'xyxy', 'absolute'>): number {
  return boxes.length / 4;
}

describe('contract types', () => {
  it('accept plain Float32Arrays and keep format and space apart (checked by tsc)', () => {
    const plain = new Float32Array([0, 0, 10, 10]);
    expect(needsAbsoluteXyxy(plain)).toBe(1);
    const relative: PackedBoxes<'xyxy', 'relative'> = new Float32Array([0, 0, 0.5, 0.5]);
    // @ts-expect-error relative boxes are not absolute boxes
    needsAbsoluteXyxy(relative);
    const anchors: PackedBoxes<'cxcywh', 'relative'> = new Float32Array(4);
    // @ts-expect-error cxcywh boxes are not xyxy boxes
    needsAbsoluteXyxy(anchors);
    const prepared: TrainingSample = {
      id: 'a',
      image: new Uint8Array(3),
      width: 1,
      height: 1,
      boxes: relative,
      labels: new Int32Array([1]),
      difficult: new Uint8Array(1),
    };
    // @ts-expect-error a prepared (relative) sample is not a decoded (absolute) one
    const decoded: Sample = prepared;
    expect(decoded.id).toBe('a');
  });
});
