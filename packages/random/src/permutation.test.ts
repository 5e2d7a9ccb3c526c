import { describe, expect, it } from 'vitest';
import { permutation } from './permutation';
import { createRng } from './rng';

describe('permutation', () => {
  it('is a permutation of 0..n-1', () => {
    for (const n of [0, 1, 2, 10, 257]) {
      const p = permutation(n, createRng(n));
      expect(p).toBeInstanceOf(Int32Array);
      expect(Array.from(p).sort((a, b) => a - b)).toEqual(Array.from({ length: n }, (_, i) => i));
    }
  });

  it('swaps position i with floor(random() * (i + 1)), from the last position down', () => {
    // Draws 0.5, 0.0, 0.99: i=3 ↔ 2 → [0,1,3,2]; i=2 ↔ 0 → [3,1,0,2]; i=1 ↔ 1.
    const draws = [0.5, 0.0, 0.99];
    let k = 0;
    const p = permutation(4, () => draws[k++]!);
    expect(Array.from(p)).toEqual([3, 1, 0, 2]);
    expect(k).toBe(3);
  });

  it('is deterministic for a seed', () => {
    expect(permutation(50, createRng(9))).toEqual(permutation(50, createRng(9)));
    expect(permutation(50, createRng(9))).not.toEqual(permutation(50, createRng(10)));
  });

  it('draws all 24 orders of 4 elements about equally often', () => {
    const rng = createRng(2024);
    const counts = new Map<string, number>();
    const draws = 48_000;
    for (let i = 0; i < draws; i++) {
      const key = Array.from(permutation(4, rng)).join('');
      counts.set(key, (counts.get(key) ?? 0) + 1);
    }
    expect(counts.size).toBe(24);
    // χ² with 23 degrees of freedom: the 0.999 quantile is 49.7.
    const expected = draws / 24;
    let chi2 = 0;
    for (const c of counts.values()) chi2 += (c - expected) ** 2 / expected;
    expect(chi2).toBeLessThan(49.7);
  });

  it('rejects a bad length', () => {
    expect(() => permutation(-1, createRng(1))).toThrow(/non-negative integer, got -1/);
    expect(() => permutation(2.5, createRng(1))).toThrow(RangeError);
  });
});
