import { mkdtemp, readFile, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { afterAll, describe, expect, it } from 'vitest';
import { renderShapesImage } from './index.mjs';
import { makeShapesVoc } from './node.mjs';

describe('makeShapesVoc', () => {
  const dirs: string[] = [];
  afterAll(async () => {
    for (const d of dirs) await rm(d, { recursive: true, force: true });
  });

  it('rejects a seed that is not an integer before writing anything', async () => {
    await expect(makeShapesVoc({ outDir: join(tmpdir(), 'never'), seed: 1.5 })).rejects.toThrow(
      /seed must be an integer, got 1.5/,
    );
  });

  it('writes the exact VOC layout with 1-based inclusive corners', async () => {
    const out = await mkdtemp(join(tmpdir(), 'shapes-'));
    dirs.push(out);
    const result = await makeShapesVoc({ outDir: out, count: 12, seed: 2 });
    expect(result.dir).toBe(join(out, 'VOCdevkit', 'VOCshapes'));
    expect((await readdir(join(result.dir, 'JPEGImages'))).length).toBe(12);
    expect((await readdir(join(result.dir, 'Annotations'))).length).toBe(12);
    const main = await readdir(join(result.dir, 'ImageSets', 'Main'));
    for (const split of ['train', 'val', 'trainval', 'test']) {
      expect(main).toContain(`${split}.txt`);
      expect(main).toContain(`circle_${split}.txt`);
    }
    const first = renderShapesImage(2, 0);
    const xml = await readFile(join(result.dir, 'Annotations', '000001.xml'), 'utf8');
    const o = first.objects[0]!;
    expect(xml).toContain(`<xmin>${o.box[0] + 1}</xmin>`);
    expect(xml).toContain(`<xmax>${o.box[2]}</xmax>`);
    const meta = await sharp(join(result.dir, 'JPEGImages', '000001.jpg')).metadata();
    expect([meta.format, meta.width, meta.height]).toEqual(['jpeg', first.width, first.height]);
  });
});
