/** Random crop with a minimum-IoU constraint (Caffe `batch_sampler`). */
import { boxIouPacked, clipBoxesPacked, type PackedBoxes } from '@ssd/geometry';

import { checkRange } from './errors';
import { uniform, type AugmentSample, type CropRect, type Rng, type Transform } from './types';

/** Options of {@link randomIouCrop}; defaults are ssd_pascal.py's batch samplers. */
export interface IouCropOptions {
  /**
   * One sampler per entry: a crop must reach this IoU with at least one box. `0` is
   * the unconstrained ("any") sampler. Default [0.1, 0.3, 0.5, 0.7, 0.9, 0].
   */
  minIous?: readonly number[];
  /** Trials per sampler. Default 50. */
  maxTrials?: number;
  /** Crop side as a fraction of the image: U[low, high]. Default [0.3, 1]. */
  scaleRange?: readonly [number, number];
  /** Crop aspect ratio (w/h), bounded further by the scale. Default [0.5, 2]. */
  aspectRange?: readonly [number, number];
}

function centreInside(rect: CropRect, boxes: Float32Array, k: number): boolean {
  const cx = (boxes[k]! + boxes[k + 2]!) / 2;
  const cy = (boxes[k + 1]! + boxes[k + 3]!) / 2;
  return cx > rect.x && cx < rect.x + rect.width && cy > rect.y && cy < rect.y + rect.height;
}

/**
 * Draws a crop as Caffe SSD does: every sampler tries up to `maxTrials` random
 * rectangles (side scale s ~ U[scaleRange], aspect ratio a ~ U[max(aspect low, s²),
 * min(aspect high, 1/s²)], width s·√a, height s/√a of the image, uniform position)
 * and keeps the first that reaches its min IoU with at least one box and keeps at least
 * one box centre inside; one of the kept rectangles or the whole image is then chosen
 * uniformly. (ssd.pytorch never enforces the constraint — a known bug not copied here.)
 * An image without boxes is never cropped. `undefined` means the whole image.
 * @param boxes `[numObjects * 4]` xyxy, absolute pixels of the `width × height` image.
 */
export function drawIouCrop(
  rng: Rng,
  width: number,
  height: number,
  boxes: PackedBoxes<'xyxy', 'absolute'>,
  options: IouCropOptions = {},
): CropRect | undefined {
  const {
    minIous = [0.1, 0.3, 0.5, 0.7, 0.9, 0],
    maxTrials = 50,
    scaleRange = [0.3, 1],
    aspectRange = [0.5, 2],
  } = options;
  const candidates: (CropRect | undefined)[] = [undefined];
  const corners = new Float64Array(4);
  for (const minIou of minIous) {
    for (let trial = 0; trial < maxTrials; trial++) {
      const scale = uniform(rng, scaleRange[0], scaleRange[1]);
      const aspect = uniform(
        rng,
        Math.max(aspectRange[0], scale * scale),
        Math.min(aspectRange[1], 1 / (scale * scale)),
      );
      const w = Math.max(1, Math.round(width * scale * Math.sqrt(aspect)));
      const h = Math.max(1, Math.round(height * (scale / Math.sqrt(aspect))));
      const rect: CropRect = {
        x: Math.floor(rng() * (width - Math.min(w, width) + 1)),
        y: Math.floor(rng() * (height - Math.min(h, height) + 1)),
        width: Math.min(w, width),
        height: Math.min(h, height),
      };
      corners[0] = rect.x;
      corners[1] = rect.y;
      corners[2] = rect.x + rect.width;
      corners[3] = rect.y + rect.height;
      let meets = false;
      let kept = false;
      for (let k = 0; k < boxes.length; k += 4) {
        // float64 IoU (unrounded), compared with the sampler's bound.
        if (!meets) meets = minIou <= 0 || boxIouPacked(corners, 0, boxes, k / 4, 'xyxy') >= minIou;
        if (!kept) kept = centreInside(rect, boxes, k);
        if (meets && kept) break;
      }
      if (meets && kept) {
        candidates.push(rect);
        break;
      }
    }
  }
  return candidates[Math.floor(rng() * candidates.length)];
}

/**
 * Boxes of `sample` seen through `rect`: those whose centre is inside kept (with
 * their labels and difficult flags), shifted to the rectangle and clipped to it.
 */
export function cropBoxes(
  sample: Pick<AugmentSample, 'boxes' | 'labels' | 'difficult'>,
  rect: CropRect,
): Pick<AugmentSample, 'boxes' | 'labels' | 'difficult'> {
  const keep: number[] = [];
  for (let k = 0; k < sample.labels.length; k++)
    if (centreInside(rect, sample.boxes, 4 * k)) keep.push(k);
  // Shifted in float64 (exact for float32 corners and integer offsets); 0 − x keeps
  // a −0 corner at +0, as max(−0, 0) did.
  const dx = 0 - rect.x;
  const dy = 0 - rect.y;
  const shifted = new Float64Array(keep.length * 4);
  keep.forEach((k, j) => {
    shifted[4 * j] = sample.boxes[4 * k]! + dx;
    shifted[4 * j + 1] = sample.boxes[4 * k + 1]! + dy;
    shifted[4 * j + 2] = sample.boxes[4 * k + 2]! + dx;
    shifted[4 * j + 3] = sample.boxes[4 * k + 3]! + dy;
  });
  return {
    boxes: clipBoxesPacked(shifted, 'xyxy', {
      width: rect.width,
      height: rect.height,
    }) as PackedBoxes<'xyxy', 'absolute'>,
    labels: Int32Array.from(keep, (k) => sample.labels[k]!),
    difficult: Uint8Array.from(keep, (k) => sample.difficult[k]!),
  };
}

/** The min-IoU random crop (see {@link drawIouCrop}). */
export function randomIouCrop(options: IouCropOptions = {}): Transform {
  checkRange('scaleRange', options.scaleRange ?? [0.3, 1], 0);
  checkRange('aspectRange', options.aspectRange ?? [0.5, 2], 0);
  return (sample, rng) => {
    const rect = drawIouCrop(rng, sample.width, sample.height, sample.boxes, options);
    if (!rect) return sample;
    const image = new (sample.image.constructor as Float32ArrayConstructor)(
      rect.width * rect.height * 3,
    );
    for (let y = 0; y < rect.height; y++) {
      const from = ((y + rect.y) * sample.width + rect.x) * 3;
      image.set(sample.image.subarray(from, from + rect.width * 3), y * rect.width * 3);
    }
    return { ...sample, image, width: rect.width, height: rect.height, ...cropBoxes(sample, rect) };
  };
}
