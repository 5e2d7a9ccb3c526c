/** A uniform random source in [0, 1): each call returns the next number of its stream. */
export type RandomSource = () => number;

/** mulberry32's state increment (Weyl sequence step); the only copy in the project. */
const INCREMENT = 0x6d2b79f5;

function checkUint32(what: string, value: number, wrap: boolean): number {
  if (!Number.isInteger(value)) {
    throw new RangeError(`${what} must be an integer, got ${value}`);
  }
  if (!wrap && (value < 0 || value > 0xffffffff)) {
    throw new RangeError(`${what} must be a uint32 (0 … 4294967295), got ${value}`);
  }
  return value >>> 0;
}

/**
 * A seeded generator: mulberry32 (Tommy Ettinger's 32-bit generator, a Weyl
 * sequence through multiply–xorshift mixing; period 2^32). Small and fast, good for
 * initialisation, shuffling and augmentation; not for cryptography. Its whole state is one uint32, so a
 * checkpoint stores `getState()` and a resumed run calls `setState()` and
 * continues the exact stream.
 *
 * ```ts
 * const rng = new SeededRng(42);
 * rng.next(); // 0.6011037519201636
 * const saved = rng.getState();
 * ```
 */
export class SeededRng {
  private state: number;

  /** @param seed An integer; taken modulo 2^32 (`-1` is `4294967295`). */
  constructor(seed: number) {
    this.state = checkUint32('SeededRng: seed', seed, true);
  }

  /** The next number, uniform in [0, 1) (multiples of 2^-32). */
  next(): number {
    this.state = (this.state + INCREMENT) >>> 0;
    let t = this.state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }

  /** An integer uniform in [0, n) (`Math.floor(next() * n)`); `n` a positive integer. */
  int(n: number): number {
    if (!(Number.isInteger(n) && n > 0)) {
      throw new RangeError(`SeededRng.int: n must be a positive integer, got ${n}`);
    }
    return Math.floor(this.next() * n);
  }

  /** The whole state: a uint32 to store in a checkpoint. */
  getState(): number {
    return this.state;
  }

  /** Restores a state from {@link getState}; the stream continues exactly from there. */
  setState(state: number): void {
    this.state = checkUint32('SeededRng.setState: state', state, false);
  }

  /** This generator as a {@link RandomSource} (calls advance this generator). */
  fn(): RandomSource {
    return () => this.next();
  }
}

/**
 * A seeded mulberry32 stream as a plain function, for APIs that take a
 * {@link RandomSource} (`@ssd/augment`'s transforms, `@ssd/loader`'s `augment`).
 * The same stream as `new SeededRng(seed)`.
 *
 * @param seed An integer; taken modulo 2^32. Derive per-epoch or per-sample
 *   seeds with {@link mixSeed}, not with `seed + i` (neighbouring seeds give
 *   unrelated streams in mulberry32, but mixing keeps the parts apart).
 */
export function createRng(seed: number): RandomSource {
  return new SeededRng(seed).fn();
}
