import type { HostBatch } from '@ssd/loader';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-core/dist/register_all_gradients';
import { promises as fs } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { SeededRng, mixSeed } from '@ssd/random';
import { afterAll, describe, expect, it } from 'vitest';
import { latestCheckpoint, loadCheckpoint, saveCheckpoint } from './checkpoint';
import { createLocalEngine, type LossFunction } from './engine';
import { createOptimizer, paramsFromVariables } from './optimizer';
import { captureTrainingState, restoreOptimizer, restoreWeights } from './state';
import { NonFiniteLossError, trainLoop, type IterationRecord } from './trainer';

// A stand-in network: linear heads on the flattened image (S=4, P=3 anchors, C=3 classes).
const S = 4;
const P = 3;
const C = 3;
let serial = 0;

function makeModel(seed: number) {
  const rng = new SeededRng(seed);
  const init = (n: number) => Float32Array.from({ length: n }, () => (rng.next() - 0.5) * 0.1);
  const w1 = tf.variable(
    tf.tensor2d(init(S * S * 3 * P * 4), [S * S * 3, P * 4]),
    true,
    `w1_${serial++}`,
  );
  const w2 = tf.variable(
    tf.tensor2d(init(S * S * 3 * P * C), [S * S * 3, P * C]),
    true,
    `w2_${serial++}`,
  );
  const b2 = tf.variable(tf.zeros([P * C]), true, `b2_${serial++}`);
  const vars = [w1, w2, b2];
  const forward = (x: tf.Tensor4D): [tf.Tensor3D, tf.Tensor3D] => {
    const flat = tf.reshape(x, [x.shape[0], -1]) as tf.Tensor2D;
    return [
      tf.reshape(tf.matMul(flat, w1), [x.shape[0], P, 4]),
      tf.reshape(tf.add(tf.matMul(flat, w2), b2), [x.shape[0], P, C]),
    ];
  };
  return { vars, forward };
}

const loss: LossFunction = ({ locPred, logits }, { locTargets, labels }) => {
  const localization = tf.mean(tf.square(tf.sub(locPred, locTargets))) as tf.Scalar;
  const onehot = tf.oneHot(tf.reshape(labels, [-1]) as tf.Tensor1D, C);
  const confidence = tf.neg(
    tf.mean(tf.sum(tf.mul(onehot, tf.logSoftmax(tf.reshape(logits, [-1, C]))), -1)),
  ) as tf.Scalar;
  return { total: tf.add(localization, confidence) as tf.Scalar, localization, confidence };
};

function batchAt(step: number, poison: ReadonlySet<number> = new Set()): Promise<HostBatch> {
  const rng = new SeededRng(mixSeed(7, step));
  const B = 4;
  const images = new Float32Array(B * S * S * 3);
  const labels = new Int32Array(B * P);
  const locTargets = new Float32Array(B * P * 4);
  for (let b = 0; b < B; b++) {
    const cls = rng.int(C);
    for (let i = 0; i < S * S * 3; i++)
      images[b * S * S * 3 + i] = (rng.next() + (i % C === cls ? 1 : 0)) / 2;
    for (let p = 0; p < P; p++) {
      labels[b * P + p] = cls;
      for (let k = 0; k < 4; k++) locTargets[(b * P + p) * 4 + k] = cls * 0.5 - k * 0.1;
    }
  }
  if (poison.has(step)) images[0] = NaN;
  return Promise.resolve({
    step,
    ids: [`img${step}a`, `img${step}b`],
    indices: [2 * step, 2 * step + 1],
    batchSize: B,
    height: S,
    width: S,
    images,
    numAnchors: P,
    locTargets,
    labels,
  });
}

/** Batches from step `start` on, endless; `closed.value` turns true when the consumer closes it. */
function batchesFrom(
  start: number,
  poison: ReadonlySet<number> | undefined,
  closed: { value: boolean },
) {
  return (async function* () {
    try {
      for (let step = start; ; step++) yield await batchAt(step, poison);
    } finally {
      closed.value = true;
    }
  })();
}

const dirs: string[] = [];
afterAll(async () => {
  for (const d of dirs) await fs.rm(d, { recursive: true, force: true });
});

async function run(options: {
  iterations: number;
  dir: string;
  resume?: boolean;
  poison?: ReadonlySet<number>;
  stopAt?: number;
  maxNonFinite?: number;
  /** The step the batches start at, when not the loop's (a wiring mistake). */
  batchesFrom?: number;
}) {
  const { vars, forward } = makeModel(3);
  const params = paramsFromVariables(vars);
  const optimizer = createOptimizer('sgd', params, { momentum: 0.9, weightDecay: 5e-4 });
  const weights = vars.map((v) => ({ name: v.name, variable: v }));
  let start = 0;
  if (options.resume) {
    const data = await loadCheckpoint<never>((await latestCheckpoint(options.dir))!);
    restoreWeights(weights, data.model);
    restoreOptimizer(optimizer, data);
    start = data.iteration;
  }
  const engine = createLocalEngine({ params, forward, preprocess: (x) => tf.sub(x, 0.5), loss });
  const records: IterationRecord[] = [];
  const closed = { value: false };
  const tensorsBefore = tf.memory().numTensors;
  const result = await trainLoop({
    engine,
    optimizer,
    schedule: { baseLr: 0.05, steps: [15], gamma: 0.1, warmupIterations: 3, warmupFactor: 0.5 },
    batches: batchesFrom(options.batchesFrom ?? start, options.poison, closed),
    startIteration: start,
    iterations: options.iterations,
    checkpointEvery: 5,
    evalEvery: 0,
    maxNonFinite: options.maxNonFinite ?? 3,
    shouldStop: () => options.stopAt !== undefined && records.length >= options.stopAt,
    checkpoint: async (iteration) => {
      await saveCheckpoint(
        options.dir,
        await captureTrainingState(weights, optimizer, iteration, {}),
        {
          keep: 2,
        },
      );
    },
    onIteration: (r) => {
      records.push(r);
    },
  }).finally(() => {
    // checked below, before disposing the model
  });
  const grown = tf.memory().numTensors - tensorsBefore;
  const final = await Promise.all(vars.map((v) => v.data()));
  optimizer.dispose();
  tf.dispose(vars);
  return { records, result, grown, final, closed: closed.value };
}

async function tempDir(): Promise<string> {
  const d = await fs.mkdtemp(path.join(tmpdir(), 'trainer-'));
  dirs.push(d);
  return d;
}

describe('trainLoop', () => {
  it('lowers the loss, does not grow the tensor count, checkpoints every N and at the end', async () => {
    const dir = await tempDir();
    const { records, result, grown, closed } = await run({ iterations: 22, dir });
    expect(result.iteration).toBe(22);
    expect(grown).toBe(0);
    expect(closed).toBe(true); // the loop closes the batch iterator
    const first = records.slice(0, 3).reduce((a, r) => a + r.loss, 0);
    const last = records.slice(-3).reduce((a, r) => a + r.loss, 0);
    expect(last).toBeLessThan(first * 0.7);
    expect(records[0]!.lr).toBeCloseTo(0.025, 10); // warm-up from factor 0.5
    expect(records[20]!.lr).toBeCloseTo(0.005, 10); // after the step at 15
    expect((await fs.readdir(dir)).sort()).toEqual(['ckpt-00000020', 'ckpt-00000022']);
  });

  it('resumes exactly: N steps + resume + M steps = N + M steps straight', async () => {
    const straight = await run({ iterations: 14, dir: await tempDir() });
    const dir = await tempDir();
    const first = await run({ iterations: 14, dir, stopAt: 7 });
    expect(first.result.stopped).toBe(true);
    expect(first.result.iteration).toBe(7);
    const second = await run({ iterations: 14, dir, resume: true });
    expect(second.records[0]!.iteration).toBe(8);
    const resumed = [...first.records, ...second.records].map((r) => r.loss);
    expect(resumed).toEqual(straight.records.map((r) => r.loss));
    second.final.forEach((w, i) => expect(Array.from(w)).toEqual(Array.from(straight.final[i]!)));
  });

  it('rejects batches that do not start at its step', async () => {
    await expect(run({ iterations: 4, dir: await tempDir(), batchesFrom: 1 })).rejects.toThrow(
      'the batch of step 1 arrived for step 0',
    );
  });

  it('skips a batch with a non-finite loss, logs its ids, and stops after too many in a row', async () => {
    const dir = await tempDir();
    const { records, result } = await run({ iterations: 8, dir, poison: new Set([2]) });
    expect(result.skipped).toBe(1);
    expect(records[2]!.skipped).toBe(true);
    expect(records[2]!.ids).toEqual(['img2a', 'img2b']);
    expect(records.filter((r) => Number.isFinite(r.loss))).toHaveLength(7);

    const dir2 = await tempDir();
    const error = await run({ iterations: 12, dir: dir2, poison: new Set([6, 7, 8]) }).catch(
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(NonFiniteLossError);
    expect((error as Error).message).toMatch(
      /3 consecutive batches .* iteration 9, images img8a, img8b/,
    );
    // Only the checkpoint from before the bad batches exists.
    expect(await fs.readdir(dir2)).toEqual(['ckpt-00000005']);
  });
});
