import { promises as fs } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { afterAll, describe, expect, it, vi } from 'vitest';
import {
  CheckpointError,
  checkpointName,
  latestCheckpoint,
  listCheckpoints,
  loadCheckpoint,
  pruneCheckpoints,
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

  it('a truncated state.json is a CheckpointError naming the file, not a bare SyntaxError', async () => {
    const dir = await tempDir();
    const where = await saveCheckpoint(dir, data(3));
    const stateName = path.join(where, 'state.json');
    const text = await fs.readFile(stateName, 'utf8');
    await fs.writeFile(stateName, text.slice(0, text.length / 2));
    const error = await loadCheckpoint(where).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(CheckpointError);
    expect((error as CheckpointError).file).toBe(stateName);
    expect((error as Error).message).toMatch(
      /state\.json: cannot read checkpoint state: not valid JSON, truncated or corrupt/,
    );
  });

  it('names the field of state.json that is wrong', async () => {
    const dir = await tempDir();
    const where = await saveCheckpoint(dir, data(3));
    const stateName = path.join(where, 'state.json');
    const good = JSON.parse(await fs.readFile(stateName, 'utf8'));
    type StateJson = { iteration: unknown; sha256?: unknown; tensors: Record<string, unknown>[] };
    const cases: [(s: StateJson) => void, RegExp][] = [
      [
        (s) => (s.tensors[1]!.shape = [3, -1]),
        /state\.json: tensors\[1\]\.shape: expected integers/,
      ],
      [(s) => (s.tensors[0]!.group = 'x'), /state\.json: tensors\[0\]\.group: expected "model"/],
      [(s) => delete s.sha256, /state\.json: sha256: expected 64 hex digits/],
      [(s) => (s.iteration = 'seven'), /state\.json: iteration: expected an integer/],
      [(s) => (s.tensors = {} as StateJson['tensors']), /state\.json: tensors: expected an array/],
      [(s) => (s.tensors[2]!.offset = 4000), /tensors\[2\]: tensor .* ends past the/],
    ];
    for (const [edit, message] of cases) {
      const broken = structuredClone(good);
      edit(broken);
      await fs.writeFile(stateName, JSON.stringify(broken));
      const error = await loadCheckpoint(where).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(CheckpointError);
      expect((error as Error).message).toMatch(message);
    }
  });

  it('with requireFinite, refuses a NaN tensor, naming it', async () => {
    const dir = await tempDir();
    const where = await saveCheckpoint(dir, data(4));
    await expect(loadCheckpoint(where, { requireFinite: true })).rejects.toThrow(
      /tensors\.bin: tensor conv\/bias: holds NaN at index 2 of 3/,
    );
  });

  it('re-saving the same iteration with keep 1 never leaves no checkpoint', async () => {
    const dir = await tempDir();
    await saveCheckpoint(dir, data(10), { keep: 1 });
    await saveCheckpoint(dir, data(20), { keep: 1 });
    const again = { ...data(20), state: { rng: 1, note: 'second' } };
    await saveCheckpoint(dir, again, { keep: 1 });
    expect(await fs.readdir(dir)).toEqual(['ckpt-00000020']);
    expect((await loadCheckpoint(path.join(dir, 'ckpt-00000020'))).state).toEqual(again.state);

    // The new one fails to go into place: the old one is put back.
    const realRename = fs.rename.bind(fs);
    const spy = vi.spyOn(fs, 'rename').mockImplementation(async (from, to) => {
      if (String(from).includes('.tmp-')) throw new Error('disk on fire');
      return realRename(from, to);
    });
    await expect(saveCheckpoint(dir, data(20), { keep: 1 })).rejects.toThrow('disk on fire');
    spy.mockRestore();
    expect(await listCheckpoints(dir)).toEqual([20]);
    expect((await loadCheckpoint(path.join(dir, 'ckpt-00000020'))).state).toEqual(again.state);
  });

  it('a writer killed between moving the old one aside and renaming the new one: the old one comes back', async () => {
    const dir = await tempDir();
    await saveCheckpoint(dir, data(30), { keep: 1 });
    // What kill -9 at that point leaves: the old one aside, the new one complete under its temp name.
    const dead = 999999999;
    await fs.rename(
      path.join(dir, 'ckpt-00000030'),
      path.join(dir, `.replaced-ckpt-00000030-${dead}`),
    );
    await fs.mkdir(path.join(dir, `.tmp-ckpt-00000030-${dead}`));
    expect(await latestCheckpoint(dir)).toBe(path.join(dir, 'ckpt-00000030'));
    expect((await loadCheckpoint(path.join(dir, 'ckpt-00000030'))).iteration).toBe(30);
    await pruneCheckpoints(dir, 1);
    expect(await fs.readdir(dir)).toEqual(['ckpt-00000030']);
  });

  it('pruning keeps the checkpoint just written, even when newer ones exist', async () => {
    const dir = await tempDir();
    for (const it of [30, 40]) await saveCheckpoint(dir, data(it), { keep: 2 });
    // A run resumed from 30 (40 was corrupt) saves 35 with keep 1.
    await saveCheckpoint(dir, data(35), { keep: 1 });
    expect(await listCheckpoints(dir)).toEqual([35, 40]);
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
