import { basename } from 'node:path';
import type { VocDataset, VocDatasetOptions } from './dataset';
import { openVocDataset } from './dataset';
import { ImageError } from './errors';
import type { LabelTxtDatasetOptions } from './labeltxt-dataset';
import { openLabelTxtDataset } from './labeltxt-dataset';

/** One problem found by {@link validateVocDataset}. */
export interface DatasetProblem {
  /** `error`: the image is unusable; `warning`: an object was clipped or dropped. */
  severity: 'error' | 'warning';
  /** The error class (`AnnotationError`, `ImageError`, `DatasetLayoutError`) or warning kind. */
  kind: string;
  id: string;
  file: string;
  /** The field at fault, where there is one (`object[1].bndbox.xmin`). */
  field?: string;
  message: string;
}

/** What {@link validateDataset} found. */
export interface ValidationReport {
  /** Images checked (annotations read, and decoded when `decode`). */
  images: number;
  /** Usable objects over all usable images. */
  objects: number;
  problems: DatasetProblem[];
  /** Problem counts by kind. */
  counts: Record<string, number>;
}

/**
 * Reports every problem of an opened data set at once: the images it skipped when
 * opened (open it with `onInvalid: 'skip'`), its warnings, and — with `decode` (default
 * true) — every image that is corrupt, missing or disagrees with its annotation's size.
 */
export async function validateDataset(
  dataset: VocDataset,
  options: { decode?: boolean; concurrency?: number } = {},
): Promise<ValidationReport> {
  const { decode = true, concurrency = 2 } = options;
  const problems: DatasetProblem[] = [];
  for (const { id, error } of dataset.skipped) {
    const file = 'file' in error ? error.file : error.path;
    problems.push({
      severity: 'error',
      kind: error.name,
      id,
      file,
      ...('field' in error ? { field: error.field } : {}),
      message: error.message,
    });
  }
  for (const w of dataset.warnings) {
    problems.push({
      severity: 'warning',
      kind: w.kind,
      id: basename(w.file).replace(/\.[^.]*$/, ''),
      file: w.file,
      field: w.field,
      message: w.message,
    });
  }
  let objects = 0;
  const imageProblems: (DatasetProblem | undefined)[] = new Array(dataset.size);
  if (decode) {
    let next = 0;
    const worker = async () => {
      while (next < dataset.size) {
        const i = next++;
        try {
          await dataset.load(i);
        } catch (error) {
          if (!(error instanceof ImageError)) throw error;
          imageProblems[i] = {
            severity: 'error',
            kind: `${error.name}:${error.problem}`,
            id: dataset.id(i),
            file: error.file,
            message: error.message,
          };
        }
      }
    };
    await Promise.all(Array.from({ length: Math.max(1, concurrency) }, worker));
  }
  for (let i = 0; i < dataset.size; i++) {
    const p = imageProblems[i];
    if (p) problems.push(p);
    else objects += dataset.annotation(i).labels.length;
  }
  const counts: Record<string, number> = {};
  for (const p of problems) counts[p.kind] = (counts[p.kind] ?? 0) + 1;
  return { images: dataset.size + dataset.skipped.length, objects, problems, counts };
}

/** Opens a VOC data set leniently and {@link validateDataset}s it. */
export async function validateVocDataset(
  options: VocDatasetOptions & { decode?: boolean },
): Promise<ValidationReport> {
  return openLeniently(openVocDataset, options);
}

/** Opens a label-txt data set leniently and {@link validateDataset}s it. */
export async function validateLabelTxtDataset(
  options: LabelTxtDatasetOptions & { decode?: boolean },
): Promise<ValidationReport> {
  return openLeniently(openLabelTxtDataset, options);
}

/** Opens with `onInvalid: 'skip'` (problems are reported, not thrown), then validates. */
async function openLeniently<O>(
  open: (options: O & { onInvalid: 'skip' }) => Promise<VocDataset>,
  options: O & { decode?: boolean },
): Promise<ValidationReport> {
  const { decode, ...rest } = options;
  const dataset = await open({ ...(rest as O), onInvalid: 'skip' });
  return validateDataset(dataset, decode === undefined ? {} : { decode });
}
