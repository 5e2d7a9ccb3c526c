import { createHash } from 'node:crypto';
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

  /** Every file under `dir` (relative path → sha256). */
  async function hashes(dir: string): Promise<Record<string, string>> {
    const out: Record<string, string> = {};
    for (const entry of await readdir(dir, { recursive: true, withFileTypes: true })) {
      if (!entry.isFile()) continue;
      const file = join(entry.parentPath, entry.name);
      out[file.slice(dir.length + 1)] = createHash('sha256')
        .update(await readFile(file))
        .digest('hex');
    }
    return out;
  }

  it('writes the same bytes on 1 and 2 worker threads and in the calling thread', async () => {
    const sets = [];
    for (const workers of [1, 2, 0]) {
      const out = await mkdtemp(join(tmpdir(), `shapes-w${workers}-`));
      dirs.push(out);
      const result = await makeShapesVoc({ outDir: out, count: 9, seed: 3, workers });
      sets.push({ result, files: await hashes(result.dir) });
    }
    const [one, two, here] = sets;
    // 9 JPEGs, 9 XMLs, 4 split lists and 6 × 4 per-class lists.
    expect(Object.keys(one!.files)).toHaveLength(9 + 9 + 4 + 24);
    expect(two!.files).toEqual(one!.files);
    expect(here!.files).toEqual(one!.files);
    const { milliseconds: _1, root: _r1, dir: _d1, ...counts1 } = one!.result;
    const { milliseconds: _2, root: _r2, dir: _d2, ...counts2 } = two!.result;
    expect(counts2).toEqual(counts1);
    expect(counts1.objects).toBeGreaterThan(9);
  });

  it('rejects a worker count that is not a non-negative integer', async () => {
    await expect(makeShapesVoc({ outDir: join(tmpdir(), 'never'), workers: 1.5 })).rejects.toThrow(
      /workers must be an integer ≥ 0, got 1.5/,
    );
  });

  it("names the image when a worker's encoding fails, and stops", async () => {
    const out = await mkdtemp(join(tmpdir(), 'shapes-bad-'));
    dirs.push(out);
    await expect(
      makeShapesVoc({ outDir: out, count: 4, seed: 1, workers: 2, quality: 101 }),
    ).rejects.toThrow(/image 00000\d: .*quality/);
  });
});
