import { promises as fs } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import {
  CheckpointError,
  checkpointName,
  latestCheckpoint,
  listCheckpoints,
  loadCheckpoint,
  saveCheckpoint,
} from './checkpoint';

const dirs: string[] = [];
async function tempDir(): Promise<string> {
  const d = await fs.mkdtemp(path.join(tmpdir(), 'ckpt-test-'));
  dirs.push(d);
  return d;
}
afterAll(async () => {
  for (const d of dirs) await fs.rm(d, { recursive: true, force: true });
});

function data(iteration: number) {
  return {
    iteration,
    model: [
      { name: 'conv/kernel', shape: [2, 3], values: Float32Array.from([1, 2, 3, 4, 5, iteration]) },
      { name: 'conv/bias', shape: [3], values: Float32Array.from([0.5, -0.5, NaN]) },
    ],
    optimizer: [
      { name: 'conv/kernel/momentum', shape: [2, 3], values: new Float32Array(6).fill(0.25) },
    ],
    state: { rng: 12345, note: 'x' },
  };
}

describe('checkpoints', () => {
  it('round-trip exactly, bit for bit', async () => {
    const dir = await tempDir();
    const where = await saveCheckpoint(dir, data(7));
    expect(path.basename(where)).toBe('ckpt-00000007');
    const back = await loadCheckpoint(where);
    expect(back.iteration).toBe(7);
    expect(back.state).toEqual({ rng: 12345, note: 'x' });
    expect(back.model.map((t) => t.name)).toEqual(['conv/kernel', 'conv/bias']);
    expect(Array.from(back.model[0]!.values)).toEqual([1, 2, 3, 4, 5, 7]);
    expect(Number.isNaN(back.model[1]!.values[2])).toBe(true);
    expect(back.optimizer[0]!.shape).toEqual([2, 3]);
    expect(Array.from(back.optimizer[0]!.values)).toEqual(new Array(6).fill(0.25));
  });

  it('keeps only the newest N and finds the latest', async () => {
    const dir = await tempDir();
    for (const it of [10, 20, 30, 40]) await saveCheckpoint(dir, data(it), { keep: 2 });
    expect(await listCheckpoints(dir)).toEqual([30, 40]);
    expect(await latestCheckpoint(dir)).toBe(path.join(dir, checkpointName(40)));
    expect(await latestCheckpoint(path.join(dir, 'nothing-here'))).toBeUndefined();
  });

  it('detects truncation and corruption, naming the file', async () => {
    const dir = await tempDir();
    const where = await saveCheckpoint(dir, data(1));
    const bin = path.join(where, 'tensors.bin');
    const bytes = await fs.readFile(bin);
    await fs.writeFile(bin, bytes.subarray(0, bytes.length - 4));
    await expect(loadCheckpoint(where)).rejects.toThrow(/tensors\.bin: expected \d+ bytes/);
    bytes[3] = (bytes[3]! + 1) & 255;
    await fs.writeFile(bin, bytes);
    await expect(loadCheckpoint(where)).rejects.toThrow(CheckpointError);
    await expect(loadCheckpoint(where)).rejects.toThrow(/SHA-256 mismatch/);
    await fs.writeFile(path.join(where, 'state.json'), '{"format":');
    await expect(loadCheckpoint(where)).rejects.toThrow(/state\.json: cannot read/);
  });

  it('ignores and cleans up a temporary directory left by a dead writer', async () => {
    const dir = await tempDir();
    await saveCheckpoint(dir, data(5));
    // A writer that died (pid 2^22 + 1 is above Linux's default pid_max… use a surely-dead pid).
    const stale = path.join(dir, '.tmp-ckpt-00000010-999999999');
    await fs.mkdir(stale);
    await fs.writeFile(path.join(stale, 'tensors.bin'), 'partial');
    expect(await listCheckpoints(dir)).toEqual([5]);
    await saveCheckpoint(dir, data(6));
    expect(await fs.readdir(dir)).toEqual(['ckpt-00000005', 'ckpt-00000006']);
  });

  it('refuses values that do not fit the shape', async () => {
    const dir = await tempDir();
    const bad = { ...data(1), model: [{ name: 'w', shape: [4], values: new Float32Array(3) }] };
    await expect(saveCheckpoint(dir, bad)).rejects.toThrow(/w: shape \[4\] needs 4 values, got 3/);
  });
});
