/** A wrong option value (probability outside [0, 1], non-positive size, …). */
export class AugmentOptionError extends Error {
  override readonly name = 'AugmentOptionError';
}

export function checkProbability(name: string, p: number): void {
  if (!(p >= 0 && p <= 1)) throw new AugmentOptionError(`${name} must be in [0, 1], got ${p}`);
}

export function checkRange(
  name: string,
  [lo, hi]: readonly [number, number],
  min = -Infinity,
): void {
  if (!(Number.isFinite(lo) && Number.isFinite(hi) && lo <= hi && lo >= min)) {
    throw new AugmentOptionError(
      `${name} must be a range [low, high] with ${min} ≤ low ≤ high, got [${lo}, ${hi}]`,
    );
  }
}
