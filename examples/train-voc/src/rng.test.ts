import { describe, expect, it } from 'vitest';
import { EpochSampler, Rng, deriveSeed, permutation } from './rng';

describe('Rng', () => {
  it('restores its exact sequence from a saved state', () => {
    const a = new Rng(42);
    for (let i = 0; i < 10; i++) a.next();
    const state = a.getState();
    const expected = [a.next(), a.next(), a.next()];
    const b = new Rng(7);
    b.setState(state);
    expect([b.next(), b.next(), b.next()]).toEqual(expected);
  });

  it('is uniform enough and in [0, 1)', () => {
    const r = new Rng(1);
    let sum = 0;
    let lo = 1;
    let hi = 0;
    for (let i = 0; i < 10000; i++) {
      const v = r.next();
      lo = Math.min(lo, v);
      hi = Math.max(hi, v);
      sum += v;
    }
    expect(lo).toBeGreaterThanOrEqual(0);
    expect(hi).toBeLessThan(1);
    expect(sum / 10000).toBeCloseTo(0.5, 1);
  });

  it('derives different seeds for different parts', () => {
    expect(deriveSeed(1, 0)).not.toBe(deriveSeed(1, 1));
    expect(deriveSeed(1, 0)).not.toBe(deriveSeed(2, 0));
    expect(deriveSeed(3, 4)).toBe(deriveSeed(3, 4));
  });
});

describe('EpochSampler', () => {
  it('visits every sample once per epoch, in a different order each epoch', () => {
    const s = new EpochSampler(10, 5);
    const e0 = Array.from({ length: 10 }, (_, i) => s.indexAt(i));
    const e1 = Array.from({ length: 10 }, (_, i) => s.indexAt(10 + i));
    expect([...e0].sort((a, b) => a - b)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    expect([...e1].sort((a, b) => a - b)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    expect(e0).not.toEqual(e1);
  });

  it('gives batch k as a pure function of (seed, k), whatever was asked before', () => {
    const fresh = new EpochSampler(7, 3);
    const used = new EpochSampler(7, 3);
    for (let k = 0; k < 9; k++) used.batch(k, 4);
    expect(used.batch(5, 4)).toEqual(fresh.batch(5, 4));
  });

  it('is a permutation', () => {
    const p = permutation(50, new Rng(9));
    expect(new Set(p).size).toBe(50);
  });
});
