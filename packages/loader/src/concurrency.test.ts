import { describe, expect, it } from 'vitest';
import { mapGroups } from './concurrency';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function collect<T>(it: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const x of it) out.push(x);
  return out;
}

describe('mapGroups', () => {
  it('yields each group in order whatever order the calls finish in; groups may be empty', async () => {
    const groups = [[1, 2, 3], [], [4], [5, 6]];
    const out = await collect(
      mapGroups(groups, async (x) => (await sleep((7 - x) * 2), x * 10), {
        concurrency: 3,
        ahead: 2,
      }),
    );
    expect(out).toEqual([[10, 20, 30], [], [40], [50, 60]]);
  });

  it('keeps at most `concurrency` calls in flight and works at most `ahead` groups ahead', async () => {
    let inFlight = 0;
    let maxInFlight = 0;
    const started: number[] = [];
    function* endless() {
      for (let g = 0; ; g++) yield [2 * g, 2 * g + 1];
    }
    const it = mapGroups(
      endless(),
      async (x) => {
        started.push(x);
        maxInFlight = Math.max(maxInFlight, ++inFlight);
        await sleep(3);
        inFlight--;
        return x;
      },
      { concurrency: 3, ahead: 2 },
    );
    expect((await it.next()).value).toEqual([0, 1]);
    await sleep(60);
    // Group 0 is taken: groups 1 and 2 (items 2..5) may be prepared, no further.
    expect(started).toEqual([0, 1, 2, 3, 4, 5]);
    expect(maxInFlight).toBe(3);
    await it.return(undefined);
    expect(inFlight).toBe(0);
  });

  it('a rejected call fails its group after the earlier groups arrive', async () => {
    const got: number[][] = [];
    const run = async () => {
      const groups = [
        [0, 1],
        [2, 3],
        [4, 5],
        [6, 7],
      ];
      for await (const g of mapGroups(
        groups,
        async (x) => {
          if (x === 5) throw new Error('bad 5');
          return x;
        },
        { concurrency: 2, ahead: 4 },
      ))
        got.push(g);
    };
    await expect(run()).rejects.toThrow('bad 5');
    expect(got).toEqual([
      [0, 1],
      [2, 3],
    ]);
  });
});
