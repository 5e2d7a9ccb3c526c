import { promises as fs } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { CheckpointError, saveCheckpoint } from './checkpoint';
import { resolveTrainConfig } from './config';
import { UsageError } from './flags';
import { findCheckpoint, loadRunCheckpoint, resumeConfig, runState, startingPoint } from './resume';

const ckpt = (out: string, iteration: number) =>
  path.join(out, 'checkpoints', `ckpt-${String(iteration).padStart(8, '0')}`);

async function corrupt(file: string, edit: (bytes: Buffer) => Buffer): Promise<void> {
  await fs.writeFile(file, edit(await fs.readFile(file)));
}

async function runWithCheckpoints(iterations: number[], weights = Float32Array.from([1, 2])) {
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
        model: [{ name: 'w', shape: [2], values: weights }],
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

  it('falls back to the newest intact checkpoint, one line for each it skipped and why', async () => {
    const { out, config } = await runWithCheckpoints([4, 8, 12, 16]);
    await corrupt(path.join(ckpt(out, 16), 'tensors.bin'), (b) => {
      b[0] = b[0]! ^ 1;
      return b;
    });
    await corrupt(path.join(ckpt(out, 12), 'state.json'), (b) => b.subarray(0, b.length >> 1));
    await corrupt(path.join(ckpt(out, 8), 'tensors.bin'), (b) => b.subarray(0, 4));
    const lines: string[] = [];
    const resumed = await resumeConfig({ resume: out }, (m) => lines.push(m));
    expect(resumed.checkpointDir).toBe(ckpt(out, 4));
    expect(resumed.config).toEqual(config);
    expect(lines).toHaveLength(3);
    expect(lines[0]).toBe(
      `Skipping checkpoint ckpt-00000016: ${path.join(ckpt(out, 16), 'tensors.bin')}: SHA-256 mismatch: the file is corrupt`,
    );
    expect(lines[1]).toMatch(
      /^Skipping checkpoint ckpt-00000012: .*ckpt-00000012\/state\.json: cannot read checkpoint state: not valid JSON/,
    );
    expect(lines[2]).toMatch(
      /^Skipping checkpoint ckpt-00000008: .*tensors\.bin: expected 8 bytes, found 4/,
    );
    const started = await startingPoint(null, { resume: out }, () => {});
    expect(started.resumeFrom).toBe(ckpt(out, 4));

    // None intact: a CheckpointError naming the folder, after a line for each.
    await corrupt(path.join(ckpt(out, 4), 'state.json'), () => Buffer.from('{'));
    lines.length = 0;
    const error = await resumeConfig({ resume: out }, (m) => lines.push(m)).catch((e) => e);
    expect(error).toBeInstanceOf(CheckpointError);
    expect((error as Error).message).toBe(
      `${path.join(out, 'checkpoints')}: none of its 4 checkpoints is intact (the newest: ${path.join(ckpt(out, 16), 'tensors.bin')}: SHA-256 mismatch: the file is corrupt)`,
    );
    expect(lines).toHaveLength(4);
    await fs.rm(out, { recursive: true });
  });

  it('a truncated state.json of a named checkpoint is a CheckpointError naming it', async () => {
    const { out } = await runWithCheckpoints([4]);
    const stateName = path.join(ckpt(out, 4), 'state.json');
    await corrupt(stateName, (b) => b.subarray(0, b.length - 10));
    for (const load of [
      () => resumeConfig({ resume: ckpt(out, 4) }),
      () => resumeConfig({ resume: out }),
      () => loadRunCheckpoint(ckpt(out, 4)),
    ]) {
      const error = await load().catch((e) => e);
      expect(error).toBeInstanceOf(CheckpointError);
      expect(error).not.toBeInstanceOf(SyntaxError);
      expect((error as Error).message).toContain(stateName);
    }
    await fs.rm(out, { recursive: true });
  });

  it('refuses non-finite weights and a state without its run settings, naming the tensor or field', async () => {
    const { out } = await runWithCheckpoints([4], Float32Array.from([1, NaN]));
    await expect(loadRunCheckpoint(ckpt(out, 4))).rejects.toThrow(
      `${path.join(ckpt(out, 4), 'tensors.bin')}: tensor w: holds NaN at index 1 of 2`,
    );
    await fs.rm(out, { recursive: true });
    const other = await fs.mkdtemp(path.join(tmpdir(), 'resume-'));
    await saveCheckpoint(path.join(other, 'checkpoints'), {
      iteration: 1,
      model: [],
      optimizer: [],
      state: { optimizer: { kind: 'adam', updates: 1 }, extra: {} },
    });
    await expect(loadRunCheckpoint(ckpt(other, 1))).rejects.toThrow(
      /state\.json: state\.extra\.config: missing/,
    );
    await fs.rm(other, { recursive: true });
  });
});
