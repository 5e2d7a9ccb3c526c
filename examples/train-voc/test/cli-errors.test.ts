/**
 * Bad inputs to the built CLI (`dist/cli.js`, run as a user runs it): each ends
 * with exit code 2 and exactly one `error:` line naming the file or flag, no
 * stack trace (unless --verbose), and no run folder left behind. One small
 * generated data set serves every case.
 */
import { execFile } from 'node:child_process';
import { existsSync, promises as fs } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { makeShapesVoc } from '@ssd/make-shapes-voc/node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tinyTrainArgs } from './tiny-run';

const CLI = fileURLToPath(new URL('../dist/cli.js', import.meta.url));

let dir: string;
let devkit: string;

function run(args: readonly string[]): Promise<{ code: number; stderr: string }> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [CLI, ...args],
      { cwd: dir, timeout: 120_000, maxBuffer: 16 << 20 },
      (error, _stdout, stderr) => {
        const code = error ? (typeof error.code === 'number' ? error.code : -1) : 0;
        resolve({ code, stderr });
      },
    );
  });
}

/** `train` with the tiny flags, writing to `<dir>/runs/<name>`. */
function train(name: string, flags: Record<string, string>): string[] {
  return tinyTrainArgs(dir, path.join(dir, 'runs', name), {
    'batch-size': '2',
    iterations: '4',
    'checkpoint-every': '100',
    draw: '0',
    ...flags,
  });
}

beforeAll(async () => {
  if (!existsSync(CLI))
    throw new Error(`${CLI} is missing: build the app first (nx run @ssd/train-voc:build)`);
  dir = await fs.mkdtemp(path.join(tmpdir(), 'train-voc-cli-errors-'));
  await makeShapesVoc({ outDir: dir, count: 12, seed: 5, concurrency: 2 });
  devkit = path.join(dir, 'VOCdevkit');
  const main = path.join(devkit, 'VOCshapes', 'ImageSets', 'Main');
  await fs.writeFile(path.join(main, 'empty.txt'), '');
  // A split whose last image is cut off half-way (the annotation is a copy of a good one's).
  const ids = (await fs.readFile(path.join(main, 'trainval.txt'), 'utf8'))
    .split('\n')
    .filter(Boolean);
  const voc = path.join(devkit, 'VOCshapes');
  const good = ids[0]!;
  const jpeg = await fs.readFile(path.join(voc, 'JPEGImages', `${good}.jpg`));
  await fs.writeFile(
    path.join(voc, 'JPEGImages', 'broken.jpg'),
    jpeg.subarray(0, jpeg.length >> 1),
  );
  await fs.copyFile(
    path.join(voc, 'Annotations', `${good}.xml`),
    path.join(voc, 'Annotations', 'broken.xml'),
  );
  await fs.writeFile(path.join(main, 'broken.txt'), [...ids.slice(0, 3), 'broken'].join('\n'));
  await fs.writeFile(
    path.join(dir, 'bad.safetensors'),
    Buffer.from('not a safetensors file at all'),
  );
  await fs.writeFile(path.join(dir, 'a-file'), 'x');
  await fs.writeFile(path.join(dir, 'notes.txt'), 'not an image');
});

afterAll(async () => {
  await fs.rm(dir, { recursive: true, force: true });
});

interface Case {
  readonly name: string;
  readonly args: () => string[];
  /** What the `error:` line must contain (the file or flag at fault, the advice). */
  readonly names: readonly (string | RegExp)[];
}

const CASES: readonly Case[] = [
  {
    name: 'missing --data folder',
    args: () => train('missing-data', { data: path.join(dir, 'nowhere') }),
    names: ['--data', path.join('nowhere')],
  },
  {
    name: 'empty split',
    args: () => train('empty-split', { train: 'shapes-empty' }),
    names: ['shapes-empty', 'holds no images', '--data'],
  },
  {
    name: 'unknown class name',
    args: () => train('unknown-class', { classes: 'circle,square' }),
    names: [/Annotations\/\d+\.xml/, 'unknown class', '--classes', '--unknown-class skip'],
  },
  {
    name: 'truncated image',
    args: () => train('truncated', { train: 'shapes-broken', init: 'glorot' }),
    names: ['broken.jpg', 'corrupt'],
  },
  {
    name: 'bad --backbone-weights',
    args: () => train('bad-weights', { 'backbone-weights': path.join(dir, 'bad.safetensors') }),
    names: ['bad.safetensors', '--backbone-weights'],
  },
  {
    name: '--input-size 8',
    args: () => train('input-size', { 'input-size': '8' }),
    names: ['--input-size 8', 'at least 32 px'],
  },
  {
    name: '--out pointing at a file',
    args: () => tinyTrainArgs(dir, path.join(dir, 'a-file'), {}),
    names: ['--out', 'a-file', 'is a file'],
  },
  {
    name: 'detect on a non-image',
    args: () => [
      'detect',
      '--model',
      path.join(dir, 'no-model'),
      '--out',
      path.join(dir, 'runs', 'detect'),
      path.join(dir, 'notes.txt'),
    ],
    names: ['notes.txt', 'image files'],
  },
  {
    name: 'evaluate --batch-size 0',
    args: () => ['evaluate', '--model', path.join(dir, 'no-model'), '--batch-size', '0'],
    names: ['--batch-size', '≥ 1'],
  },
];

describe('the CLI on bad input', () => {
  it.each(CASES)('$name: one error line, exit 2, no stack, no run folder', async (c) => {
    const { code, stderr } = await run(c.args());
    const errorLines = stderr.split('\n').filter((l) => l.startsWith('error:'));
    expect(errorLines, stderr).toHaveLength(1);
    for (const n of c.names) expect(errorLines[0]).toMatch(n);
    expect(stderr).not.toMatch(/^ {4}at /m);
    expect(code, stderr).toBe(2);
    expect(existsSync(path.join(dir, 'runs'))).toBe(false);
  });

  it('prints the stack with --verbose', async () => {
    const { code, stderr } = await run([...train('verbose', { 'input-size': '8' }), '--verbose']);
    expect(code).toBe(2);
    expect(stderr.split('\n').filter((l) => l.startsWith('error:'))).toHaveLength(1);
    expect(stderr).toMatch(/^ {4}at /m);
  });
});
