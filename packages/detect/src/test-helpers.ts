/** Fixtures shared by this package's tests (not exported from the package). */
import { SSD300_VOC } from '@ssd/anchors';
import { testRng } from '@ssd/testing';
import { createSsdVgg16 } from '@ssd/vgg-ssd';
import type { RgbImage } from './index';

/** A narrow SSD300 (64 px input, width 1/16, 2 object classes): fast and deterministic. */
export function tinyModel(seed: number): ReturnType<typeof createSsdVgg16> {
  return createSsdVgg16({
    numClasses: 3,
    preset: SSD300_VOC,
    inputSize: 64,
    widthMultiplier: 1 / 16,
    seed,
  });
}

/** Random RGB pixels from `seed`. */
export function randomRgb(width: number, height: number, seed: number): RgbImage {
  const rng = testRng(seed);
  return {
    width,
    height,
    data: Uint8Array.from({ length: width * height * 3 }, () => Math.floor(rng() * 256)),
  };
}
