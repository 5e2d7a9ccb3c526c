import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-wasm';
import { testRng } from '@ssd/testing';
import { describe, expect, it } from 'vitest';
import { createDataParallelTrainer } from './data-parallel';
import { TrainerError } from './errors';
import type { NamedWeight, TrainingBatch } from './protocol';

const replicaModule = new URL('./fixtures/conv-replica.mjs', import.meta.url);

function makeBatch(rng: () => number, rows: number): TrainingBatch {
  const x = new Float32Array(rows * 9 * 9 * 2);
  for (let i = 0; i < x.length; i++) x[i] = rng() * 2 - 1;
  const y = new Int32Array(rows);
  const weight = new Int32Array(rows);
  for (let i = 0; i < rows; i++) {
    y[i] = Math.floor(rng() * 3);
    weight[i] = 1 + Math.floor(rng() * 4);
    // Make the class learnable: a bright channel-0 row whose position is the class.
    for (let c = 0; c < 9; c++) x[((i * 9 + y[i]! * 3) * 9 + c) * 2] = 2;
  }
  return {
    x: { data: x, shape: [rows, 9, 9, 2] },
    y: { data: y, shape: [rows] },
    weight: { data: weight, shape: [rows] },
  };
}

async function train(
  workers: number,
  normalized: boolean,
  steps: number,
  backend?: 'current',
  flat = false,
) {
  const trainer = await createDataParallelTrainer({
    replicaModule,
    replicaOptions: { normalized, flat },
    workers,
    ...(backend ? { backend } : {}),
  });
  try {
    const rng = testRng(5);
    const losses: number[] = [];
    for (let s = 0; s < steps; s++) {
      const result = await trainer.step(makeBatch(rng, 5), { learningRate: 0.05 });
      losses.push(result.loss);
    }
    const replicas: NamedWeight[][] = [];
    for (let w = 0; w < Math.max(workers, 1); w++) replicas.push(await trainer.getWeights(w));
    return { losses, replicas, trainer };
  } finally {
    await trainer.dispose();
  }
}

function maxDifference(a: NamedWeight[], b: NamedWeight[]): number {
  let worst = 0;
  a.forEach((w, i) => {
    const other = b[i]!.data;
    w.data.forEach((v, j) => {
      worst = Math.max(worst, Math.abs(v - other[j]!));
    });
  });
  return worst;
}

describe('createDataParallelTrainer', () => {
  it.each([false, true])(
    'gives the same weights and losses with 1 and 2 workers (normalizer: %s), replicas identical',
    async (normalized) => {
      const one = await train(1, normalized, 4);
      const two = await train(2, normalized, 4);
      expect(two.trainer.numWorkers).toBe(2);
      expect(two.trainer.backend).toBe('wasm');
      expect(two.trainer.numParameters).toBe(
        3 * 3 * 2 * 4 + 4 + 3 * 3 * 4 * 4 + 4 + 4 * 4 * 4 * 3 + 3,
      );
      // Replicas inside one trainer stay bit-identical.
      expect(maxDifference(two.replicas[0]!, two.replicas[1]!)).toBe(0);
      // Independent of the number of workers within float tolerance.
      expect(maxDifference(one.replicas[0]!, two.replicas[0]!)).toBeLessThan(1e-5);
      two.losses.forEach((loss, i) => expect(loss).toBeCloseTo(one.losses[i]!, 5));
      expect(one.losses.every(Number.isFinite)).toBe(true);
    },
  );

  it('hands a replica with applyFlatGradients the averaged gradient as one array', async () => {
    const perTensor = await train(2, true, 3);
    // The fixture's flat replica throws if the trainer calls its optimizer instead.
    const flat = await train(2, true, 3, undefined, true);
    expect(maxDifference(flat.replicas[0]!, perTensor.replicas[0]!)).toBe(0);
    expect(maxDifference(flat.replicas[0]!, flat.replicas[1]!)).toBe(0);
    expect(flat.losses).toEqual(perTensor.losses);
  });

  it('workers: 0 runs the replica in this thread with the same results', async () => {
    const two = await train(2, true, 3);
    // tfjs's IS_TEST per-kernel leak check misreads customGrad ops here (as in
    // the workers, where it is off); real leaks would show in tf.memory().
    const isTest = tf.env().getBool('IS_TEST');
    tf.env().set('IS_TEST', false);
    const before = tf.memory().numTensors;
    const local = await train(0, true, 3).finally(() => tf.env().set('IS_TEST', isTest));
    expect(tf.memory().numTensors).toBe(before);
    expect(local.trainer.numWorkers).toBe(1);
    expect(local.trainer.backend).toBe(tf.getBackend());
    expect(maxDifference(local.replicas[0]!, two.replicas[0]!)).toBeLessThan(1e-5);
  });

  it('trains: the loss falls over 20 steps with 2 workers', async () => {
    const { losses } = await train(2, false, 20);
    const first = (losses[0]! + losses[1]! + losses[2]!) / 3;
    const last = (losses[17]! + losses[18]! + losses[19]!) / 3;
    expect(last).toBeLessThan(first * 0.7);
  });

  it('handles a batch with fewer rows than workers, and set/get weights round-trips', async () => {
    const trainer = await createDataParallelTrainer({
      replicaModule,
      replicaOptions: {},
      workers: 3,
    });
    try {
      const rng = testRng(9);
      const { loss } = await trainer.step(makeBatch(rng, 2));
      expect(Number.isFinite(loss)).toBe(true);
      const weights = await trainer.getWeights();
      const zeroed = weights.map((w) => ({ ...w, data: new Float32Array(w.data.length) }));
      await trainer.setWeights(zeroed);
      for (let w = 0; w < 3; w++) {
        expect((await trainer.getWeights(w)).every((x) => x.data.every((v) => v === 0))).toBe(true);
      }
      await expect(trainer.setWeights(zeroed.slice(1))).rejects.toThrow(
        /expected 6 weights, got 5/,
      );
    } finally {
      await trainer.dispose();
    }
  });

  it("a Uint8Array with dtype 'float32' reaches the replica as the same float32 tensor", async () => {
    // Integer inputs, once as float32 and once as 8-bit bytes converted in the worker.
    const rng = testRng(4);
    const batches = [0, 1].map(() => {
      const b = makeBatch(rng, 4);
      const x = Uint8Array.from(b.x!.data, (v) => Math.round((v + 1) * 3));
      return {
        floats: { ...b, x: { data: Float32Array.from(x), shape: b.x!.shape } },
        bytes: x,
        b,
      };
    });
    const run = async (eightBit: boolean) => {
      const trainer = await createDataParallelTrainer({ replicaModule, workers: 2 });
      try {
        const losses: number[] = [];
        for (const { floats, bytes, b } of batches) {
          const batch: TrainingBatch = eightBit
            ? { ...b, x: { data: bytes.slice(), shape: b.x!.shape, dtype: 'float32' } }
            : floats;
          losses.push((await trainer.step(batch, { learningRate: 0.05 })).loss);
        }
        return { losses, weights: await trainer.getWeights() };
      } finally {
        await trainer.dispose();
      }
    };
    const floats = await run(false);
    const bytes = await run(true);
    expect(bytes.losses).toEqual(floats.losses);
    expect(maxDifference(bytes.weights, floats.weights)).toBe(0);
  });

  it('rejects malformed batches and bad modules with TrainerError', async () => {
    const trainer = await createDataParallelTrainer({ replicaModule, workers: 1 });
    try {
      await expect(
        trainer.step({ x: { data: new Float32Array(5), shape: [2, 3] } }),
      ).rejects.toThrow(/batch\.x has shape \[2,3\] \(6 values\) but 5 values/);
      await expect(
        trainer.step({
          x: { data: new Float32Array(6), shape: [2, 3] },
          y: { data: new Int32Array(3), shape: [3] },
        }),
      ).rejects.toBeInstanceOf(TrainerError);
    } finally {
      await trainer.dispose();
    }
    await expect(
      createDataParallelTrainer({
        replicaModule: new URL('./errors.ts', import.meta.url),
        workers: 1,
      }),
    ).rejects.toThrow(TrainerError);
  });
});
