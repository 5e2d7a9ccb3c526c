// @ts-check
// Node part of the shapes generator: writes the data set as JPEG files (sharp) in
// exact Pascal VOC layout. The images themselves come from the browser-safe main entry.
import { mkdir, rm, writeFile } from 'node:fs/promises';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import sharp from 'sharp';
import {
  SHAPES_CLASSES,
  SHAPES_DEFAULTS,
  SHAPES_YEAR,
  renderShapesImage,
  shapesAnnotationXml,
  shapesImageId,
  shapesSplits,
} from './index.mjs';

/**
 * @typedef {{ outDir: string, count?: number, seed?: number, testFraction?: number,
 *   valFraction?: number, quality?: number, concurrency?: number, minSide?: number,
 *   maxSide?: number, width?: number, height?: number, maxObjects?: number,
 *   difficultProbability?: number }} MakeShapesOptions
 * @typedef {{ root: string, dir: string, year: string, classes: readonly string[],
 *   images: number, objects: number, difficult: number, truncated: number,
 *   splits: { train: number, val: number, trainval: number, test: number },
 *   sets: { year: string, split: 'trainval' | 'test' }[],
 *   milliseconds: number }} MakeShapesResult
 */

/**
 * Writes the data set under `outDir/VOCdevkit/VOCshapes/` (replacing a previous one
 * there). Read it back with `@ssd/voc`:
 * `openVocDataset({ root: made.root, sets: made.sets, classes: SHAPES_CLASSES })` for
 * every image, or `{ root: made.root, year: 'shapes', split: 'trainval', … }` for one split.
 * @param {MakeShapesOptions} options
 * @returns {Promise<MakeShapesResult>}
 */
export async function makeShapesVoc(options) {
  const o = { ...SHAPES_DEFAULTS, concurrency: availableParallelism() * 2, ...options };
  if (!(Number.isInteger(o.count) && o.count > 0)) {
    throw new RangeError(`count must be a positive integer, got ${o.count}`);
  }
  if (!Number.isInteger(o.seed)) {
    throw new RangeError(`seed must be an integer, got ${o.seed}`);
  }
  const start = performance.now();
  const root = join(o.outDir, 'VOCdevkit');
  const dir = join(root, `VOC${SHAPES_YEAR}`);
  await rm(dir, { recursive: true, force: true });
  for (const sub of ['Annotations', 'JPEGImages', join('ImageSets', 'Main')]) {
    await mkdir(join(dir, sub), { recursive: true });
  }
  const stats = { objects: 0, difficult: 0, truncated: 0 };
  /** @type {Map<number, Set<string>>} */
  const classesPerImage = new Map();
  let next = 0;
  const worker = async () => {
    while (next < o.count) {
      const index = next++;
      const img = renderShapesImage(o.seed, index, o);
      const names = new Set();
      for (const obj of img.objects) {
        stats.objects++;
        if (obj.difficult) stats.difficult++;
        if (obj.truncated) stats.truncated++;
        if (!obj.difficult) names.add(obj.name);
      }
      classesPerImage.set(index, names);
      await Promise.all([
        sharp(img.image, { raw: { width: img.width, height: img.height, channels: 3 } })
          .jpeg({ quality: o.quality })
          .toFile(join(dir, 'JPEGImages', `${img.id}.jpg`)),
        writeFile(join(dir, 'Annotations', `${img.id}.xml`), shapesAnnotationXml(img)),
      ]);
      // Per-class lists mark an image 0 when the class appears only as difficult.
      for (const obj of img.objects) {
        if (obj.difficult && !names.has(obj.name)) names.add(`~${obj.name}`);
      }
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, o.concurrency) }, worker));
  const splits = shapesSplits(o.count, o.seed, o.testFraction, o.valFraction);
  const main = join(dir, 'ImageSets', 'Main');
  for (const [split, indices] of Object.entries(splits)) {
    await writeFile(
      join(main, `${split}.txt`),
      indices.map((i) => `${shapesImageId(i)}\n`).join(''),
    );
    for (const cls of SHAPES_CLASSES) {
      const lines = indices.map((i) => {
        const names = /** @type {Set<string>} */ (classesPerImage.get(i));
        const flag = names.has(cls) ? ' 1' : names.has(`~${cls}`) ? ' 0' : '-1';
        return `${shapesImageId(i)} ${flag}\n`;
      });
      await writeFile(join(main, `${cls}_${split}.txt`), lines.join(''));
    }
  }
  return {
    root,
    dir,
    year: SHAPES_YEAR,
    classes: SHAPES_CLASSES,
    images: o.count,
    ...stats,
    splits: {
      train: splits.train.length,
      val: splits.val.length,
      trainval: splits.trainval.length,
      test: splits.test.length,
    },
    sets: [
      { year: SHAPES_YEAR, split: 'trainval' },
      { year: SHAPES_YEAR, split: 'test' },
    ],
    milliseconds: performance.now() - start,
  };
}
