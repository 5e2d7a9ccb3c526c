/**
 * One decoded training/evaluation sample — the contract between `@ssd/voc`,
 * `@ssd/augment` and `@ssd/loader`.
 */
export interface Sample {
  /** The image id (VOC: the file name without extension, e.g. `000005`). */
  id: string;
  /** RGB, row-major, `[height * width * 3]`, 0..255. */
  image: Uint8Array;
  width: number;
  height: number;
  /**
   * `[numObjects * 4]` xyxy, ABSOLUTE, 0-based continuous pixel coordinates: the
   * object covering pixels x = 3..9 is [3, 10]. (VOC's 1-based inclusive corners
   * `xmin, xmax` become `xmin − 1, xmax`.)
   */
  boxes: Float32Array;
  /** `[numObjects]` 1..C in the data set's class-list order (0 is background). */
  labels: Int32Array;
  /** `[numObjects]` 1 where the object is marked difficult. */
  difficult: Uint8Array;
}

/** A sample's annotation without its pixels (what evaluation needs). */
export interface Annotation {
  id: string;
  width: number;
  height: number;
  /** As {@link Sample.boxes}. */
  boxes: Float32Array;
  labels: Int32Array;
  difficult: Uint8Array;
  /** `[numObjects]` 1 where the object is marked truncated. */
  truncated: Uint8Array;
}

/** Anything the loader can draw samples from. */
export interface SampleSource {
  readonly size: number;
  /** The image id of sample `index` (0 ≤ index < size). */
  id(index: number): string;
  /** Reads and decodes sample `index`; the arrays are the caller's. */
  load(index: number): Promise<Sample>;
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
