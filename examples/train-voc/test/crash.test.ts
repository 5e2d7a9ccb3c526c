/**
 * Crash safety: the process is killed (SIGKILL) in the middle of writing a
 * checkpoint; the previous checkpoint stays loadable and `--resume` finishes
 * the run. And Ctrl-C (SIGINT) saves a checkpoint and exits cleanly.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { listCheckpoints, loadCheckpoint } from '../src/checkpoint';
import { makeTinyShapes, tinyTrainArgs } from './tiny-run';

const CLI = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', 'dist', 'cli.js');
let dir: string;

function args(out: string): string[] {
  return [
    CLI,
    ...tinyTrainArgs(dir, out, {
      'batch-size': '2',
      iterations: '12',
      'checkpoint-every': '4',
      draw: '0',
    }),
  ];
}

function run(argv: string[], env: Record<string, string> = {}) {
  const child = spawn(process.execPath, argv, {
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout!.on('data', (d: Buffer) => (output += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (output += d.toString()));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.on('exit', (code, signal) => resolve({ code, signal })),
  );
  return { child, exited, output: () => output };
}

async function waitFor(what: () => Promise<boolean>, child: ChildProcess, ms = 120_000) {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (await what()) return;
    if (child.exitCode !== null) throw new Error('the training process exited early');
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error('timed out');
}

beforeAll(async () => {
  dir = await makeTinyShapes('train-voc-crash-', { count: 16, seed: 5 });
});

afterAll(async () => {
  await fs.rm(dir, { recursive: true, force: true });
});

describe('crash safety', () => {
  it('survives SIGKILL during a checkpoint write; --resume continues from the previous one', async () => {
    const out = path.join(dir, 'killed');
    const ckpts = path.join(out, 'checkpoints');
    const p = run(args(out), { SSD_TRAIN_VOC_CHECKPOINT_PAUSE_AT: '8' });
    // Wait until the checkpoint of iteration 8 is half-written (its temporary folder
    // holds a non-empty tensors.bin; the folder appears before the file), then kill.
    const halfWritten = async () => {
      const tmp = (await fs.readdir(ckpts).catch(() => [])).find((n) =>
        n.startsWith('.tmp-ckpt-00000008'),
      );
      if (tmp === undefined) return false;
      const stat = await fs.stat(path.join(ckpts, tmp, 'tensors.bin')).catch(() => null);
      return stat !== null && stat.size > 0;
    };
    await waitFor(halfWritten, p.child);
    p.child.kill('SIGKILL');
    expect((await p.exited).signal).toBe('SIGKILL');

    // Only complete checkpoints count; the previous one loads and verifies.
    expect(await listCheckpoints(ckpts)).toEqual([4]);
    const previous = await loadCheckpoint(path.join(ckpts, 'ckpt-00000004'));
    expect(previous.iteration).toBe(4);

    const resumed = run([CLI, 'train', '--resume', out]);
    const { code } = await resumed.exited;
    expect(code, resumed.output()).toBe(0);
    expect(resumed.output()).toContain('Resumed from');
    expect(await listCheckpoints(ckpts)).toEqual([4, 8, 12]);
    expect((await fs.readdir(ckpts)).filter((n) => n.startsWith('.tmp'))).toEqual([]);
    const summary = JSON.parse(await fs.readFile(path.join(out, 'summary.json'), 'utf8'));
    expect(summary.iterations).toBe(12);
  });

  it('saves a checkpoint and exits cleanly on Ctrl-C', async () => {
    const out = path.join(dir, 'interrupted');
    const p = run(args(out));
    await waitFor(
      async () =>
        (await fs.readFile(path.join(out, 'metrics.jsonl'), 'utf8').catch(() => '')).includes(
          '"iteration":2,',
        ),
      p.child,
    );
    p.child.kill('SIGINT');
    const { code } = await p.exited;
    expect(code, p.output()).toBe(0);
    expect(p.output()).toMatch(/Stopped at iteration (\d+); resume with --resume/);
    const stoppedAt = Number(/Stopped at iteration (\d+)/.exec(p.output())![1]);
    expect(stoppedAt).toBeGreaterThanOrEqual(2);
    expect(stoppedAt).toBeLessThan(12);
    const saved = await listCheckpoints(path.join(out, 'checkpoints'));
    expect(saved[saved.length - 1]).toBe(stoppedAt);
    // The model leaves with the checkpoint.
    expect(await fs.readdir(path.join(out, 'model'))).toContain('model.json');
  });
});
