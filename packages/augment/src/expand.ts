/** Zoom out (Caffe `ExpandImage`): the image on a larger canvas filled with the mean. */
import type { PackedBoxes } from '@ssd/geometry';

import { AugmentOptionError, checkProbability } from './errors';
import { uniform, type Rng, type Transform } from './types';

/** The VOC training-set mean colour (RGB), the fill of zoom-out as in Caffe SSD. */
export const VOC_MEAN_RGB: readonly [number, number, number] = Object.freeze([
  123, 117, 104,
]) as never;

/** Options of {@link expand}. */
export interface ExpandOptions {
  /** Default 0.5. */
  probability?: number;
  /** The canvas is U[1, maxRatio] times the image on each side. Default 4. */
  maxRatio?: number;
  /** Fill colour. Default {@link VOC_MEAN_RGB}. */
  mean?: readonly [number, number, number];
}

/** A drawn zoom-out: canvas size and the image's integer offset on it. */
export interface ExpandParams {
  width: number;
  height: number;
  left: number;
  top: number;
}

export function drawExpand(
  rng: Rng,
  width: number,
  height: number,
  options: ExpandOptions = {},
): ExpandParams | undefined {
  const { probability = 0.5, maxRatio = 4 } = options;
  if (!(rng() < probability)) return undefined;
  const ratio = uniform(rng, 1, maxRatio);
  const w = Math.floor(width * ratio);
  const h = Math.floor(height * ratio);
  const left = Math.floor(rng() * (w - width + 1));
  const top = Math.floor(rng() * (h - height + 1));
  return { width: w, height: h, left, top };
}

/**
 * Boxes moved by `(dx, dy)` pixels: `[numObjects * 4]` xyxy absolute in, a new
 * array out.
 */
export function translateBoxes(
  boxes: PackedBoxes<'xyxy', 'absolute'>,
  dx: number,
  dy: number,
): PackedBoxes<'xyxy', 'absolute'> {
  const out = boxes.slice();
  for (let k = 0; k < out.length; k += 4) {
    out[k] = out[k]! + dx;
    out[k + 1] = out[k + 1]! + dy;
    out[k + 2] = out[k + 2]! + dx;
    out[k + 3] = out[k + 3]! + dy;
  }
  return out;
}

/** Zoom out: the image on a canvas up to `maxRatio`× larger, filled with the mean. */
export function expand(options: ExpandOptions = {}): Transform {
  checkProbability('probability', options.probability ?? 0.5);
  if (!((options.maxRatio ?? 4) >= 1)) {
    throw new AugmentOptionError(`maxRatio must be ≥ 1, got ${options.maxRatio}`);
  }
  const mean = options.mean ?? VOC_MEAN_RGB;
  return (sample, rng) => {
    const e = drawExpand(rng, sample.width, sample.height, options);
    if (!e) return sample;
    const image = new Float32Array(e.width * e.height * 3);
    for (let i = 0; i < image.length; i += 3) {
      image[i] = mean[0];
      image[i + 1] = mean[1];
      image[i + 2] = mean[2];
    }
    const row = sample.width * 3;
    for (let y = 0; y < sample.height; y++) {
      image.set(
        sample.image.subarray(y * row, (y + 1) * row),
        ((y + e.top) * e.width + e.left) * 3,
      );
    }
    const boxes = translateBoxes(sample.boxes, e.left, e.top);
    return { ...sample, image, width: e.width, height: e.height, boxes };
  };
}
