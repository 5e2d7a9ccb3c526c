import type { RgbPixels, Sample } from '@ssd/geometry';
import type { RandomSource } from '@ssd/random';

/** A uniform [0, 1) random source, seeded by the caller (`createRng` of `@ssd/random`). */
export type Rng = RandomSource;

/**
 * What the transforms work on: `@ssd/geometry`'s `Sample` with 8-bit or float
 * pixels — RGB `[height * width * 3]` 0..255, boxes `[numObjects * 4]` xyxy
 * ABSOLUTE pixels of the current image (0-based continuous edges), labels 1..K and
 * difficult flags carried with their boxes.
 */
export type AugmentSample = Sample<'absolute', RgbPixels>;

/** One step of a pipeline: a new sample (its input is never modified). */
export type Transform = (sample: AugmentSample, rng: Rng) => AugmentSample;

/** An RGB image: `[height * width * 3]`, row-major. */
export type RgbImage = Pick<AugmentSample, 'image' | 'width' | 'height'>;

/** An integer rectangle, pixels. */
export interface CropRect {
  x: number;
  y: number;
  width: number;
  height: number;
}

/** U[lo, hi) from one draw. */
export const uniform = (rng: Rng, lo: number, hi: number): number => lo + (hi - lo) * rng();

/** Runs transforms in order with one RNG. */
export function compose(...transforms: Transform[]): Transform {
  return (sample, rng) => transforms.reduce((s, t) => t(s, rng), sample);
}
