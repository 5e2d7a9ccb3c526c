import { createRng } from '@ssd/random';
import { describe, expect, it } from 'vitest';
import { VOC_MEAN_RGB, drawExpand } from './expand';
import {
  AugmentOptionError,
  compose,
  expand,
  horizontalFlip,
  photometricDistort,
  randomIouCrop,
  resize,
  ssdEvalTransform,
  ssdTrainAugmentation,
  verticalFlip,
} from './index';
import type { AugmentSample, Transform } from './index';
import { drawIouCrop } from './iou-crop';
import { drawPhotometric } from './photometric';

const BG = [40, 40, 40] as const;
const COLOURS = [
  [250, 20, 20],
  [20, 250, 20],
  [20, 20, 250],
] as const;

/** A 64×48 gray image with three disjoint solid boxes, each its own colour. */
function boxesImage(): AugmentSample & { id: string } {
  const width = 64;
  const height = 48;
  const boxes = Float32Array.from([4, 6, 24, 30, 30, 2, 46, 14, 36, 24, 60, 44]);
  const image = new Uint8Array(width * height * 3);
  for (let i = 0; i < width * height; i++) image.set(BG, i * 3);
  for (let k = 0; k < 3; k++) {
    for (let y = boxes[4 * k + 1]!; y < boxes[4 * k + 3]!; y++) {
      for (let x = boxes[4 * k]!; x < boxes[4 * k + 2]!; x++)
        image.set(COLOURS[k]!, (y * width + x) * 3);
    }
  }
  return {
    id: 'x',
    image,
    width,
    height,
    boxes,
    labels: Int32Array.from([1, 2, 3]),
    difficult: Uint8Array.from([0, 1, 0]),
  };
}

const pixel = (s: AugmentSample, x: number, y: number) => {
  const o = (y * s.width + x) * 3;
  return [s.image[o]!, s.image[o + 1]!, s.image[o + 2]!];
};
const close = (a: number[], b: readonly number[], tol: number) =>
  a.every((v, c) => Math.abs(v - b[c]!) <= tol);

/**
 * Every box's colour fills the box (inset by `inset` px) and, for exact transforms, the
 * ring just outside the box is not that colour: box and pixels moved together.
 */
function expectConsistent(
  s: AugmentSample,
  { inset = 0, insetFraction = 0, tol = 0, ring = true } = {},
) {
  expect(s.image.length).toBe(s.width * s.height * 3);
  for (let k = 0; k < s.labels.length; k++) {
    const colour = COLOURS[s.labels[k]! - 1]!;
    const [x0, y0, x1, y1] = Array.from(s.boxes.subarray(4 * k, 4 * k + 4));
    expect(x0! >= 0 && y0! >= 0 && x1! <= s.width && y1! <= s.height, `box ${k} inside`).toBe(true);
    const margin = inset + insetFraction * Math.min(x1! - x0!, y1! - y0!);
    for (let y = Math.ceil(y0! + margin); y < Math.floor(y1! - margin); y++) {
      for (let x = Math.ceil(x0! + margin); x < Math.floor(x1! - margin); x++) {
        if (!close(pixel(s, x, y), colour, tol)) {
          expect.fail(
            `box ${k} (${[x0, y0, x1, y1]}): pixel (${x}, ${y}) is ${pixel(s, x, y)}, expected ${colour}`,
          );
        }
      }
    }
    if (!ring) continue;
    const outside: [number, number][] = [];
    for (let x = x0!; x < x1!; x++) outside.push([x, y0! - 1], [x, y1!]);
    for (let y = y0!; y < y1!; y++) outside.push([x0! - 1, y], [x1!, y]);
    for (const [x, y] of outside) {
      if (x >= 0 && x < s.width && y >= 0 && y < s.height && close(pixel(s, x, y), colour, 0)) {
        expect.fail(`box ${k} (${[x0, y0, x1, y1]}): pixel (${x}, ${y}) outside it has its colour`);
      }
    }
  }
}

function runSeeds(t: Transform, seeds: number, check: (out: AugmentSample, seed: number) => void) {
  for (let seed = 0; seed < seeds; seed++) {
    const input = boxesImage();
    const before = input.image.slice();
    const out = t(input, createRng(seed));
    expect(Buffer.from(input.image).equals(Buffer.from(before))).toBe(true); // input untouched
    check(out, seed);
  }
}

describe('box/image consistency after every transform', () => {
  it('expand: image on a mean-filled canvas, boxes shifted with it', () => {
    let expanded = 0;
    runSeeds(expand(), 40, (s) => {
      expectConsistent(s);
      if (s.width > 64) {
        expanded++;
        expect(
          close(pixel(s, 0, 0), VOC_MEAN_RGB, 0) ||
            close(pixel(s, s.width - 1, s.height - 1), VOC_MEAN_RGB, 0),
        ).toBe(true);
      }
    });
    expect(expanded).toBeGreaterThan(10);
  });

  it('randomIouCrop: clipped boxes still cover their colour; centre-outside boxes dropped', () => {
    let cropped = 0;
    runSeeds(randomIouCrop(), 60, (s) => {
      expectConsistent(s);
      expect(s.difficult).toHaveLength(s.labels.length);
      if (s.width < 64 || s.height < 48) cropped++;
    });
    expect(cropped).toBeGreaterThan(20);
  });

  it('horizontal and vertical flips', () => {
    runSeeds(horizontalFlip({ probability: 1 }), 1, (s) => {
      expectConsistent(s);
      expect(Array.from(s.boxes.subarray(0, 4))).toEqual([40, 6, 60, 30]);
    });
    runSeeds(verticalFlip({ probability: 1 }), 1, (s) => {
      expectConsistent(s);
      expect(Array.from(s.boxes.subarray(0, 4))).toEqual([4, 18, 24, 42]);
    });
  });

  it('resize: boxes scale with the image', () => {
    runSeeds(resize({ width: 128, height: 24 }), 1, (s) => {
      expect([s.width, s.height]).toEqual([128, 24]);
      expect(Array.from(s.boxes.subarray(0, 4))).toEqual([8, 3, 48, 15]);
      expectConsistent(s, { inset: 1, ring: false });
    });
  });

  it('photometric distortion: boxes untouched, each box stays one uniform colour', () => {
    runSeeds(photometricDistort({ channelSwapProbability: 0.5 }), 30, (s) => {
      expect(Array.from(s.boxes)).toEqual(Array.from(boxesImage().boxes));
      for (let k = 0; k < 3; k++) {
        const first = pixel(s, s.boxes[4 * k]!, s.boxes[4 * k + 1]!);
        expect(close(pixel(s, s.boxes[4 * k + 2]! - 1, s.boxes[4 * k + 3]! - 1), first, 1e-3)).toBe(
          true,
        );
      }
    });
  });

  it('the full SSD pipeline (no photometric): relative boxes on their colour', () => {
    const t = ssdTrainAugmentation({ size: 96, photometric: false });
    let nonEmpty = 0;
    for (let seed = 0; seed < 60; seed++) {
      const out = t(boxesImage(), createRng(seed));
      const abs = { ...out, boxes: out.boxes.map((v) => v * 96) };
      // Bilinear blending reaches ~1 source pixel past an edge: that is 1 output pixel
      // after a zoom-out, up to ~7 after a small crop is upscaled. The box's central
      // half must be its colour.
      expectConsistent(abs, { inset: 1, insetFraction: 0.25, tol: 2, ring: false });
      if (out.labels.length) nonEmpty++;
    }
    expect(nonEmpty).toBeGreaterThan(50);
  });
});

describe('ssdTrainAugmentation', () => {
  const composedWith = (photometric: boolean) =>
    compose(
      ...(photometric ? [photometricDistort()] : []),
      expand(),
      randomIouCrop(),
      horizontalFlip(),
      verticalFlip({ probability: 0 }),
      resize({ width: 80, height: 60 }),
    );

  it('equals the composed transforms drawn from the same seed (without photometric: to rounding)', () => {
    const composed = composedWith(false);
    const fused = ssdTrainAugmentation({ size: { width: 80, height: 60 }, photometric: false });
    for (let seed = 0; seed < 25; seed++) {
      const a = composed(boxesImage(), createRng(seed));
      const b = fused(boxesImage(), createRng(seed));
      expect(Array.from(b.labels)).toEqual(Array.from(a.labels));
      expect(Array.from(b.difficult!)).toEqual(Array.from(a.difficult!));
      const rel = Array.from(a.boxes, (v, i) => v / (i % 2 ? 60 : 80));
      b.boxes.forEach((v, i) => expect(v).toBeCloseTo(rel[i]!, 5));
      let worst = 0;
      for (let i = 0; i < b.image.length; i++)
        worst = Math.max(worst, Math.abs(b.image[i]! - a.image[i]!));
      expect(worst).toBeLessThanOrEqual(1);
    }
  });

  it('with photometric distortion: same boxes, image close to the composed one', () => {
    const composed = composedWith(true);
    const fused = ssdTrainAugmentation({ size: { width: 80, height: 60 } });
    for (let seed = 0; seed < 25; seed++) {
      const a = composed(boxesImage(), createRng(seed));
      const b = fused(boxesImage(), createRng(seed));
      expect(Array.from(b.labels)).toEqual(Array.from(a.labels));
      const rel = Array.from(a.boxes, (v, i) => v / (i % 2 ? 60 : 80));
      b.boxes.forEach((v, i) => expect(v).toBeCloseTo(rel[i]!, 5));
      // Distorting after instead of before interpolation only matters where the
      // interpolation mixes colours (box edges) and where 8-bit rounding differs.
      let total = 0;
      for (let i = 0; i < b.image.length; i++) total += Math.abs(b.image[i]! - a.image[i]!);
      expect(total / b.image.length, `seed ${seed}`).toBeLessThan(3);
    }
  });

  it('is deterministic for a (seed, sample) pair', () => {
    const t = ssdTrainAugmentation({ size: 50 });
    const a = t(boxesImage(), createRng(5));
    const b = t(boxesImage(), createRng(5));
    const c = t(boxesImage(), createRng(6));
    expect(b).toEqual(a);
    expect(c.image).not.toEqual(a.image);
  });

  it('keeps images with no boxes (never cropped, all draws still consumed)', () => {
    const empty = {
      ...boxesImage(),
      boxes: new Float32Array(0),
      labels: new Int32Array(0),
      difficult: new Uint8Array(0),
    };
    const out = ssdTrainAugmentation({ size: 32 })(empty, createRng(1));
    expect(out.labels).toHaveLength(0);
    expect([out.width, out.height, out.image.length]).toEqual([32, 32, 32 * 32 * 3]);
  });

  it('typed errors for bad options', () => {
    expect(() => ssdTrainAugmentation({ size: 0 })).toThrow(AugmentOptionError);
    expect(() => horizontalFlip({ probability: 1.5 })).toThrow(
      /probability must be in \[0, 1\], got 1.5/,
    );
    expect(() => photometricDistort({ contrastRange: [1.5, 0.5] })).toThrow(AugmentOptionError);
    expect(() => expand({ maxRatio: 0.5 })).toThrow(/maxRatio must be ≥ 1/);
  });
});

describe('probabilities and ranges over many seeds', () => {
  const N = 4000;
  const rate = (f: (seed: number) => boolean) => {
    let n = 0;
    for (let seed = 0; seed < N; seed++) if (f(seed)) n++;
    return n / N;
  };
  // 4000 Bernoulli(0.5) draws: std 0.008; 0.03 is > 3.5 std.
  const TOL = 0.03;

  it('each photometric step 0.5, contrast first 0.5, values in range', () => {
    const draws = Array.from({ length: N }, (_, seed) => drawPhotometric(createRng(seed)));
    for (const key of ['brightness', 'contrast', 'saturation', 'hue'] as const) {
      expect(Math.abs(draws.filter((d) => d[key] !== undefined).length / N - 0.5)).toBeLessThan(
        TOL,
      );
    }
    expect(Math.abs(draws.filter((d) => d.contrastFirst).length / N - 0.5)).toBeLessThan(TOL);
    expect(draws.every((d) => d.channelOrder === undefined)).toBe(true);
    const values = (key: 'brightness' | 'contrast' | 'saturation' | 'hue') =>
      draws.map((d) => d[key]).filter((v): v is number => v !== undefined);
    expect(Math.min(...values('brightness'))).toBeGreaterThanOrEqual(-32);
    expect(Math.max(...values('brightness'))).toBeLessThanOrEqual(32);
    expect(Math.max(...values('brightness'))).toBeGreaterThan(30);
    expect(Math.min(...values('contrast'))).toBeGreaterThanOrEqual(0.5);
    expect(Math.max(...values('saturation'))).toBeLessThanOrEqual(1.5);
    expect(Math.max(...values('hue').map(Math.abs))).toBeLessThanOrEqual(18);
    expect(Math.max(...values('hue').map(Math.abs))).toBeGreaterThan(17);
    const swaps = Array.from({ length: N }, (_, s) =>
      drawPhotometric(createRng(s), { channelSwapProbability: 0.5 }),
    );
    expect(Math.abs(swaps.filter((d) => d.channelOrder).length / N - 0.5)).toBeLessThan(TOL);
  });

  it('zoom out p 0.5, ratio in [1, 4], offset inside the canvas', () => {
    const draws = Array.from({ length: N }, (_, seed) => drawExpand(createRng(seed), 100, 50));
    const done = draws.filter((d) => d !== undefined);
    expect(Math.abs(done.length / N - 0.5)).toBeLessThan(TOL);
    for (const d of done) {
      expect(d.width).toBeGreaterThanOrEqual(100);
      expect(d.width).toBeLessThanOrEqual(400);
      expect(d.left + 100).toBeLessThanOrEqual(d.width);
      expect(d.top + 50).toBeLessThanOrEqual(d.height);
    }
    expect(Math.max(...done.map((d) => d.width))).toBeGreaterThan(390);
  });

  it('flips: horizontal 0.5, vertical as configured (0.2 as the seed blog)', () => {
    const s = boxesImage();
    const h = horizontalFlip();
    const v = verticalFlip({ probability: 0.2 });
    expect(Math.abs(rate((seed) => h(s, createRng(seed)) !== s) - 0.5)).toBeLessThan(TOL);
    expect(Math.abs(rate((seed) => v(s, createRng(seed)) !== s) - 0.2)).toBeLessThan(TOL);
  });

  it('crop: every crop meets its min IoU with a box and keeps a box centre; scale and aspect bounded', () => {
    const boxes = Float32Array.from([20, 20, 60, 50]);
    for (const minIou of [0.1, 0.5, 0.9]) {
      let whole = 0;
      for (let seed = 0; seed < 1000; seed++) {
        const r = drawIouCrop(createRng(seed), 100, 80, boxes, { minIous: [minIou] });
        if (!r) {
          whole++;
          continue;
        }
        const iw = Math.min(r.x + r.width, 60) - Math.max(r.x, 20);
        const ih = Math.min(r.y + r.height, 50) - Math.max(r.y, 20);
        const inter = Math.max(0, iw) * Math.max(0, ih);
        expect(inter / (r.width * r.height + 40 * 30 - inter)).toBeGreaterThanOrEqual(minIou);
        expect(r.x + r.width).toBeLessThanOrEqual(100);
        expect(r.y + r.height).toBeLessThanOrEqual(80);
        // side scale s ∈ [0.3, 1]: area fraction s² ∈ [0.09, 1] (±rounding)
        expect((r.width * r.height) / 8000).toBeGreaterThan(0.085);
        const aspect = r.width / 100 / (r.height / 80);
        expect(aspect).toBeGreaterThan(0.45);
        expect(aspect).toBeLessThan(2.2);
        expect(40 > r.x && 40 < r.x + r.width && 35 > r.y && 35 < r.y + r.height).toBe(true);
      }
      // One sampler + the whole image, chosen uniformly: about half whole images
      // (more for high IoUs, where 50 trials sometimes find nothing).
      expect(whole / 1000).toBeGreaterThan(0.45);
      if (minIou === 0.1) expect(whole / 1000).toBeLessThan(0.55);
    }
  });
});

describe('ssdEvalTransform', () => {
  it('resizes only, relative boxes', () => {
    const out = ssdEvalTransform({ size: 32 })(boxesImage());
    expect(Array.from(out.boxes.subarray(0, 4))).toEqual(
      [4 / 64, 6 / 48, 24 / 64, 30 / 48].map(Math.fround),
    );
    expect(out.image).toBeInstanceOf(Uint8Array);
    expect(out.image.length).toBe(32 * 32 * 3);
  });
});
