import { promises as fs } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { saveCheckpoint } from './checkpoint';
import { resolveTrainConfig } from './config';
import { UsageError } from './flags';
import { findCheckpoint, resumeConfig, runState, startingPoint } from './resume';

async function runWithCheckpoints(iterations: number[]) {
  const out = await fs.mkdtemp(path.join(tmpdir(), 'resume-'));
  const config = resolveTrainConfig({ out, iterations: 100, 'batch-size': 4 });
  for (const iteration of iterations) {
    const extra = runState({
      config,
      classes: ['a', 'b'],
      iteration,
      schedulePhase: 0,
      batchesPerEpoch: 7,
      backend: 'cpu',
    });
    await saveCheckpoint(
      path.join(out, 'checkpoints'),
      {
        iteration,
        model: [{ name: 'w', shape: [2], values: Float32Array.from([1, 2]) }],
        optimizer: [],
        state: { optimizer: { kind: 'adam', updates: iteration }, extra },
      },
      { keep: 5 },
    );
  }
  return { out, config };
}

describe('resume', () => {
  it('records where sampling stands: epoch and batch within it', () => {
    const config = resolveTrainConfig({ out: '/tmp/x' });
    const state = runState({
      config,
      classes: ['a'],
      iteration: 17,
      schedulePhase: 1,
      batchesPerEpoch: 5,
      backend: 'wasm',
    });
    expect(state.sampling).toEqual({ seed: 1, epoch: 3, batchInEpoch: 2, batchesPerEpoch: 5 });
    expect(state).toMatchObject({ schedulePhase: 1, backend: 'wasm', classes: ['a'] });
  });

  it('finds the newest checkpoint of a run folder, or takes a checkpoint directory', async () => {
    const { out } = await runWithCheckpoints([4, 12]);
    const newest = path.join(out, 'checkpoints', 'ckpt-00000012');
    expect(await findCheckpoint(out, 'resume')).toBe(newest);
    const older = path.join(out, 'checkpoints', 'ckpt-00000004');
    expect(await findCheckpoint(older, 'checkpoint')).toBe(older);
    await expect(findCheckpoint(path.join(out, 'nothing'), 'checkpoint')).rejects.toThrow(
      /--checkpoint .*nothing: not a checkpoint directory, and no checkpoint in/,
    );
    await fs.rm(out, { recursive: true });
  });

  it('resumes with the saved settings, letting only the allowed flags change', async () => {
    const { out, config } = await runWithCheckpoints([4]);
    const resumed = await resumeConfig({ resume: out, iterations: 250, draw: 0 });
    expect(resumed.config).toEqual({ ...config, iterations: 250, draw: 0 });
    expect(resumed.checkpointDir).toBe(path.join(out, 'checkpoints', 'ckpt-00000004'));
    await expect(resumeConfig({ resume: out, lr: 0.1 })).rejects.toThrow(
      '--lr cannot change when resuming',
    );
    // A new run may not start in a folder that holds checkpoints.
    await expect(startingPoint(config, {})).rejects.toThrow(UsageError);
    await expect(startingPoint(config, {})).rejects.toThrow('already holds checkpoints');
    expect((await startingPoint(null, { resume: out })).resumeFrom).toBe(resumed.checkpointDir);
    await fs.rm(out, { recursive: true });
  });
});
