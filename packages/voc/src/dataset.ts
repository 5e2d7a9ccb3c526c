import { access, readFile } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { parseVocAnnotation } from './annotation';
import { VOC_CLASSES } from './classes';
import { checkMaxSide, decodeImage, readImageSize } from './decode';
import { AnnotationError, DatasetLayoutError, ImageError } from './errors';
import type { Annotation, DatasetWarning, Sample, SampleSource } from './types';

/** One (year, split) of a VOC devkit, e.g. `{ year: '2007', split: 'trainval' }`. */
export interface VocSet {
  /** Directory `VOC<year>` under `root`. */
  year?: string;
  /** Or the data set directory itself (the one holding `Annotations/`); overrides `year`. */
  dir?: string;
  /** `ImageSets/Main/<split>.txt`: `train`, `val`, `trainval`, `test`, … */
  split: string;
}

/** Options of {@link openVocDataset}. */
export interface VocDatasetOptions {
  /** The `VOCdevkit` directory (holding `VOC2007/`, `VOC2012/`, …). */
  root?: string;
  /** The (year, split) pairs to read, in order; the paper trains on 07+12 trainval. */
  sets: readonly VocSet[];
  /** Class list; label = index + 1. Default {@link VOC_CLASSES}. */
  classes?: readonly string[];
  /** Keep objects marked difficult (flagged). Default true (as Caffe SSD). */
  keepDifficult?: boolean;
  /** `'error'` (default) or `'skip'` (drop the object, warn) for unknown class names. */
  unknownClass?: 'error' | 'skip';
  /**
   * What an unusable image does when the data set is opened (malformed annotation,
   * missing image): `'throw'` (default) the first error, or `'skip'` the image and
   * record the error in `dataset.skipped`.
   */
  onInvalid?: 'throw' | 'skip';
  /** Receives every recoverable problem (clipped/dropped boxes) as it is found. */
  onWarning?: (warning: DatasetWarning) => void;
  /** Files read at once while opening. Default 64. */
  concurrency?: number;
}

/** An image the data set skipped at open (with `onInvalid: 'skip'`), and why. */
export interface SkippedImage {
  id: string;
  error: AnnotationError | ImageError | DatasetLayoutError;
}

interface Entry extends Annotation {
  imagePath: string;
  annotationPath: string;
}

const SAFE_ID = /^[A-Za-z0-9_][A-Za-z0-9_.-]*$/;

/** Image ids name files; anything that could leave the directory is refused. */
export function checkImageId(id: string, listFile: string): void {
  if (!SAFE_ID.test(id) || id.includes('..')) {
    throw new DatasetLayoutError(
      listFile,
      `image id ${JSON.stringify(id)} is not a plain file name`,
    );
  }
}

async function mapLimit<T, R>(
  items: readonly T[],
  limit: number,
  fn: (item: T, index: number) => Promise<R>,
): Promise<R[]> {
  const out = new Array<R>(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i]!, i);
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(limit, items.length)) }, worker));
  return out;
}

async function exists(path: string): Promise<boolean> {
  try {
    await access(path);
    return true;
  } catch {
    return false;
  }
}

/**
 * A data set in VOC layout: annotations parsed (and image files checked to exist) when
 * opened, pixels decoded on {@link VocDataset.load}. Implements {@link SampleSource}.
 */
export class VocDataset implements SampleSource {
  /** The class list; label i + 1 is `classes[i]`. */
  readonly classes: readonly string[];
  /** Recoverable annotation problems found while opening (clipped, dropped boxes). */
  readonly warnings: readonly DatasetWarning[];
  /** Images left out (with `onInvalid: 'skip'`). */
  readonly skipped: readonly SkippedImage[];
  readonly #entries: readonly Entry[];
  #byId: Map<string, number> | undefined;

  /** @internal use {@link openVocDataset}. */
  constructor(
    entries: readonly Entry[],
    classes: readonly string[],
    warnings: readonly DatasetWarning[],
    skipped: readonly SkippedImage[],
  ) {
    this.#entries = entries;
    this.classes = classes;
    this.warnings = warnings;
    this.skipped = skipped;
  }

  get size(): number {
    return this.#entries.length;
  }

  /** Warning counts by kind, e.g. `{ 'box-clipped': 3 }`. */
  get warningCounts(): Record<string, number> {
    const counts: Record<string, number> = {};
    for (const w of this.warnings) counts[w.kind] = (counts[w.kind] ?? 0) + 1;
    return counts;
  }

  #entry(index: number): Entry {
    const entry = this.#entries[index];
    if (!entry) throw new RangeError(`sample index ${index} outside [0, ${this.size})`);
    return entry;
  }

  id(index: number): string {
    return this.#entry(index).id;
  }

  /** The index of image `id`, or −1. */
  indexOf(id: string): number {
    this.#byId ??= new Map(this.#entries.map((e, i) => [e.id, i]));
    return this.#byId.get(id) ?? -1;
  }

  /** The image file of sample `index` (from the id and the layout, never the XML). */
  imagePath(index: number): string {
    return this.#entry(index).imagePath;
  }

  /** The annotation file of sample `index`. */
  annotationPath(index: number): string {
    return this.#entry(index).annotationPath;
  }

  /** Sample `index`'s annotation without decoding the image (fresh copies). */
  annotation(index: number): Annotation {
    const e = this.#entry(index);
    return {
      id: e.id,
      width: e.width,
      height: e.height,
      boxes: e.boxes.slice(),
      labels: e.labels.slice(),
      difficult: e.difficult.slice(),
      truncated: e.truncated.slice(),
    };
  }

  /**
   * Decodes sample `index`. Throws {@link ImageError}: `missing`, `corrupt`, or
   * `size-mismatch` when the decoded (EXIF-upright) size differs from the XML's.
   *
   * With `maxSide`, an image with a side longer than that is decoded downscaled
   * (aspect kept; see `decodeImage`) and its boxes are scaled to it: the sample's
   * `width`/`height` are then the downscaled ones, while {@link annotation} keeps
   * the file's.
   */
  async load(index: number, options: { maxSide?: number } = {}): Promise<Sample> {
    const e = this.#entry(index);
    const { maxSide } = options;
    checkMaxSide(maxSide);
    const shrink = maxSide !== undefined && Math.max(e.width, e.height) > maxSide;
    // Downscaled, the decoded size no longer tells the file's: read it from the header.
    const size = shrink ? await readImageSize(e.imagePath) : undefined;
    const decoded = await decodeImage(e.imagePath, undefined, shrink ? { maxSide } : {});
    const full = size ?? decoded;
    if (full.width !== e.width || full.height !== e.height) {
      throw new ImageError(
        e.imagePath,
        'size-mismatch',
        `image is ${full.width}×${full.height}, ${basename(e.annotationPath)} says ${e.width}×${e.height}`,
      );
    }
    const boxes = e.boxes.slice();
    if (shrink) {
      const sx = decoded.width / e.width;
      const sy = decoded.height / e.height;
      for (let k = 0; k < boxes.length; k += 4) {
        boxes[k] = boxes[k]! * sx;
        boxes[k + 1] = boxes[k + 1]! * sy;
        boxes[k + 2] = boxes[k + 2]! * sx;
        boxes[k + 3] = boxes[k + 3]! * sy;
      }
    }
    return {
      id: e.id,
      image: decoded.image,
      width: decoded.width,
      height: decoded.height,
      boxes,
      labels: e.labels.slice(),
      difficult: e.difficult.slice(),
    };
  }
}

/** The directory of one {@link VocSet}. */
export function vocSetDirectory(root: string | undefined, set: VocSet): string {
  if (set.dir !== undefined) return set.dir;
  if (root === undefined || set.year === undefined) {
    throw new DatasetLayoutError(
      JSON.stringify(set),
      'a set needs either `dir`, or `year` together with the `root` option',
    );
  }
  return join(root, `VOC${set.year}`);
}

/**
 * Opens one or several (year, split) sets of a VOC devkit as one data set, e.g. the
 * paper's training set:
 *
 * ```ts
 * const train = await openVocDataset({
 *   root: '/data/VOCdevkit',
 *   sets: [{ year: '2007', split: 'trainval' }, { year: '2012', split: 'trainval' }],
 * });
 * ```
 *
 * Image paths come from the ids in `ImageSets/Main/<split>.txt` and the layout
 * (`JPEGImages/<id>.jpg`), never from the XML's `<filename>`. An id appearing twice
 * throws {@link DatasetLayoutError}.
 */
export async function openVocDataset(options: VocDatasetOptions): Promise<VocDataset> {
  const {
    root,
    sets,
    classes = VOC_CLASSES,
    keepDifficult = true,
    unknownClass = 'error',
    onInvalid = 'throw',
    onWarning,
    concurrency = 64,
  } = options;
  if (sets.length === 0) throw new DatasetLayoutError(String(root), 'no sets given');
  const items: { id: string; dir: string }[] = [];
  const seen = new Set<string>();
  for (const set of sets) {
    const dir = vocSetDirectory(root, set);
    const listFile = join(dir, 'ImageSets', 'Main', `${set.split}.txt`);
    let list: string;
    try {
      list = await readFile(listFile, 'utf8');
    } catch {
      throw new DatasetLayoutError(listFile, 'image-set list not found');
    }
    for (const line of list.split(/\r?\n/)) {
      const id = line.trim().split(/\s+/)[0];
      if (!id) continue;
      checkImageId(id, listFile);
      if (seen.has(id)) throw new DatasetLayoutError(listFile, `image id ${id} listed twice`);
      seen.add(id);
      items.push({ id, dir });
    }
  }
  const warnings: DatasetWarning[] = [];
  const skipped: SkippedImage[] = [];
  const results = await mapLimit(
    items,
    concurrency,
    async ({
      id,
      dir,
    }): Promise<{ entry: Entry; local: DatasetWarning[] } | { skip: SkippedImage }> => {
      const annotationPath = join(dir, 'Annotations', `${id}.xml`);
      const imagePath = join(dir, 'JPEGImages', `${id}.jpg`);
      const local: DatasetWarning[] = [];
      try {
        let xml: string;
        try {
          xml = await readFile(annotationPath, 'utf8');
        } catch {
          throw new AnnotationError(annotationPath, 'file', undefined, 'annotation file not found');
        }
        const parsed = parseVocAnnotation(xml, {
          file: annotationPath,
          classes,
          keepDifficult,
          unknownClass,
          onWarning: (w) => local.push(w),
        });
        if (!(await exists(imagePath)))
          throw new ImageError(imagePath, 'missing', 'file not found');
        const { filename: _filename, ...annotation } = parsed;
        return { entry: { id, ...annotation, imagePath, annotationPath } satisfies Entry, local };
      } catch (error) {
        if (
          onInvalid === 'skip' &&
          (error instanceof AnnotationError || error instanceof ImageError)
        ) {
          return { skip: { id, error } satisfies SkippedImage };
        }
        throw error;
      }
    },
  );
  // Collected in list order, whatever order the reads finished in.
  const kept: Entry[] = [];
  for (const result of results) {
    if ('skip' in result) {
      skipped.push(result.skip);
      continue;
    }
    kept.push(result.entry);
    warnings.push(...result.local);
    for (const w of result.local) onWarning?.(w);
  }
  return new VocDataset(kept, Object.freeze([...classes]), warnings, skipped);
}
