import { collectAsync } from '@ssd/testing';
import { describe, expect, it } from 'vitest';
import { mapConcurrent, mapGroups } from './concurrency';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('mapGroups', () => {
  it('yields each group in order whatever order the calls finish in; groups may be empty', async () => {
    const groups = [[1, 2, 3], [], [4], [5, 6]];
    const out = await collectAsync(
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

describe('mapConcurrent', () => {
  it('gives results in item order with at most `concurrency` calls in flight', async () => {
    let inFlight = 0;
    let maxInFlight = 0;
    const started: number[] = [];
    const out = await mapConcurrent(
      [5, 1, 4, 2, 3],
      async (x) => {
        started.push(x);
        maxInFlight = Math.max(maxInFlight, ++inFlight);
        await sleep(x * 2);
        inFlight--;
        return x * 10;
      },
      { concurrency: 2 },
    );
    expect(out).toEqual([50, 10, 40, 20, 30]);
    expect(started).toEqual([5, 1, 4, 2, 3]);
    expect(maxInFlight).toBe(2);
    expect(await mapConcurrent([], async (x: number) => x, { concurrency: 4 })).toEqual([]);
    expect(await mapConcurrent([1, 2], async (x) => x + 1, { concurrency: 0 })).toEqual([2, 3]);
  });

  it('a rejected call stops new calls and rejects after the calls in flight settle', async () => {
    const started: number[] = [];
    let inFlight = 0;
    const run = mapConcurrent(
      [0, 1, 2, 3, 4, 5],
      async (x) => {
        started.push(x);
        inFlight++;
        await sleep(x === 1 ? 1 : 10);
        inFlight--;
        if (x === 1) throw new Error('bad 1');
        return x;
      },
      { concurrency: 2 },
    );
    await expect(run).rejects.toThrow('bad 1');
    expect(inFlight).toBe(0);
    expect(started).toEqual([0, 1]);
  });
});
