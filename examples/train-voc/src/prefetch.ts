/**
 * Produces items by index ahead of use: while step k trains, steps k+1 … k+depth
 * are already being prepared. Items are a pure function of their index, so the
 * order of completion does not matter and a resumed run sees the same items.
 */
export class Prefetcher<T> {
  private readonly pending = new Map<number, Promise<T>>();

  constructor(
    private readonly produce: (index: number) => Promise<T>,
    private readonly depth: number,
    private readonly end: number,
  ) {}

  /** The item at `index`; starts producing the next `depth` items. */
  async get(index: number): Promise<T> {
    for (let k = index; k < Math.min(this.end, index + 1 + this.depth); k++) {
      if (!this.pending.has(k)) {
        const p = this.produce(k);
        // Avoid an unhandled rejection for a prefetched item nobody awaits yet.
        p.catch(() => undefined);
        this.pending.set(k, p);
      }
    }
    const item = this.pending.get(index)!;
    this.pending.delete(index);
    return item;
  }

  /** Waits for in-flight work so nothing runs after the caller disposes resources. */
  async drain(): Promise<void> {
    const all = [...this.pending.values()];
    this.pending.clear();
    await Promise.allSettled(all);
  }
}

/** Runs `fn` over `items` with at most `concurrency` in flight; results in input order. */
export async function mapConcurrent<A, B>(
  items: readonly A[],
  concurrency: number,
  fn: (item: A, index: number) => Promise<B>,
): Promise<B[]> {
  const out = new Array<B>(items.length);
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i]!, i);
    }
  };
  await Promise.all(
    Array.from({ length: Math.max(1, Math.min(concurrency, items.length)) }, worker),
  );
  return out;
}
