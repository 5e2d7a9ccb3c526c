import { createRng } from '@ssd/random';
import { describe, expect, it } from 'vitest';

import { applyPhotometric, drawPhotometric, photometricInPlace } from './photometric';

describe('applyPhotometric', () => {
  const px = (r: number, g: number, b: number) => Uint8Array.from([r, g, b]);
  it('brightness adds and saturates; contrast multiplies', () => {
    expect(
      Array.from(applyPhotometric(px(10, 240, 100), { contrastFirst: true, brightness: 20 })),
    ).toEqual([30, 255, 120]);
    expect(
      Array.from(applyPhotometric(px(10, 200, 100), { contrastFirst: true, contrast: 1.5 })),
    ).toEqual([15, 255, 150]);
  });
  it('hue rotates in degrees, saturation scales, gray is left alone', () => {
    const green = applyPhotometric(px(255, 0, 0), { contrastFirst: true, hue: 120 });
    expect(Array.from(green).map(Math.round)).toEqual([0, 255, 0]);
    const pale = applyPhotometric(px(200, 100, 100), { contrastFirst: true, saturation: 0.5 });
    expect(Array.from(pale).map(Math.round)).toEqual([200, 150, 150]);
    expect(
      Array.from(
        applyPhotometric(px(90, 90, 90), { contrastFirst: true, saturation: 1.5, hue: 10 }),
      ),
    ).toEqual([90, 90, 90]);
  });
  it('order: contrast after saturation/hue when not contrastFirst', () => {
    const a = applyPhotometric(px(200, 100, 50), { contrastFirst: true, contrast: 1.4, hue: 15 });
    const b = applyPhotometric(px(200, 100, 50), { contrastFirst: false, contrast: 1.4, hue: 15 });
    expect(Array.from(a)).not.toEqual(Array.from(b));
  });
});

describe('photometricInPlace on 8-bit pixels', () => {
  it('agrees with the float version within 8-bit rounding, and skips flagged pixels', () => {
    const rng = createRng(4);
    const image = Uint8Array.from({ length: 3 * 500 }, () => Math.floor(rng() * 256));
    for (let seed = 0; seed < 200; seed++) {
      const params = drawPhotometric(createRng(seed), { channelSwapProbability: 0.5 });
      const expected = applyPhotometric(image, params);
      const got = image.slice();
      const skip = new Uint8Array(500);
      skip[7] = 1;
      photometricInPlace(got, params, skip);
      expect(Array.from(got.subarray(21, 24))).toEqual(Array.from(image.subarray(21, 24)));
      for (let i = 0; i < got.length; i++) {
        if (i >= 21 && i < 24) continue;
        // Caffe-style rounding after each step: at most a few levels apart.
        if (Math.abs(got[i]! - expected[i]!) > 4) {
          expect.fail(
            `seed ${seed}, value ${i}: ${got[i]} vs ${expected[i]} (${JSON.stringify(params)})`,
          );
        }
      }
    }
  });
});
