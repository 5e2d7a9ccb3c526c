/**
 * `train --backend webgpu` end to end, on the smallest run that still trains:
 * it checkpoints, stops and resumes exactly like wasm (the same losses as an
 * uninterrupted run, and the same final checkpoint), and `evaluate` and
 * `detect` run on webgpu on its checkpoint. Needs a WebGPU device (in CI
 * SwiftShader, a slow CPU emulation: hence one image per step and 3 steps);
 * skipped without one, failing instead when `CI` is set.
 */
import { describeOnWebgpu, webgpuForTests } from '@ssd/testing';
import * as tf from '@tensorflow/tfjs-core';
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { listCheckpoints } from '../src/checkpoint';
import { resolveTrainConfig } from '../src/config';
import { parseCommandLine } from '../src/flags';
import { runDetect, runEvaluate } from '../src/infer-commands';
import { readJsonl } from '../src/jsonl';
import { runTrain } from '../src/train-command';
import { makeTinyShapes, tinyTrainArgs } from './tiny-run';

const webgpu = await webgpuForTests();
let dir: string;
const ITERATIONS = 3;

function trainArgs(out: string): string[] {
  return tinyTrainArgs(dir, out, {
    backend: 'webgpu',
    'batch-size': '1',
    iterations: String(ITERATIONS),
    'lr-schedule': 'step',
    'lr-steps': '2',
    warmup: '1',
    'checkpoint-every': '1',
    draw: '0',
    // LSUV (the preset's init) is a forward pass per convolution over 8 images:
    // minutes on SwiftShader. Its reads are the same awaited reads as training's.
    init: 'he',
  });
}

async function losses(out: string): Promise<number[]> {
  const records = await readJsonl<{ type: string; loss: number }>(path.join(out, 'metrics.jsonl'));
  return records.filter((r) => r.type === 'train').map((r) => r.loss);
}

async function finalCheckpoint(out: string): Promise<Buffer> {
  const name = `ckpt-${String(ITERATIONS).padStart(8, '0')}`;
  return fs.readFile(path.join(out, 'checkpoints', name, 'tensors.bin'));
}

const quiet = { log: () => undefined };

beforeAll(async () => {
  tf.env().set('IS_TEST', false);
  if (webgpu.available) dir = await makeTinyShapes('train-voc-webgpu-', { count: 10, seed: 3 });
});

afterAll(async () => {
  if (dir) await fs.rm(dir, { recursive: true, force: true });
});

describeOnWebgpu(webgpu, 'train --backend webgpu', () => {
  it('trains, checkpoints and resumes exactly; evaluate and detect run on its checkpoint', async () => {
    const straightOut = path.join(dir, 'straight');
    const before = tf.memory().numTensors;
    const straight = await runTrain(
      resolveTrainConfig(parseCommandLine(trainArgs(straightOut)).flags),
      {},
      quiet,
    );
    expect(straight.iteration).toBe(ITERATIONS);
    expect(tf.getBackend()).toBe('webgpu');
    expect(tf.memory().numTensors).toBe(before);
    const l = await losses(straightOut);
    expect(l).toHaveLength(ITERATIONS);
    for (const loss of l) expect(loss).toBeGreaterThan(0);
    const summary = JSON.parse(await fs.readFile(path.join(straightOut, 'summary.json'), 'utf8'));
    expect(summary.backend).toMatch(/^webgpu \(/);
    expect(await listCheckpoints(path.join(straightOut, 'checkpoints'))).toEqual([1, 2, 3]);

    // Stop after the first iteration (as Ctrl-C does), resume, finish: the same
    // losses and the same final weights and optimizer state, byte for byte.
    const resumedOut = path.join(dir, 'resumed');
    let done = 0;
    const first = await runTrain(
      resolveTrainConfig(parseCommandLine(trainArgs(resumedOut)).flags),
      {},
      { ...quiet, shouldStop: () => done >= 1, onIteration: () => void done++ },
    );
    expect(first).toMatchObject({ stopped: true, iteration: 1, summary: null });
    const second = await runTrain(null, { resume: resumedOut }, quiet);
    expect(second.iteration).toBe(ITERATIONS);
    expect(await losses(resumedOut)).toEqual(l);
    expect((await finalCheckpoint(resumedOut)).equals(await finalCheckpoint(straightOut))).toBe(
      true,
    );
    expect(tf.memory().numTensors).toBe(before);

    const evaluated = await runEvaluate({ checkpoint: straightOut, backend: 'webgpu' });
    expect(evaluated.mAP as number).toBeCloseTo(summary.mAP as number, 6);

    const images = path.join(dir, 'VOCdevkit', 'VOCshapes', 'JPEGImages');
    const file = (await fs.readdir(images))[0]!;
    const detectOut = path.join(dir, 'detect-out');
    const detected = await runDetect(
      { checkpoint: straightOut, out: detectOut, 'score-threshold': 0.01, backend: 'webgpu' },
      [path.join(images, file)],
    );
    expect(detected.images).toBe(1);
    const json = JSON.parse(await fs.readFile(path.join(detectOut, 'detections.json'), 'utf8'));
    expect(json[0].detections.length).toBeGreaterThan(0);
    expect(tf.getBackend()).toBe('webgpu');
    expect(tf.memory().numTensors).toBe(before);
  });
});
