import { describe, expect, it } from 'vitest';
import { AUTO_CACHE_BYTES, imageCachePlan } from './data';

/** `n` images of `width × height` (as annotations tell them). */
const set = (n: number, width: number, height: number) => ({
  size: n,
  annotation: () => ({ width, height }),
});

describe('imageCachePlan', () => {
  it('auto: full-size cache when the decoded set fits the budget, none above it', () => {
    // 1000 images of 400×300: 343 MiB decoded.
    const small = imageCachePlan(set(1000, 400, 300), 'auto');
    expect(small).toEqual({
      cache: true,
      note: 'Image cache: full size, ~343 MiB (--cache auto: ≤ 512 MiB).',
    });
    // 3600 of them: 1236 MiB, over the budget: decoded at every use (the same pixels).
    const large = imageCachePlan(set(3600, 400, 300), 'auto');
    expect(large.cache).toBe(false);
    expect(large.cacheMaxSide).toBeUndefined();
    expect(large.note).toBe(
      'Image cache: off, images decoded at every use (--cache auto: > 512 MiB); full size would take 1236 MiB.',
    );
    expect(3600 * 400 * 300 * 3).toBeGreaterThan(AUTO_CACHE_BYTES);
  });

  it('full and off as asked; a number bounds the cached images and says what they take', () => {
    expect(imageCachePlan(set(3600, 400, 300), 'full').cache).toBe(true);
    expect(imageCachePlan(set(10, 400, 300), 'off').cache).toBe(false);
    // 400×300 → 160×120: 57.6 kB an image.
    expect(imageCachePlan(set(3600, 400, 300), 160)).toEqual({
      cache: true,
      cacheMaxSide: 160,
      note: 'Image cache: downscaled to ≤ 160 px a side, ~198 MiB (full size: 1236 MiB).',
    });
    // Images already inside the bound count at their own size.
    expect(imageCachePlan(set(100, 100, 80), 160).note).toContain('~2 MiB (full size: 2 MiB)');
  });
});
