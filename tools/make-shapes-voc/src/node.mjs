// @ts-check
// Node part of the shapes generator: writes the data set as JPEG files (sharp) in
// exact Pascal VOC layout, on worker threads. The images themselves come from the
// browser-safe main entry; each one is a pure function of (seed, index), rendered and
// encoded on its own, so the files do not depend on the number of workers.
import { mkdir, rm, writeFile } from 'node:fs/promises';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { Worker } from 'node:worker_threads';
import {
  SHAPES_CLASSES,
  SHAPES_DEFAULTS,
  SHAPES_YEAR,
  shapesImageId,
  shapesSplits,
} from './index.mjs';
import { writeShapesImage } from './write-image.mjs';

/**
 * @typedef {{ outDir: string, count?: number, seed?: number, testFraction?: number,
 *   valFraction?: number, quality?: number, workers?: number, concurrency?: number, minSide?: number,
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
  const o = { ...SHAPES_DEFAULTS, workers: availableParallelism(), concurrency: 2, ...options };
  if (!(Number.isInteger(o.count) && o.count > 0)) {
    throw new RangeError(`count must be a positive integer, got ${o.count}`);
  }
  if (!Number.isInteger(o.seed)) {
    throw new RangeError(`seed must be an integer, got ${o.seed}`);
  }
  for (const key of /** @type {const} */ (['workers', 'concurrency'])) {
    const min = key === 'workers' ? 0 : 1;
    if (!(Number.isInteger(o[key]) && o[key] >= min)) {
      throw new RangeError(`${key} must be an integer ≥ ${min}, got ${o[key]}`);
    }
  }
  const start = performance.now();
  const root = join(o.outDir, 'VOCdevkit');
  const dir = join(root, `VOC${SHAPES_YEAR}`);
  await rm(dir, { recursive: true, force: true });
  for (const sub of ['Annotations', 'JPEGImages', join('ImageSets', 'Main')]) {
    await mkdir(join(dir, sub), { recursive: true });
  }
  const stats = { objects: 0, difficult: 0, truncated: 0 };
  /**
   * Per image, the classes it holds: `name` when some object of it is not
   * difficult, `~name` when it appears only as difficult (its per-class line is 0).
   * @type {Map<number, Set<string>>}
   */
  const classesPerImage = new Map();
  /** @param {number} index @param {ShapesImageSummary} summary */
  const collect = (index, summary) => {
    const names = new Set();
    for (const obj of summary.objects) {
      stats.objects++;
      if (obj.difficult) stats.difficult++;
      if (obj.truncated) stats.truncated++;
      if (!obj.difficult) names.add(obj.name);
    }
    for (const obj of summary.objects) {
      if (obj.difficult && !names.has(obj.name)) names.add(`~${obj.name}`);
    }
    classesPerImage.set(index, names);
  };
  /** @type {WriteJob} */
  const job = { dir, seed: o.seed, quality: o.quality, render: renderOptions(o) };
  if (o.workers === 0) {
    let next = 0;
    const lane = async () => {
      while (next < o.count) {
        const index = next++;
        collect(index, await writeShapesImage(job, index));
      }
    };
    await Promise.all(Array.from({ length: o.concurrency }, lane));
  } else {
    await onWorkers(job, o.count, Math.min(o.workers, o.count), o.concurrency, collect);
  }
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

/**
 * @typedef {import('./write-image.mjs').WriteJob} WriteJob
 * @typedef {import('./write-image.mjs').ShapesImageSummary} ShapesImageSummary
 */

/**
 * The image options of `o` only (what a worker needs to render).
 * @param {import('./index.mjs').ShapesImageOptions} o
 */
function renderOptions(o) {
  const { minSide, maxSide, width, height, maxObjects, difficultProbability } = o;
  return { minSide, maxSide, width, height, maxObjects, difficultProbability };
}

/**
 * Writes images `0..count-1` on `workers` worker threads, each kept busy with up to
 * `concurrency` images (one renders while the previous encodes). Any failure stops
 * every worker and rejects.
 * @param {WriteJob} job @param {number} count @param {number} workers
 * @param {number} concurrency
 * @param {(index: number, summary: ShapesImageSummary) => void} collect
 * @returns {Promise<void>}
 */
function onWorkers(job, count, workers, concurrency, collect) {
  const url = new URL('./worker.mjs', import.meta.url);
  /** @type {Worker[]} */
  const pool = [];
  return new Promise((resolve, reject) => {
    let next = 0;
    let done = 0;
    let failed = false;
    /** @param {unknown} error */
    const fail = (error) => {
      if (failed) return;
      failed = true;
      for (const w of pool) void w.terminate();
      reject(error);
    };
    /** @param {Worker} w */
    const feed = (w) => {
      if (next < count) w.postMessage(next++);
    };
    for (let k = 0; k < workers; k++) {
      const w = new Worker(url, { workerData: job });
      pool.push(w);
      w.on(
        'message',
        /** @param {{ index: number, summary?: ShapesImageSummary, error?: string }} m */ (m) => {
          if (failed) return;
          if (m.error !== undefined || !m.summary) {
            fail(new Error(`make-shapes-voc: image ${shapesImageId(m.index)}: ${m.error}`));
            return;
          }
          collect(m.index, m.summary);
          if (++done === count) {
            Promise.all(pool.map((p) => p.terminate())).then(() => resolve(), fail);
          } else {
            feed(w);
          }
        },
      );
      w.on('error', fail);
      w.on('exit', (code) => {
        if (done < count && !failed)
          fail(new Error(`make-shapes-voc: a worker exited (code ${code})`));
      });
      for (let c = 0; c < concurrency; c++) feed(w);
    }
  });
}
