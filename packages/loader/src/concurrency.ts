/** Options of {@link mapGroups}. */
export interface MapGroupsOptions {
  /** Calls of `fn` in flight at once, at most. */
  concurrency: number;
  /** Groups worked on ahead of the consumer, at most (the one it waits for included). */
  ahead: number;
}

interface Group<A, B> {
  items: readonly A[];
  results: B[];
  remaining: number;
  ready: Promise<void>;
  resolve: () => void;
  reject: (error: unknown) => void;
}

function openGroup<A, B>(items: readonly A[]): Group<A, B> {
  let resolve!: () => void;
  let reject!: (error: unknown) => void;
  const ready = new Promise<void>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  ready.catch(() => undefined); // surfaced when the consumer reaches the group
  const group = { items, results: new Array<B>(items.length), remaining: items.length };
  if (items.length === 0) resolve();
  return { ...group, ready, resolve, reject };
}

/**
 * Maps `fn` over the items of `groups`, in order, with at most `concurrency`
 * calls in flight, and yields each group's results (in item order) once all of
 * them are in. Work never starts on a group `ahead` or more places beyond the
 * one the consumer waits for, so memory stays bounded; `groups` is read lazily
 * and may be endless.
 *
 * A call that rejects fails its group when the consumer reaches it (the groups
 * before it arrive first) and stops new calls. Ending the iteration early
 * (`break`, `return()`) waits for the calls in flight.
 */
export async function* mapGroups<A, B>(
  groups: Iterable<readonly A[]>,
  fn: (item: A) => Promise<B>,
  { concurrency, ahead }: MapGroupsOptions,
): AsyncGenerator<B[], void, undefined> {
  const source = groups[Symbol.iterator]();
  const open = new Map<number, Group<A, B>>(); // pulled from `source`, not yet handed over
  let pulled = 0; // groups pulled from `source`
  let exhausted = false;
  let fillGroup = 0; // the group workers take items from, and the next item in it
  let fillItem = 0;
  let consumed = 0; // groups handed to the consumer
  let stopped = false;
  let wake: (() => void)[] = [];
  const windowMoved = () => {
    const w = wake;
    wake = [];
    for (const f of w) f();
  };
  const groupAt = (n: number): Group<A, B> | undefined => {
    while (pulled <= n && !exhausted) {
      const next = source.next();
      if (next.done) exhausted = true;
      else open.set(pulled++, openGroup<A, B>(next.value));
    }
    return open.get(n);
  };
  const worker = async () => {
    while (!stopped) {
      if (fillGroup >= consumed + ahead) {
        await new Promise<void>((res) => wake.push(res));
        continue;
      }
      const group = groupAt(fillGroup);
      if (group === undefined) return;
      if (fillItem >= group.items.length) {
        fillGroup++;
        fillItem = 0;
        continue;
      }
      const item = fillItem++;
      try {
        group.results[item] = await fn(group.items[item]!);
        if (--group.remaining === 0) group.resolve();
      } catch (error) {
        group.reject(error);
        stopped = true;
        windowMoved();
      }
    }
  };
  const workers = Array.from({ length: concurrency }, worker);
  try {
    for (let k = 0; ; k++) {
      const group = groupAt(k);
      if (group === undefined) return;
      await group.ready;
      open.delete(k);
      consumed = k + 1;
      windowMoved();
      yield group.results;
    }
  } finally {
    stopped = true;
    windowMoved();
    await Promise.allSettled(workers);
  }
}

/**
 * Maps `fn` over `items` with at most `concurrency` calls in flight (at least one);
 * results in item order. {@link mapGroups} over a single group, so a call that
 * rejects stops new calls and rejects once the calls in flight have settled.
 */
export async function mapConcurrent<A, B>(
  items: readonly A[],
  fn: (item: A) => Promise<B>,
  { concurrency }: Pick<MapGroupsOptions, 'concurrency'>,
): Promise<B[]> {
  const workers = Math.max(1, Math.min(concurrency, items.length));
  for await (const results of mapGroups([items], fn, { concurrency: workers, ahead: 1 })) {
    return results;
  }
  return []; // not reached: the one group is always yielded
}
