import * as tf from '@tensorflow/tfjs-core';
import { collectAsync, expectNoTensorLeak } from '@ssd/testing';
import { describe, expect, it } from 'vitest';
import { LoaderError, createLoader, disposeBatch } from './index';
import type { EncodeTargets, LoaderSample, LoaderSource } from './index';

const W = 8;
const H = 6;
const P = 5;

/** N samples; image pixels all equal the index, one box per odd index, none for even. */
function fakeSource(
  n: number,
  {
    delayMs = 0,
    fail = -1,
    sizes,
  }: { delayMs?: number; fail?: number; sizes?: (i: number) => [number, number] } = {},
) {
  const stats = {
    started: 0,
    inFlight: 0,
    maxInFlight: 0,
    loads: [] as number[],
    maxSides: [] as (number | undefined)[],
  };
  const source: LoaderSource = {
    size: n,
    id: (i) => `img${i}`,
    async load(i, options): Promise<LoaderSample> {
      stats.started++;
      stats.loads.push(i);
      stats.maxSides.push(options?.maxSide);
      stats.inFlight++;
      stats.maxInFlight = Math.max(stats.maxInFlight, stats.inFlight);
      await new Promise((r) => setTimeout(r, delayMs));
      stats.inFlight--;
      if (i === fail) throw new Error(`cannot decode img${i}`);
      const [w, h] = sizes ? sizes(i) : [W, H];
      const odd = i % 2 === 1;
      return {
        id: `img${i}`,
        image: new Uint8Array(w * h * 3).fill(i),
        width: w,
        height: h,
        boxes: odd ? Float32Array.from([0, 0, w / 2, h]) : new Float32Array(0),
        labels: odd ? Int32Array.from([1 + (i % 3)]) : new Int32Array(0),
        difficult: new Uint8Array(odd ? 1 : 0),
      };
    },
  };
  return { source, stats };
}

/** Anchor k gets the first box's label and the box corners; background without boxes. */
const encode: EncodeTargets = (boxes, labels) => {
  const locTargets = new Float32Array(P * 4);
  const out = new Int32Array(P);
  if (labels.length > 0) {
    for (let k = 0; k < P; k++) {
      locTargets.set(boxes.subarray(0, 4), k * 4);
      out[k] = labels[0]!;
    }
  }
  return { locTargets, labels: out };
};

describe('createLoader', () => {
  it('yields [B,H,W,3] images, [B,P,4] targets, [B,P] int32 labels and ids; caller owns them', async () => {
    const { source } = fakeSource(10);
    const loader = createLoader(source, { batchSize: 4, encodeTargets: encode, shuffle: false });
    expect(loader.batchesPerEpoch).toBe(3);
    await expectNoTensorLeak(async () => {
      const batches = [];
      for await (const batch of loader) {
        batches.push({
          shape: [
            batch.images.shape,
            batch.locTargets.shape,
            batch.labels.shape,
            batch.labels.dtype,
          ],
          ids: batch.ids,
          firstPixel: (await batch.images.data())[0],
          labels: Array.from(await batch.labels.data()),
          loc: Array.from((await batch.locTargets.data()).slice(P * 4, P * 4 + 4)),
        });
        disposeBatch(batch);
      }
      expect(batches.map((b) => b.shape)).toEqual([
        [[4, H, W, 3], [4, P, 4], [4, P], 'int32'],
        [[4, H, W, 3], [4, P, 4], [4, P], 'int32'],
        [[2, H, W, 3], [2, P, 4], [2, P], 'int32'],
      ]);
      expect(batches.map((b) => b.ids)).toEqual([
        ['img0', 'img1', 'img2', 'img3'],
        ['img4', 'img5', 'img6', 'img7'],
        ['img8', 'img9'],
      ]);
      expect(batches[1]!.firstPixel).toBe(4);
      // img4: no objects → all background; img5: label 1 + 5 % 3 = 3, box relative.
      expect(batches[1]!.labels.slice(0, 2 * P)).toEqual([0, 0, 0, 0, 0, 3, 3, 3, 3, 3]);
      expect(batches[1]!.loc).toEqual([0, 0, 0.5, 1]);
    });
  });

  it('dropLast drops the short batch', async () => {
    const { source } = fakeSource(10);
    const loader = createLoader(source, {
      batchSize: 4,
      encodeTargets: encode,
      dropLast: true,
      output: 'arrays',
    });
    const batches = await collectAsync(loader);
    expect(loader.batchesPerEpoch).toBe(2);
    expect(batches.map((b) => b.ids.length)).toEqual([4, 4]);
  });

  it('reshuffles every epoch from the seed; the same seed repeats; concurrency does not matter', async () => {
    const ids = async (seed: number, epoch: number, concurrency: number) => {
      const { source } = fakeSource(23, { delayMs: 1 });
      const loader = createLoader(source, {
        batchSize: 5,
        encodeTargets: encode,
        seed,
        concurrency,
        output: 'arrays',
      });
      return (await collectAsync(loader.epoch(epoch))).flatMap((b) => b.ids);
    };
    const e0 = await ids(7, 0, 1);
    const e1 = await ids(7, 1, 1);
    expect([...e0].sort()).toEqual(Array.from({ length: 23 }, (_, i) => `img${i}`).sort());
    expect([...e1].sort()).toEqual([...e0].sort());
    expect(e1).not.toEqual(e0);
    expect(await ids(7, 0, 4)).toEqual(e0);
    expect(await ids(8, 0, 1)).not.toEqual(e0);
    // Plain iteration advances the epoch.
    const { source } = fakeSource(23);
    const loader = createLoader(source, {
      batchSize: 5,
      encodeTargets: encode,
      seed: 7,
      output: 'arrays',
    });
    expect((await collectAsync(loader)).flatMap((b) => b.ids)).toEqual(e0);
    expect(loader.nextEpoch).toBe(1);
    expect((await collectAsync(loader)).flatMap((b) => b.ids)).toEqual(e1);
  });

  it('batches({ fromStep }) gives the batches of iterating from 0 and skipping, across epochs', async () => {
    // 23 samples in batches of 5, dropLast: 4 batches an epoch; step 6 is batch 2 of epoch 1.
    const options = {
      batchSize: 5,
      encodeTargets: encode,
      seed: 11,
      dropLast: true,
      output: 'arrays' as const,
      augment: (s: LoaderSample, rng: () => number) => {
        const shift = Math.floor(rng() * 50); // each sample's draw shows in its pixels
        return {
          ...s,
          image: s.image.map((v) => v + shift),
          boxes: s.boxes.map((v, k) => v / (k % 2 ? s.height : s.width)),
        };
      },
    };
    const straight = createLoader(fakeSource(23).source, options);
    expect(straight.batchesPerEpoch).toBe(4);
    const epochs = [...(await collectAsync(straight)), ...(await collectAsync(straight))];
    const skipping = (await collectAsync(straight.epoch(2))).concat(
      await collectAsync(straight.epoch(3)),
    );
    const reference = [...epochs, ...skipping]; // steps 0..15
    reference.forEach((b, step) => expect(b.step).toBe(step));

    const { source, stats } = fakeSource(23);
    const resumed = createLoader(source, options);
    const from6 = await collectAsync(resumed.batches({ fromStep: 6, endStep: 13 }));
    expect(from6.map((b) => b.step)).toEqual([6, 7, 8, 9, 10, 11, 12]);
    from6.forEach((b) => expect(b).toEqual(reference[b.step]));
    // The skipped batches (0..5) are never loaded.
    expect(stats.started).toBe(7 * 5);

    // Unbounded: epoch after epoch until the consumer stops.
    const endless = resumed.batches({ fromStep: 3 });
    const got = [];
    for await (const b of endless) {
      got.push(b);
      if (b.step === 14) break;
    }
    expect(got.map((b) => b.step)).toEqual([3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14]);
    got.forEach((b) => expect(b).toEqual(reference[b.step]));

    expect(() => resumed.batches({ fromStep: -1 })).toThrow(LoaderError);
    expect(() => resumed.batches({ endStep: 2.5 })).toThrow(/endStep/);
    expect(await collectAsync(resumed.batches({ fromStep: 4, endStep: 4 }))).toEqual([]);
    expect(await collectAsync(resumed.batches({ fromStep: 4, endStep: 3 }))).toEqual([]);
  });

  it('batches() of tensors carry their step and leak nothing', async () => {
    const { source } = fakeSource(10);
    const loader = createLoader(source, { batchSize: 4, encodeTargets: encode, shuffle: false });
    await expectNoTensorLeak(async () => {
      const steps: number[] = [];
      for await (const batch of loader.batches({ fromStep: 2, endStep: 5 })) {
        steps.push(batch.step);
        expect(batch.ids[0]).toBe(['img0', 'img4', 'img8'][batch.step % 3]);
        disposeBatch(batch);
      }
      expect(steps).toEqual([2, 3, 4]);
    });
  });

  it('gives augment a RNG seeded by (seed, epoch, index), independent of timing', async () => {
    const draws = async (concurrency: number) => {
      const { source } = fakeSource(12, { delayMs: 1 });
      const seen: Record<string, number> = {};
      const loader = createLoader(source, {
        batchSize: 4,
        encodeTargets: encode,
        seed: 3,
        concurrency,
        output: 'arrays',
        augment: async (s, rng) => {
          seen[s.id] = rng();
          await new Promise((r) => setTimeout(r, (seen[s.id]! * 5) | 0));
          return { ...s, boxes: s.boxes.map((v, k) => v / (k % 2 ? s.height : s.width)) };
        },
      });
      await collectAsync(loader.epoch(2));
      return seen;
    };
    const a = await draws(1);
    expect(await draws(3)).toEqual(a);
    expect(new Set(Object.values(a)).size).toBe(12);
  });

  it('decodes up to `concurrency` samples at once and prefetches at most `prefetch` batches', async () => {
    const { source, stats } = fakeSource(40, { delayMs: 5 });
    const loader = createLoader(source, {
      batchSize: 4,
      encodeTargets: encode,
      concurrency: 3,
      prefetch: 2,
      shuffle: false,
      output: 'arrays',
    });
    const epoch = loader.epoch(0);
    await epoch.next();
    // Hold batch 0 and wait: the loader may prepare batches 1 and 2, no further.
    await new Promise((r) => setTimeout(r, 150));
    expect(stats.started).toBe(12);
    expect(stats.maxInFlight).toBe(3);
    await epoch.return?.(undefined);
    expect(stats.inFlight).toBe(0);
  });

  it('stops cleanly when the consumer breaks early, leaking no tensors', async () => {
    const { source } = fakeSource(20, { delayMs: 1 });
    const loader = createLoader(source, { batchSize: 4, encodeTargets: encode });
    await expectNoTensorLeak(async () => {
      for await (const batch of loader) {
        disposeBatch(batch);
        break;
      }
    });
  });

  it('applies preprocess inside tidy: the raw batch is freed, nothing leaks over epochs', async () => {
    const { source } = fakeSource(6);
    const loader = createLoader(source, {
      batchSize: 3,
      encodeTargets: encode,
      shuffle: false,
      preprocess: (images) => tf.sub(images, tf.scalar(100)) as tf.Tensor4D,
    });
    await expectNoTensorLeak(async () => {
      for (let epoch = 0; epoch < 2; epoch++) {
        for await (const batch of loader) {
          const first = (await batch.images.data())[0]!;
          expect(first).toBe(Number(batch.ids[0]!.slice(3)) - 100);
          disposeBatch(batch);
        }
      }
    });
  });

  it("output: 'arrays' makes no tensors", async () => {
    const { source } = fakeSource(5);
    const before = tf.memory().numTensors;
    const loader = createLoader(source, {
      batchSize: 2,
      encodeTargets: encode,
      output: 'arrays',
      shuffle: false,
    });
    const batches = await collectAsync(loader);
    expect(tf.memory().numTensors).toBe(before);
    expect(batches[0]).toMatchObject({ batchSize: 2, height: H, width: W, numAnchors: P });
    expect(batches[0]!.images).toBeInstanceOf(Uint8Array); // 8-bit samples stay 8-bit
    expect(batches[0]!.images.length).toBe(2 * H * W * 3);
    expect(batches[2]!.ids).toEqual(['img4']);
    expect(batches[1]!.indices).toEqual([2, 3]);
    expect(batches.map((b) => b.step)).toEqual([0, 1, 2]);
    expect(Array.from(batches[1]!.images.subarray(0, 2))).toEqual([2, 2]);
    const floats = createLoader(source, {
      batchSize: 2,
      encodeTargets: encode,
      output: 'arrays',
      shuffle: false,
      augment: (s) => ({
        ...s,
        image: Float32Array.from(s.image, (v) => v + 0.5),
        boxes: s.boxes.map((v, k) => v / (k % 2 ? s.height : s.width)),
      }),
    });
    const first = (await collectAsync(floats))[0]!;
    expect(first.images).toBeInstanceOf(Float32Array);
    expect(Array.from(first.images.subarray(0, 2))).toEqual([0.5, 0.5]);
  });

  it('cache: decodes each sample once across epochs', async () => {
    const { source, stats } = fakeSource(6);
    const loader = createLoader(source, {
      batchSize: 3,
      encodeTargets: encode,
      cache: true,
      output: 'arrays',
    });
    await collectAsync(loader);
    await collectAsync(loader);
    expect(stats.started).toBe(6);
  });

  it('cacheMaxSide: asks the source for downscaled images, caches them, checks the source did it', async () => {
    const { source, stats } = fakeSource(4);
    const sizes: number[][] = [];
    const small = createLoader(source, {
      batchSize: 2,
      encodeTargets: encode,
      cache: true,
      cacheMaxSide: 8,
      shuffle: false,
      output: 'arrays',
      augment: (sample) => {
        sizes.push([sample.width, sample.height]);
        return { ...sample, boxes: new Float32Array(sample.boxes.length) };
      },
    });
    await collectAsync(small);
    await collectAsync(small);
    expect(stats.started).toBe(4);
    expect(stats.maxSides).toEqual([8, 8, 8, 8]);
    expect(sizes).toHaveLength(8);
    // A source that ignores maxSide (8×6 images, bound 5) is named, not cached silently.
    const ignoring = createLoader(fakeSource(2).source, {
      batchSize: 2,
      encodeTargets: encode,
      cache: true,
      cacheMaxSide: 5,
      output: 'arrays',
    });
    await expect(collectAsync(ignoring)).rejects.toThrow(
      /sample img\d: 8×6 exceeds cacheMaxSide 5; the source must downscale/,
    );
    expect(() =>
      createLoader(source, { batchSize: 2, encodeTargets: encode, cacheMaxSide: 8 }),
    ).toThrow(new LoaderError('cacheMaxSide applies to the cache: set cache: true'));
    expect(() =>
      createLoader(source, { batchSize: 2, encodeTargets: encode, cache: true, cacheMaxSide: 0 }),
    ).toThrow(LoaderError);
  });

  it('a failing sample rejects at its batch; earlier batches arrive', async () => {
    const { source } = fakeSource(8, { fail: 5 });
    const loader = createLoader(source, {
      batchSize: 2,
      encodeTargets: encode,
      shuffle: false,
      output: 'arrays',
    });
    const got: string[][] = [];
    await expect(
      (async () => {
        for await (const b of loader) got.push(b.ids);
      })(),
    ).rejects.toThrow('cannot decode img5');
    expect(got).toEqual([
      ['img0', 'img1'],
      ['img2', 'img3'],
    ]);
  });

  it('typed errors: bad options, mixed image sizes without augment, inconsistent anchors', async () => {
    const { source } = fakeSource(4, { sizes: (i) => (i === 1 ? [W + 1, H] : [W, H]) });
    expect(() => createLoader(source, { batchSize: 0, encodeTargets: encode })).toThrow(
      LoaderError,
    );
    expect(() =>
      createLoader(source, {
        batchSize: 2,
        encodeTargets: encode,
        output: 'arrays',
        preprocess: (x) => x,
      }),
    ).toThrow(/preprocess applies to tensors/);
    expect(() => createLoader(source, { batchSize: 2, encodeTargets: encode, seed: 0.5 })).toThrow(
      /seed must be an integer, got 0.5/,
    );
    const mixed = createLoader(source, {
      batchSize: 2,
      encodeTargets: encode,
      shuffle: false,
      output: 'arrays',
    });
    await expect(collectAsync(mixed)).rejects.toThrow(
      /img1 is 9×6, but img0 in the same batch is 8×6/,
    );
    let calls = 0;
    const varying: EncodeTargets = (b, l) => {
      calls++;
      const r = encode(b, l);
      return calls === 2 ? { locTargets: new Float32Array(4), labels: new Int32Array(1) } : r;
    };
    const { source: same } = fakeSource(4);
    const bad = createLoader(same, {
      batchSize: 2,
      encodeTargets: varying,
      concurrency: 1,
      output: 'arrays',
    });
    await expect(collectAsync(bad)).rejects.toThrow(/1 anchors, earlier samples had 5/);
  });
});
