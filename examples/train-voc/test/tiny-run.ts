import { makeShapesVoc } from '@ssd/make-shapes-voc/node';
import { promises as fs } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';

/**
 * `train` flags of a tiny shapes run on a generated data set in `dir` (its
 * `VOCdevkit`): wasm, 1 worker, width 1/16, 96 px, writing to `out`. `flags`
 * (names without `--`) are added or override these.
 */
export function tinyTrainArgs(dir: string, out: string, flags: Record<string, string>): string[] {
  const all: Record<string, string> = {
    data: path.join(dir, 'VOCdevkit'),
    preset: 'shapes',
    train: 'shapes-trainval',
    test: 'shapes-test',
    backend: 'wasm',
    workers: '1',
    width: '0.0625',
    'input-size': '96',
    ...flags,
    out,
  };
  return ['train', ...Object.entries(all).flatMap(([name, value]) => [`--${name}`, value])];
}

/**
 * A fresh temporary directory (name starting `prefix`) holding a generated shapes
 * data set of `count` images from `seed`; the caller removes it.
 */
export async function makeTinyShapes(
  prefix: string,
  { count, seed }: { count: number; seed: number },
): Promise<string> {
  const dir = await fs.mkdtemp(path.join(tmpdir(), prefix));
  await makeShapesVoc({ outDir: dir, count, seed, concurrency: 2 });
  return dir;
}
