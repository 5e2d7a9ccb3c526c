import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import { SHAPES_CLASSES, SHAPES_GENERATOR_VERSION, SHAPES_YEAR } from '@ssd/make-shapes-voc';
import { makeShapesVoc } from '@ssd/make-shapes-voc/node';
import { DatasetLayoutError, VOC_CLASSES } from '@ssd/voc';
import { openVocDataset, type VocDataset, type VocSet } from '@ssd/voc/node';
import { isVocFolder, parseSplit, type ImageCache } from './config';
import { UsageError } from './flags';

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

/**
 * The `VocSet`s of `splits` in `root`: by name in one VOC folder (`root/Annotations`),
 * as `<year>-<split>` in a VOCdevkit (`root/VOC<year>`).
 */
export function vocSets(root: string, splits: readonly string[]): VocSet[] {
  if (isVocFolder(root)) return splits.map((split) => ({ dir: root, split }));
  return splits.map((s) => parseSplit(s));
}

/** `--data` exists and is a folder (checked before any work). */
export async function checkDataFolder(root: string, flag = '--data'): Promise<void> {
  const stat = await fs.stat(root).catch(() => null);
  if (stat === null) throw new UsageError(`${flag} ${root}: no such folder`);
  if (!stat.isDirectory()) {
    throw new UsageError(
      `${flag} ${root}: not a folder (expected a VOCdevkit or a folder holding Annotations/, JPEGImages/, ImageSets/Main/)`,
    );
  }
}

/**
 * `--classes auto`: the class names of the objects annotated in `splits`, sorted
 * (label i+1 = the i-th). Reads every annotation once with `@ssd/voc`'s reader.
 */
export async function readClassNames(root: string, splits: readonly string[]): Promise<string[]> {
  const scan = await openVocDataset({
    root,
    sets: vocSets(root, splits),
    classes: [],
    unknownClass: 'skip',
  });
  const names = new Set(
    scan.warnings.filter((w) => w.kind === 'unknown-class').map((w) => w.value),
  );
  if (names.size === 0) {
    throw new DatasetLayoutError(root, `--classes auto: no object in ${splits.join(', ')}`);
  }
  return [...names].sort();
}

/**
 * Opens splits of a VOCdevkit (`<year>-<split>`; the shapes set's year is `shapes`)
 * or of one VOC folder (by name).
 */
export async function openSplits(
  root: string,
  splits: readonly string[],
  classes: readonly string[],
  log: (message: string) => void,
  unknownClass: 'error' | 'skip' = 'error',
): Promise<VocDataset> {
  const sets = vocSets(root, splits);
  const dataset = await openVocDataset({ root, sets, classes, keepDifficult: true, unknownClass });
  const warnings = Object.entries(dataset.warningCounts);
  if (warnings.length > 0) {
    log(
      `  ${splits.join('+')}: ${warnings.map(([k, n]) => `${n} ${k}`).join(', ')} (fixed or dropped)`,
    );
  }
  if (dataset.size === 0) {
    throw new DatasetLayoutError(
      root,
      `the split${splits.length > 1 ? 's' : ''} ${splits.join(', ')} hold${splits.length > 1 ? '' : 's'} no images`,
    );
  }
  return dataset;
}

export { SHAPES_YEAR };

/** `--cache auto` keeps the decoded training images when they take at most this (512 MiB). */
export const AUTO_CACHE_BYTES = 512 * 2 ** 20;

/**
 * The loader's cache options for `--cache`, and a line that says what they cost. The
 * decoded size comes from the annotations (`width × height × 3` bytes an image), so
 * nothing is decoded to decide. `auto`, `full` and `off` train on the same pixels;
 * a number downscales the cached images (other pixels).
 */
export function imageCachePlan(
  trainSet: { readonly size: number; annotation(index: number): { width: number; height: number } },
  cache: ImageCache,
): { cache: boolean; cacheMaxSide?: number; note: string } {
  let full = 0;
  let bounded = 0;
  const maxSide = typeof cache === 'number' ? cache : Infinity;
  for (let i = 0; i < trainSet.size; i++) {
    const { width, height } = trainSet.annotation(i);
    full += width * height * 3;
    const s = Math.min(1, maxSide / Math.max(width, height));
    bounded += Math.round(width * s) * Math.round(height * s) * 3;
  }
  const mib = (bytes: number): string => `${Math.round(bytes / 2 ** 20)} MiB`;
  if (typeof cache === 'number') {
    return {
      cache: true,
      cacheMaxSide: cache,
      note: `Image cache: downscaled to ≤ ${cache} px a side, ~${mib(bounded)} (full size: ${mib(full)}).`,
    };
  }
  const keep = cache === 'full' || (cache === 'auto' && full <= AUTO_CACHE_BYTES);
  const how =
    cache === 'auto' ? ` (--cache auto: ${keep ? '≤' : '>'} ${mib(AUTO_CACHE_BYTES)})` : '';
  return keep
    ? { cache: true, note: `Image cache: full size, ~${mib(full)}${how}.` }
    : {
        cache: false,
        note: `Image cache: off, images decoded at every use${how}; full size would take ${mib(full)}.`,
      };
}
