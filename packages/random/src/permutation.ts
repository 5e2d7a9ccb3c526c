import type { RandomSource } from './rng';

/**
 * A uniformly random permutation of `0 … n-1` (Fisher–Yates, from the last
 * position down: position `i` swaps with `floor(random() * (i + 1))`). Draws
 * exactly `n - 1` numbers from `random`.
 *
 * @param n A non-negative integer.
 * @param random E.g. `createRng(mixSeed(seed, epoch))` or a `SeededRng`'s `fn()`.
 * @returns `[n]`, every index once.
 */
export function permutation(n: number, random: RandomSource): Int32Array {
  if (!(Number.isInteger(n) && n >= 0)) {
    throw new RangeError(`permutation: n must be a non-negative integer, got ${n}`);
  }
  const order = new Int32Array(n);
  for (let i = 0; i < n; i++) order[i] = i;
  for (let i = n - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    const swap = order[i]!;
    order[i] = order[j]!;
    order[j] = swap;
  }
  return order;
}
