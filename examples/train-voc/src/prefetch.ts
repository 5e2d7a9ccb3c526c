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
