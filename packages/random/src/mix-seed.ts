const C1 = 0xcc9e2d51;
const C2 = 0x1b873593;

/**
 * Mixes integers into one uint32 seed, e.g. `createRng(mixSeed(seed, epoch, index))`
 * for a stream per (run, epoch, sample) that does not depend on the order in which
 * samples are drawn.
 *
 * It is MurmurHash3 (x86, 32-bit, seed 0; Austin Appleby, SMHasher) of the parts
 * written as consecutive little-endian uint32 words: every output bit depends on
 * every input bit, and the result depends on the order of the parts
 * (`mixSeed(1, 2) !== mixSeed(2, 1)`) and on their number (`mixSeed(1) !== mixSeed(1, 0)`).
 * `mixSeed(0x87654321)` is `0xf55b516b`, the SMHasher verification value of the
 * bytes `21 43 65 87`.
 *
 * @param parts Integers; each is taken modulo 2^32 (`-7` is `4294967289`).
 * @returns A uint32.
 */
export function mixSeed(...parts: number[]): number {
  let h = 0;
  for (const part of parts) {
    if (!Number.isInteger(part)) {
      throw new RangeError(`mixSeed: every part must be an integer, got ${part}`);
    }
    let k = Math.imul(part >>> 0, C1);
    k = (k << 15) | (k >>> 17);
    k = Math.imul(k, C2);
    h ^= k;
    h = (h << 13) | (h >>> 19);
    h = (Math.imul(h, 5) + 0xe6546b64) | 0;
  }
  // Finalisation: the byte length, then fmix32's avalanche.
  h ^= parts.length * 4;
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}
