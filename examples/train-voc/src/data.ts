import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import {
  SHAPES_CLASSES,
  SHAPES_GENERATOR_VERSION,
  SHAPES_YEAR,
  makeShapesVoc,
} from '@ssd/make-shapes-voc';
import { VOC_CLASSES } from '@ssd/voc';
import { openVocDataset, type VocDataset } from '@ssd/voc/node';
import { parseSplit } from './config';

/** Where `npm start` keeps the generated data set (relative to the working directory). */
export const SHAPES_DIR = path.join('data', 'shapes-voc');

/**
 * What the shapes set is generated with; a change regenerates it. 3600 trainval
 * images: with 800 the demo recipe overfits (90.5 mAP on its training images,
 * 77.9 on test; examples/train-voc/README.md). 400 test images.
 */
const SHAPES_OPTIONS = { count: 4000, seed: 1, testFraction: 0.1 } as const;

/**
 * Generates the shapes data set once: a `.complete` marker holding the generator
 * version and the options is written last, so an interrupted generation is redone,
 * not half-used, and a set made by an older generator is made again.
 */
export async function ensureShapesDataset(
  dir: string,
  log: (message: string) => void,
): Promise<{ root: string; generatedSeconds: number }> {
  const marker = path.join(dir, '.complete');
  const wanted = JSON.stringify({ generator: SHAPES_GENERATOR_VERSION, ...SHAPES_OPTIONS });
  const root = path.join(dir, 'VOCdevkit');
  const existing = await fs.readFile(marker, 'utf8').catch(() => null);
  if (existing === wanted) return { root, generatedSeconds: 0 };
  log(`Generating the shapes data set (${SHAPES_OPTIONS.count} images) in ${dir} …`);
  const t0 = performance.now();
  await fs.rm(marker, { force: true });
  const result = await makeShapesVoc({ outDir: dir, ...SHAPES_OPTIONS });
  await fs.writeFile(marker, wanted);
  const seconds = (performance.now() - t0) / 1000;
  log(
    `  ${result.images} images, ${result.objects} objects (${result.difficult} difficult, ` +
      `${result.truncated} truncated) in ${seconds.toFixed(1)} s`,
  );
  return { root, generatedSeconds: seconds };
}

export interface DataSpec {
  /** VOCdevkit root, or `null` for the generated shapes set. */
  readonly data: string | null;
  readonly splits: readonly string[];
}

export function classesFor(config: {
  preset: string;
  classes: readonly string[] | null;
}): readonly string[] {
  return config.classes ?? (config.preset === 'shapes' ? SHAPES_CLASSES : VOC_CLASSES);
}

/** Opens `(year, split)` pairs of a VOCdevkit (the shapes set's year is `shapes`). */
export async function openSplits(
  root: string,
  splits: readonly string[],
  classes: readonly string[],
  log: (message: string) => void,
): Promise<VocDataset> {
  const sets = splits.map((s) => parseSplit(s));
  const dataset = await openVocDataset({ root, sets, classes, keepDifficult: true });
  const warnings = Object.entries(dataset.warningCounts);
  if (warnings.length > 0) {
    log(
      `  ${splits.join('+')}: ${warnings.map(([k, n]) => `${n} ${k}`).join(', ')} (fixed or dropped)`,
    );
  }
  if (dataset.size === 0) {
    throw new Error(`${root}: the splits ${splits.join(', ')} hold no images`);
  }
  return dataset;
}

export { SHAPES_YEAR };
