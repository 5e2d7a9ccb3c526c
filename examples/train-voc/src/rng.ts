/**
 * A small seeded RNG (mulberry32) whose whole state is one uint32, so a
 * checkpoint can store it and a resumed run continues the exact sequence.
 */
export class Rng {
  private state: number;

  constructor(seed: number) {
    this.state = seed >>> 0;
  }

  /** Uniform in [0, 1). */
  next(): number {
    this.state = (this.state + 0x6d2b79f5) >>> 0;
    let t = this.state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }

  /** Integer in [0, n). */
  int(n: number): number {
    return Math.floor(this.next() * n);
  }

  getState(): number {
    return this.state;
  }

  setState(state: number): void {
    this.state = state >>> 0;
  }

  /** A bound function, for APIs that take `() => number`. */
  fn(): () => number {
    return () => this.next();
  }
}

/** Mixes integers into one uint32 seed (splitmix-style), for per-epoch / per-step streams. */
export function deriveSeed(...parts: number[]): number {
  let h = 0x9e3779b9;
  for (const p of parts) {
    h = Math.imul(h ^ (p >>> 0), 0x85ebca6b) >>> 0;
    h ^= h >>> 13;
    h = Math.imul(h, 0xc2b2ae35) >>> 0;
    h ^= h >>> 16;
  }
  return h >>> 0;
}

/** A Fisher–Yates permutation of 0..n-1 drawn from `rng`. */
export function permutation(n: number, rng: Rng): Int32Array {
  const out = new Int32Array(n);
  for (let i = 0; i < n; i++) out[i] = i;
  for (let i = n - 1; i > 0; i--) {
    const j = rng.int(i + 1);
    const t = out[i] as number;
    out[i] = out[j] as number;
    out[j] = t;
  }
  return out;
}

/**
 * The order in which a training run visits a data set: epoch e is a
 * permutation seeded by (seed, e), so the sample of any step is a pure
 * function of (seed, step) — the "shuffle state" a checkpoint needs is just
 * the step, and resuming is exact without replaying the data.
 */
export class EpochSampler {
  private epoch = -1;
  private order: Int32Array = new Int32Array(0);

  constructor(
    private readonly size: number,
    private readonly seed: number,
    private readonly shuffle = true,
  ) {
    if (!(Number.isInteger(size) && size > 0)) {
      throw new RangeError(`EpochSampler: data set size must be a positive integer, got ${size}`);
    }
  }

  /** Data set index of the `position`-th sample of the run (0-based, across epochs). */
  indexAt(position: number): number {
    const epoch = Math.floor(position / this.size);
    if (epoch !== this.epoch) {
      this.epoch = epoch;
      if (this.shuffle) {
        this.order = permutation(this.size, new Rng(deriveSeed(this.seed, epoch)));
      } else {
        this.order = Int32Array.from({ length: this.size }, (_, i) => i);
      }
    }
    return this.order[position - epoch * this.size] as number;
  }

  /** Indices of batch `step` of size `batchSize`. */
  batch(step: number, batchSize: number): number[] {
    const out: number[] = [];
    for (let j = 0; j < batchSize; j++) out.push(this.indexAt(step * batchSize + j));
    return out;
  }
}
