import type { GroundTruth, Sample } from '@ssd/geometry';

/**
 * One decoded training/evaluation sample: `@ssd/geometry`'s contract (re-exported
 * here). Boxes are `[numObjects * 4]` xyxy, ABSOLUTE, 0-based continuous pixel
 * coordinates: the object covering pixels x = 3..9 is [3, 10] (VOC's 1-based
 * inclusive corners `xmin, xmax` become `xmin − 1, xmax`); labels are 1..K in the
 * class list's order (`VOC_CLASSES`, K = 20; 0 is background, so numClasses = K + 1).
 */
export type { Sample } from '@ssd/geometry';

/** A sample's annotation without its pixels (geometry's `GroundTruth`), plus truncation. */
export interface Annotation extends GroundTruth {
  /** `[numObjects]` 1 where the object is marked truncated. */
  truncated: Uint8Array;
}

/** Anything the loader can draw samples from. */
export interface SampleSource {
  readonly size: number;
  /** The image id of sample `index` (0 ≤ index < size). */
  id(index: number): string;
  /**
   * Reads and decodes sample `index`; the arrays are the caller's. With `maxSide`,
   * an image larger than that on a side comes downscaled to fit it, its boxes scaled
   * with it (the sample's `width`/`height` are the downscaled ones).
   */
  load(index: number, options?: { maxSide?: number }): Promise<Sample>;
}

/** Kinds of recoverable annotation problems: the object is fixed or dropped and counted. */
export type DatasetWarningKind =
  /** Box partly outside the image (or a 1-based corner of 0): clipped to the image. */
  | 'box-clipped'
  /** Box entirely outside the image: object dropped. */
  | 'box-outside'
  /** xmin ≥ xmax or ymin ≥ ymax: object dropped. */
  | 'box-degenerate'
  /** A class name not in the class list, with `unknownClass: 'skip'`: object dropped. */
  | 'unknown-class';

/** A counted, recoverable problem in one annotation. */
export interface DatasetWarning {
  kind: DatasetWarningKind;
  file: string;
  field: string;
  value: string;
  message: string;
}
