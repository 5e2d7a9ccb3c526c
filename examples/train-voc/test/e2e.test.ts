/**
 * End to end on a few dozen generated images with a tiny network: trains,
 * checkpoints, stops and resumes exactly, evaluates, detects; the loss falls,
 * the run folder is complete and the tensor count does not grow.
 */
import { loadSsd as loadSsdFrom, type Detection, type SsdDetector } from '@ssd/detect';
import { loadSsd } from '@ssd/detect/node';
import { BatchNorm } from '@ssd/vgg-ssd';
import { loadSsdModel } from '@ssd/vgg-ssd/node';
import { decodeImage } from '@ssd/voc/node';
import * as tf from '@tensorflow/tfjs-core';
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { listCheckpoints } from '../src/checkpoint';
import { resolveTrainConfig } from '../src/config';
import { parseCommandLine } from '../src/flags';
import { runDetect, runEvaluate } from '../src/infer-commands';
import { readJsonl } from '../src/jsonl';
import { runTrain } from '../src/train-command';
import { makeTinyShapes, tinyTrainArgs } from './tiny-run';

let dir: string;
const ITERATIONS = 24;

function trainArgs(out: string): string[] {
  return tinyTrainArgs(dir, out, {
    'batch-size': '4',
    iterations: String(ITERATIONS),
    // Step decay: the split run below is extended with --iterations, which would
    // stretch a cosine schedule.
    'lr-schedule': 'step',
    'lr-steps': '18',
    warmup: '4',
    'checkpoint-every': '6',
    'keep-checkpoints': '2',
    draw: '3',
    // The paper's network: 2 workers then compute the same objective as 1 (below); with
    // batch norm each worker normalises by its own half of the batch (its own test below).
    normalization: 'none',
  });
}

async function losses(out: string): Promise<number[]> {
  const records = await readJsonl<{ type: string; loss: number }>(path.join(out, 'metrics.jsonl'));
  return records.filter((r) => r.type === 'train').map((r) => r.loss);
}

const quiet = { log: () => undefined };

/**
 * A browser's load: `model.json` and its weights as fetched bytes, handed to tfjs
 * through an in-memory `IOHandler` (`tf.io.fromMemory`); no file system behind it.
 */
async function detectorFromFetchedBytes(modelFolder: string): Promise<SsdDetector> {
  const fetched = async (name: string) =>
    new Uint8Array(await fs.readFile(path.join(modelFolder, name)));
  const modelJson = JSON.parse(new TextDecoder().decode(await fetched('model.json'))) as {
    modelTopology: object;
    weightsManifest: { paths: string[]; weights: tf.io.WeightsManifestEntry[] }[];
    userDefinedMetadata: Record<string, object>;
  };
  const chunks = await Promise.all(modelJson.weightsManifest.flatMap((g) => g.paths).map(fetched));
  const weightData = new Uint8Array(chunks.reduce((n, c) => n + c.byteLength, 0));
  chunks.reduce((offset, c) => (weightData.set(c, offset), offset + c.byteLength), 0);
  const handler = tf.io.fromMemory({
    modelTopology: modelJson.modelTopology,
    weightSpecs: modelJson.weightsManifest.flatMap((g) => g.weights),
    weightData: weightData.buffer,
    userDefinedMetadata: modelJson.userDefinedMetadata,
  });
  // The browser entry's loadSsd on an IOHandler: no file system involved.
  return loadSsdFrom(handler);
}

/**
 * Two 2-worker runs of 6 iterations: one straight, one stopped at 3 and resumed; their
 * losses must be equal. Returns the straight run's folder and losses.
 */
async function workersStraightAndSplit(name: string, normalization: 'none' | 'batch') {
  const args = (out: string, iterations: number) => {
    const a = trainArgs(out);
    a[a.indexOf('--workers') + 1] = '2';
    a[a.indexOf('--iterations') + 1] = String(iterations);
    a[a.indexOf('--draw') + 1] = '0';
    a[a.indexOf('--normalization') + 1] = normalization;
    return a;
  };
  const straightOut = path.join(dir, `${name}-straight`);
  await runTrain(resolveTrainConfig(parseCommandLine(args(straightOut, 6)).flags), {}, quiet);
  const splitOut = path.join(dir, `${name}-split`);
  await runTrain(resolveTrainConfig(parseCommandLine(args(splitOut, 3)).flags), {}, quiet);
  await runTrain(null, { resume: splitOut, iterations: 6 }, quiet);
  const straight = await losses(straightOut);
  expect(straight).toHaveLength(6);
  expect(await losses(splitOut)).toEqual(straight);
  return { straightOut, straight };
}

beforeAll(async () => {
  // The app trains on wasm; tfjs's per-kernel leak check (IS_TEST) misfires on
  // wasm's customGrad ops (see tools/testing's kernelLeakCheckReliable). Leaks
  // are checked here with tf.memory() instead.
  tf.env().set('IS_TEST', false);
  dir = await makeTinyShapes('train-voc-e2e-', { count: 40, seed: 3 });
});

afterAll(async () => {
  await fs.rm(dir, { recursive: true, force: true });
});

describe('train-voc end to end', () => {
  it('trains, resumes exactly, evaluates and detects without growing the tensor count', async () => {
    const straightOut = path.join(dir, 'straight');
    const counts: number[] = [];
    const before = tf.memory().numTensors;
    const straight = await runTrain(
      resolveTrainConfig(parseCommandLine(trainArgs(straightOut)).flags),
      {},
      {
        ...quiet,
        onIteration: () => counts.push(tf.memory().numTensors),
      },
    );
    // No tensor growth: constant across iterations, and nothing left after the run.
    expect(new Set(counts.slice(1)).size).toBe(1);
    expect(tf.memory().numTensors).toBe(before);

    expect(straight.iteration).toBe(ITERATIONS);
    const l = await losses(straightOut);
    expect(l).toHaveLength(ITERATIONS);
    const mean = (v: number[]) => v.reduce((a, b) => a + b, 0) / v.length;
    expect(mean(l.slice(-6))).toBeLessThan(mean(l.slice(0, 6)));

    // The run folder.
    const summary = JSON.parse(await fs.readFile(path.join(straightOut, 'summary.json'), 'utf8'));
    for (const key of ['mAP', 'method', 'perClassAP', 'iterations', 'wallSeconds', 'backend']) {
      expect(summary).toHaveProperty(key);
    }
    expect(summary.iterations).toBe(ITERATIONS);
    expect(summary.method).toBe('voc07');
    expect(Object.keys(summary.perClassAP)).toHaveLength(6);
    expect(summary.backend).toMatch(/^wasm/);
    for (const png of ['loss.png', 'pr-curves.png']) {
      expect((await sharp(path.join(straightOut, png)).metadata()).format).toBe('png');
    }
    expect((await fs.readdir(path.join(straightOut, 'test-images'))).length).toBe(3);
    expect(await listCheckpoints(path.join(straightOut, 'checkpoints'))).toEqual([18, 24]);
    const modelFolder = path.join(straightOut, 'model');
    const saved = JSON.parse(await fs.readFile(path.join(modelFolder, 'model.json'), 'utf8'));
    expect(saved.userDefinedMetadata.ssd).toMatchObject({
      labels: summary.classes,
      inputSize: 96,
      inputScale: 1 / 58,
      preprocessing: { resize: 'bilinear-half-pixel', meanRgb: [123, 117, 104] },
    });

    // Stop after 10 iterations (as Ctrl-C does), resume, finish: identical losses.
    const resumedOut = path.join(dir, 'resumed');
    const first = await runTrain(
      resolveTrainConfig(parseCommandLine(trainArgs(resumedOut)).flags),
      {},
      {
        ...quiet,
        shouldStop: () => counts.length >= ITERATIONS + 10,
        onIteration: () => counts.push(0),
      },
    );
    expect(first).toMatchObject({ stopped: true, iteration: 10, summary: null });
    // A stopped run (Ctrl-C) leaves its model too.
    expect((await fs.readdir(path.join(resumedOut, 'model'))).sort()[0]).toBe('model.json');
    expect(await listCheckpoints(path.join(resumedOut, 'checkpoints'))).toEqual([6, 10]);
    const second = await runTrain(null, { resume: resumedOut }, quiet);
    expect(second.iteration).toBe(ITERATIONS);
    expect(await losses(resumedOut)).toEqual(l);
    expect(tf.memory().numTensors).toBe(before);

    // evaluate gives the mAP the training run reported for the same weights.
    const evaluated = await runEvaluate({ checkpoint: straightOut, backend: 'wasm' });
    expect(evaluated.mAP as number).toBeCloseTo(summary.mAP as number, 6);
    expect(evaluated.iterations).toBe(ITERATIONS);
    // … and so does the exported model (loadSsd on runs/<run>/model).
    const evaluatedModel = await runEvaluate({ model: modelFolder, backend: 'wasm' });
    expect(evaluatedModel.mAP as number).toBeCloseTo(summary.mAP as number, 6);

    // detect: a folder in, annotated PNGs and JSON out.
    const images = path.join(dir, 'VOCdevkit', 'VOCshapes', 'JPEGImages');
    const files = (await fs.readdir(images)).slice(0, 2);
    const inputDir = path.join(dir, 'detect-in');
    await fs.mkdir(inputDir);
    for (const f of files) await fs.copyFile(path.join(images, f), path.join(inputDir, f));
    const detectOut = path.join(dir, 'detect-out');
    const detected = await runDetect(
      { checkpoint: straightOut, out: detectOut, 'score-threshold': 0.2, backend: 'wasm' },
      [inputDir],
    );
    expect(detected.images).toBe(2);
    const json = JSON.parse(await fs.readFile(path.join(detectOut, 'detections.json'), 'utf8'));
    expect(json).toHaveLength(2);
    for (const entry of json) {
      expect(entry).toHaveProperty('detections');
      for (const d of entry.detections) expect(d.score).toBeGreaterThanOrEqual(0.2);
    }
    expect((await fs.readdir(detectOut)).filter((f) => f.endsWith('.png'))).toHaveLength(2);

    // The model leaves the app: `detect --model runs/<run>/model` (every candidate, score
    // > 0.01), @ssd/detect's loadSsd on the folder and a browser-style load from fetched
    // bytes give the same detections; the checkpoint's are the same above 0.2.
    const modelOut = path.join(dir, 'detect-model');
    await runDetect({ model: modelFolder, out: modelOut, 'score-threshold': 0.01 }, [inputDir]);
    const byCommand = JSON.parse(
      await fs.readFile(path.join(modelOut, 'detections.json'), 'utf8'),
    ) as { file: string; detections: Detection[] }[];
    const loaded = await loadSsd(modelFolder);
    const browser = await detectorFromFetchedBytes(modelFolder);
    expect(loaded.labels).toEqual(summary.classes);
    expect(byCommand.map((e) => e.file)).toEqual(json.map((e: { file: string }) => e.file));
    for (const [i, entry] of byCommand.entries()) {
      expect(entry.detections.length).toBeGreaterThan(0);
      const img = await decodeImage(entry.file);
      const image = { data: img.image, width: img.width, height: img.height };
      const direct = await loaded.detect(image);
      expect(direct).toEqual(entry.detections);
      expect(await browser.detect(image)).toEqual(direct);
      expect(json[i].detections).toEqual(direct.filter((d) => d.score >= 0.2));
    }
    loaded.dispose();
    browser.dispose();
    expect(tf.memory().numTensors).toBe(before);
  });

  it('resumes exactly with data-parallel worker threads too', async () => {
    const { straight } = await workersStraightAndSplit('workers', 'none');
    // The same objective as one process: equal to the single-worker run's first loss.
    const single = await losses(path.join(dir, 'straight'));
    expect(straight[0]).toBeCloseTo(single[0]!, 3);
  });

  it('--normalization batch: workers, exact resume, and a model that carries the running statistics', async () => {
    const { straightOut, straight } = await workersStraightAndSplit('bn', 'batch');
    expect(straight.every(Number.isFinite)).toBe(true);
    // The exported model is the workers' network: batch norm with moved running statistics.
    const model = await loadSsdModel(path.join(straightOut, 'model'));
    const bn = model.getLayer('block1_conv1_bn');
    expect(bn).toBeInstanceOf(BatchNorm);
    const [, , movingMean, movingVariance] = bn.getWeights();
    expect(Math.max(...(await tf.abs(movingMean!).data()))).toBeGreaterThan(0);
    expect([...(await movingVariance!.data())].some((v) => v !== 1)).toBe(true);
    model.dispose();
    const summary = JSON.parse(await fs.readFile(path.join(straightOut, 'summary.json'), 'utf8'));
    expect(summary.normalization).toBe('batch');
    // Fine-tuning from that model folder builds the same network without being told.
    const weights = ['train', '--weights', path.join(straightOut, 'model')];
    expect(resolveTrainConfig(parseCommandLine(weights).flags).normalization).toBe('batch');
    expect(Number.isFinite(summary.mAP)).toBe(true);
  });
});
