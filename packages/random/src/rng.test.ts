import { describe, expect, it } from 'vitest';
import { SeededRng, createRng } from './rng';

/** mulberry32 written out independently (the reference C code, in 32-bit JS arithmetic). */
function referenceMulberry32(seed: number, count: number): number[] {
  let a = seed >>> 0;
  const out: number[] = [];
  for (let i = 0; i < count; i++) {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    out.push(((t ^ (t >>> 14)) >>> 0) / 2 ** 32);
  }
  return out;
}

describe('createRng', () => {
  it('gives the known first values of mulberry32 for seeds 42 and 0', () => {
    const r = createRng(42);
    expect([r(), r(), r()]).toEqual([0.6011037519201636, 0.44829055899754167, 0.8524657934904099]);
    const z = createRng(0);
    expect([z(), z()]).toEqual([0.26642920868471265, 0.0003297457005828619]);
  });

  it('matches an independent mulberry32 over a long stream', () => {
    for (const seed of [1, 7, 123456789, 0xffffffff]) {
      const r = createRng(seed);
      expect(Array.from({ length: 1000 }, () => r())).toEqual(referenceMulberry32(seed, 1000));
    }
  });

  it('is deterministic: one seed, one stream; another seed, another stream', () => {
    const a = createRng(5);
    const b = createRng(5);
    const c = createRng(6);
    const sa = Array.from({ length: 100 }, () => a());
    expect(Array.from({ length: 100 }, () => b())).toEqual(sa);
    expect(Array.from({ length: 100 }, () => c())).not.toEqual(sa);
  });

  it('takes the seed modulo 2^32', () => {
    const a = createRng(-1);
    const b = createRng(0xffffffff);
    const c = createRng(2 ** 32 + 3);
    const d = createRng(3);
    expect([a(), a()]).toEqual([b(), b()]);
    expect([c(), c()]).toEqual([d(), d()]);
  });

  it('rejects a seed that is not an integer', () => {
    expect(() => createRng(Number.NaN)).toThrow(/seed must be an integer, got NaN/);
    expect(() => createRng(1.5)).toThrow(RangeError);
  });

  it('stays in [0, 1) with mean ~1/2 and flat deciles', () => {
    const r = createRng(1);
    const n = 100_000;
    const deciles = new Array<number>(10).fill(0);
    let sum = 0;
    for (let i = 0; i < n; i++) {
      const v = r();
      expect(v >= 0 && v < 1).toBe(true);
      sum += v;
      deciles[Math.floor(v * 10)]! += 1;
    }
    expect(Math.abs(sum / n - 0.5)).toBeLessThan(0.005);
    // Each decile ~ Binomial(n, 0.1): sd ≈ 95; 6 sd of slack.
    for (const count of deciles) expect(Math.abs(count - n / 10)).toBeLessThan(570);
  });
});

describe('SeededRng', () => {
  it('gives the same stream as createRng', () => {
    const g = new SeededRng(42);
    const f = createRng(42);
    for (let i = 0; i < 50; i++) expect(g.next()).toBe(f());
  });

  it('continues the exact stream from a saved state', () => {
    const a = new SeededRng(42);
    for (let i = 0; i < 10; i++) a.next();
    const state = a.getState();
    const expected = [a.next(), a.next(), a.int(1000), a.next()];
    const b = new SeededRng(7);
    b.setState(state);
    expect([b.next(), b.next(), b.int(1000), b.next()]).toEqual(expected);
    // The state survives a JSON round trip (what a checkpoint does).
    const c = new SeededRng(0);
    c.setState(JSON.parse(JSON.stringify({ rng: state })).rng);
    expect(c.next()).toBe(expected[0]);
  });

  it('has a uint32 state', () => {
    const g = new SeededRng(-1);
    expect(g.getState()).toBe(0xffffffff);
    g.next();
    expect(Number.isInteger(g.getState())).toBe(true);
    expect(g.getState()).toBeGreaterThanOrEqual(0);
    expect(g.getState()).toBeLessThanOrEqual(0xffffffff);
  });

  it('rejects a state that is not a uint32', () => {
    const g = new SeededRng(1);
    expect(() => g.setState(-1)).toThrow(/uint32/);
    expect(() => g.setState(2 ** 32)).toThrow(/uint32/);
    expect(() => g.setState(Number.NaN)).toThrow(/integer/);
  });

  it('int(n) is Math.floor(next() * n), covers 0..n-1 evenly and rejects a bad n', () => {
    const g = new SeededRng(3);
    const h = new SeededRng(3);
    for (let i = 0; i < 20; i++) expect(g.int(7)).toBe(Math.floor(h.next() * 7));
    const counts = new Array<number>(6).fill(0);
    for (let i = 0; i < 60_000; i++) counts[g.int(6)]! += 1;
    for (const count of counts) expect(Math.abs(count - 10_000)).toBeLessThan(550);
    expect(() => g.int(0)).toThrow(/positive integer/);
    expect(() => g.int(2.5)).toThrow(RangeError);
  });

  it('fn() advances the generator it came from', () => {
    const g = new SeededRng(11);
    const ref = new SeededRng(11);
    const f = g.fn();
    expect(f()).toBe(ref.next());
    expect(g.next()).toBe(ref.next());
    expect(f()).toBe(ref.next());
    expect(g.getState()).toBe(ref.getState());
  });
});
