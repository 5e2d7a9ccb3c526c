/**
 * The data contracts every package keeps (see the architecture notes): what a
 * sample, a detection and a class count are. Types only: nothing here exists at
 * run time.
 */
import type { BoxFormat } from './format';

/** Whether box coordinates are pixels of an image or fractions (0..1) of its size. */
export type BoxSpace = 'absolute' | 'relative';

declare const boxFormatTag: unique symbol;
declare const boxSpaceTag: unique symbol;

/**
 * Packed boxes: `[N * 4]`, four numbers per box, in format `F` and space `S`.
 *
 * The format and space live in the type only (phantom, optional properties), so
 * any `Float32Array` can be passed where boxes are expected, while boxes declared
 * `PackedBoxes<'cxcywh', 'relative'>` cannot be passed where
 * `PackedBoxes<'xyxy', 'absolute'>` is required.
 */
export type PackedBoxes<
  F extends BoxFormat = BoxFormat,
  S extends BoxSpace = BoxSpace,
> = Float32Array & {
  readonly [boxFormatTag]?: F;
  readonly [boxSpaceTag]?: S;
};

/**
 * The number of classes a detector predicts: the K object classes **plus
 * background** (label 0), K + 1 — 21 for Pascal VOC. Every `numClasses` in this
 * project means this; a data set's K names are its class list, `classNames`.
 */
export type NumClasses = number;

/** RGB pixels, row-major, `[height * width * 3]`, 0..255. */
export type RgbPixels = Uint8Array | Float32Array;

/**
 * One training or evaluation sample — what `@ssd/voc` reads, `@ssd/augment`
 * transforms and `@ssd/loader` batches.
 *
 * - `Sample` (`S = 'absolute'`): boxes in 0-based continuous pixel edges of this
 *   image (VOC's 1-based inclusive `xmin..xmax` becomes `[xmin − 1, xmax]`).
 * - `Sample<'relative'>`: at the model input, boxes as fractions of its size.
 */
export interface Sample<S extends BoxSpace = 'absolute', P extends RgbPixels = Uint8Array> {
  /** The image id (VOC: the file name without extension, e.g. `000005`). */
  id: string;
  /** RGB `[height * width * 3]`, 0..255. */
  image: P;
  width: number;
  height: number;
  /** `[numObjects * 4]` xyxy. */
  boxes: PackedBoxes<'xyxy', S>;
  /** `[numObjects]` 1..K in the data set's class-list order (0 is background). */
  labels: Int32Array;
  /** `[numObjects]` 1 where the object is marked difficult. */
  difficult: Uint8Array;
}

/** A sample at the model input: boxes relative. What augmentation pipelines return. */
export type TrainingSample<P extends RgbPixels = Uint8Array> = Sample<'relative', P>;

/** The ground truth of one image, without its pixels: what evaluation needs. */
export type GroundTruth = Omit<Sample, 'image'>;

/** An axis-aligned box as named corners (xyxy). */
export interface BoxCorners {
  xMin: number;
  yMin: number;
  xMax: number;
  yMax: number;
}

/** One detection, in pixels of the original image (as tfjs-models return them). */
export interface Detection {
  box: BoxCorners;
  /** 1..K (0 is background and never reported). */
  classId: number;
  /** `classNames[classId − 1]` when class names are known. */
  label?: string;
  /** The class's softmax probability. */
  score: number;
}
