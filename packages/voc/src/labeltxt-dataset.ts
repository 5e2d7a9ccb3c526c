import { readFile, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { readImageSize } from './decode';
import { AnnotationError, DatasetLayoutError, ImageError } from './errors';
import { VocDataset, checkImageId } from './dataset';
import type { SkippedImage } from './dataset';
import { parseLabelTxt } from './labeltxt';
import type { DatasetWarning } from './types';

/** Options of {@link openLabelTxtDataset}. */
export interface LabelTxtDatasetOptions {
  /** The directory holding `<id>.txt` label files next to `<id>.png` images. */
  dir: string;
  /** Class list; label = index + 1. Names in the files are looked up here. */
  classes: readonly string[];
  /** Image extension. Default `.png`. */
  imageExtension?: string;
  /** As in {@link VocDatasetOptions}. */
  unknownClass?: 'error' | 'skip';
  onInvalid?: 'throw' | 'skip';
  onWarning?: (warning: DatasetWarning) => void;
}

/**
 * Opens the simple layout (one directory of `<id>.png` images, each with an `<id>.txt`
 * label file; see {@link parseLabelTxt}) as a data set. Image sizes are read from the
 * image headers when opened; nothing is marked difficult or truncated.
 */
export async function openLabelTxtDataset(options: LabelTxtDatasetOptions): Promise<VocDataset> {
  const {
    dir,
    classes,
    imageExtension = '.png',
    unknownClass,
    onInvalid = 'throw',
    onWarning,
  } = options;
  let names: string[];
  try {
    names = await readdir(dir);
  } catch {
    throw new DatasetLayoutError(dir, 'directory not found');
  }
  const ids = names
    .filter((n) => n.endsWith('.txt'))
    .map((n) => n.slice(0, -4))
    .sort();
  const entries = [];
  const warnings: DatasetWarning[] = [];
  const skipped: SkippedImage[] = [];
  for (const id of ids) {
    checkImageId(id, dir);
    const annotationPath = join(dir, `${id}.txt`);
    const imagePath = join(dir, `${id}${imageExtension}`);
    try {
      const { width, height } = await readImageSize(imagePath);
      const local: DatasetWarning[] = [];
      const parsed = parseLabelTxt(await readFile(annotationPath, 'utf8'), {
        file: annotationPath,
        classes,
        width,
        height,
        ...(unknownClass ? { unknownClass } : {}),
        onWarning: (w) => local.push(w),
      });
      warnings.push(...local);
      for (const w of local) onWarning?.(w);
      const n = parsed.labels.length;
      entries.push({
        id,
        width,
        height,
        ...parsed,
        difficult: new Uint8Array(n),
        truncated: new Uint8Array(n),
        imagePath,
        annotationPath,
      });
    } catch (error) {
      if (
        onInvalid === 'skip' &&
        (error instanceof AnnotationError || error instanceof ImageError)
      ) {
        skipped.push({ id, error });
        continue;
      }
      throw error;
    }
  }
  return new VocDataset(entries, Object.freeze([...classes]), warnings, skipped);
}
