import { describe, expect, it } from 'vitest';

import { resample } from './resample';

/** A 2×1 RGB image: black, then gray 100. */
const source = () => ({ image: Uint8Array.from([0, 0, 0, 100, 100, 100]), width: 2, height: 1 });

describe('resample', () => {
  it('defaults to the whole source: same size is a copy', () => {
    const target = { image: new Uint8Array(6), width: 2, height: 1 };
    resample(source(), target);
    expect(Array.from(target.image)).toEqual([0, 0, 0, 100, 100, 100]);
  });

  it('flipX mirrors; a float target is not rounded', () => {
    const target = { image: new Uint8Array(6), width: 2, height: 1 };
    resample(source(), target, { flipX: true });
    expect(Array.from(target.image)).toEqual([100, 100, 100, 0, 0, 0]);
    // 2 → 3 columns: centres at 1/6, 1/2, 5/6 of the image → u = 0, 0.5, 1.
    const wide = { image: new Float32Array(9), width: 3, height: 1 };
    resample(source(), wide);
    expect(Array.from(wide.image)).toEqual([0, 0, 0, 50, 50, 50, 100, 100, 100]);
  });

  it('a canvas: the image at its offset, fill around it, flagged in fillMask', () => {
    const target = { image: new Uint8Array(12), width: 4, height: 1 };
    const fillMask = new Uint8Array(4);
    resample(source(), target, {
      rect: { x: 0, y: 0, width: 4, height: 1 },
      canvas: { left: 1, top: 0, fill: [9, 8, 7] },
      fillMask,
    });
    expect(Array.from(target.image)).toEqual([9, 8, 7, 0, 0, 0, 100, 100, 100, 9, 8, 7]);
    // Only pure fill is flagged: column 0's right tap (weight 0) is a source pixel.
    expect(Array.from(fillMask)).toEqual([0, 0, 0, 1]);
  });
});
