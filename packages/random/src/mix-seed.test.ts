import { describe, expect, it } from 'vitest';
import { mixSeed } from './mix-seed';

describe('mixSeed', () => {
  it('is MurmurHash3_x86_32 (seed 0) of the parts as little-endian words: SMHasher values', () => {
    // Bytes 21 43 65 87 → 0xF55B516B; FF FF FF FF → 0x76293B50; 00 00 00 00 → 0x2362F9DE;
    // no bytes → 0 (the published MurmurHash3 x86_32 verification values).
    expect(mixSeed(0x87654321)).toBe(0xf55b516b);
    expect(mixSeed(0xffffffff)).toBe(0x76293b50);
    expect(mixSeed(-1)).toBe(0x76293b50);
    expect(mixSeed(0)).toBe(0x2362f9de);
    expect(mixSeed()).toBe(0);
  });

  it('matches a bytewise MurmurHash3 on several words', () => {
    // The textbook byte-oriented algorithm, written out independently.
    const murmur3 = (bytes: number[]): number => {
      let h = 0;
      const n = bytes.length;
      for (let i = 0; i + 4 <= n; i += 4) {
        let k = bytes[i]! | (bytes[i + 1]! << 8) | (bytes[i + 2]! << 16) | (bytes[i + 3]! << 24);
        k = Math.imul(k, 0xcc9e2d51);
        k = (k << 15) | (k >>> 17);
        k = Math.imul(k, 0x1b873593);
        h ^= k;
        h = (h << 13) | (h >>> 19);
        h = (Math.imul(h, 5) + 0xe6546b64) | 0;
      }
      h ^= n;
      h ^= h >>> 16;
      h = Math.imul(h, 0x85ebca6b);
      h ^= h >>> 13;
      h = Math.imul(h, 0xc2b2ae35);
      h ^= h >>> 16;
      return h >>> 0;
    };
    const le = (w: number) => [w & 255, (w >>> 8) & 255, (w >>> 16) & 255, (w >>> 24) & 255];
    for (const parts of [
      [1, 2, 3],
      [7, -7],
      [123456789, 0, 5, 0xdeadbeef],
    ]) {
      expect(mixSeed(...parts)).toBe(murmur3(parts.flatMap(le)));
    }
    // Computed once with the imurmurhash npm package over the same bytes.
    expect(mixSeed(1, 2, 3)).toBe(0xe9d78ad6);
    expect(mixSeed(7, -7)).toBe(0x43059791);
  });

  it('depends on every part, on their order and on their number', () => {
    const base = [1, 4, 17];
    const seen = new Set<number>([mixSeed(...base)]);
    for (let i = 0; i < base.length; i++) {
      const changed = [...base];
      changed[i]! += 1;
      seen.add(mixSeed(...changed));
    }
    seen.add(mixSeed(4, 1, 17));
    seen.add(mixSeed(1, 17, 4));
    seen.add(mixSeed(1, 4));
    seen.add(mixSeed(1, 4, 17, 0));
    expect(seen.size).toBe(8);
  });

  it('flips about half the output bits when one input bit flips (avalanche)', () => {
    const popcount = (x: number) => {
      let c = 0;
      for (let v = x >>> 0; v; v &= v - 1) c++;
      return c;
    };
    let flipped = 0;
    let trials = 0;
    for (let seed = 0; seed < 64; seed++) {
      for (let bit = 0; bit < 32; bit++) {
        flipped += popcount(mixSeed(seed, 3) ^ mixSeed(seed, 3 ^ (1 << bit)));
        flipped += popcount(mixSeed(seed, 3) ^ mixSeed(seed ^ (1 << bit), 3));
        trials += 2;
      }
    }
    expect(Math.abs(flipped / trials - 16)).toBeLessThan(0.5);
  });

  it('gives distinct seeds for consecutive (seed, epoch, index) triples', () => {
    const seeds = new Set<number>();
    for (let epoch = 0; epoch < 10; epoch++) {
      for (let index = 0; index < 1000; index++) seeds.add(mixSeed(1, epoch, index));
    }
    expect(seeds.size).toBe(10_000);
  });

  it('returns a uint32 and rejects a part that is not an integer', () => {
    const h = mixSeed(-5, 2 ** 40);
    expect(Number.isInteger(h) && h >= 0 && h <= 0xffffffff).toBe(true);
    expect(() => mixSeed(1, 0.5)).toThrow(/every part must be an integer, got 0.5/);
    expect(() => mixSeed(Number.NaN)).toThrow(RangeError);
  });
});
