/**
 * The SSD pipelines: training (every augmentation fused into one resampling pass)
 * and evaluation (resize only), from a `Sample` with absolute boxes to a
 * `TrainingSample` at the model input with relative boxes.
 */
import { toRelativePacked, type PackedBoxes, type TrainingSample } from '@ssd/geometry';

import { AugmentOptionError, checkProbability } from './errors';
import { drawExpand, translateBoxes, VOC_MEAN_RGB, type ExpandOptions } from './expand';
import { cropBoxes, drawIouCrop, type IouCropOptions } from './iou-crop';
import { drawPhotometric, photometricInPlace, type PhotometricOptions } from './photometric';
import { resample } from './resample';
import type { AugmentSample, Rng } from './types';

/** Options of {@link ssdTrainAugmentation}. */
export interface SsdAugmentationOptions {
  /** Model input size: a square side or `{ width, height }`. */
  size: number | { width: number; height: number };
  /** Photometric distortion options, or `false` to skip it. */
  photometric?: PhotometricOptions | false;
  /** Zoom-out options, or `false` to skip it. */
  expand?: ExpandOptions | false;
  /** Min-IoU crop options, or `false` to skip it. */
  crop?: IouCropOptions | false;
  /** Default 0.5. */
  horizontalFlipProbability?: number;
  /** Default 0 (the seed blog used 0.2). */
  verticalFlipProbability?: number;
}

function outputSize(size: SsdAugmentationOptions['size']): { width: number; height: number } {
  const s = typeof size === 'number' ? { width: size, height: size } : size;
  if (!(Number.isInteger(s?.width) && s.width > 0 && Number.isInteger(s.height) && s.height > 0)) {
    throw new AugmentOptionError(
      `size must be a positive integer or { width, height }, got ${JSON.stringify(size)}`,
    );
  }
  return s;
}

/**
 * The SSD training augmentation with the original Caffe semantics, in Caffe's order:
 * photometric distortion → zoom out (p 0.5, ×U[1, 4], mean fill) → min-IoU random crop
 * → horizontal flip (p 0.5) → optional vertical flip → resize to `size`. Returns boxes
 * relative to the output.
 *
 * It draws exactly what `compose(photometricDistort(), expand(), randomIouCrop(),
 * horizontalFlip(), verticalFlip({ probability: 0 }), resize(size))` draws from the same
 * RNG, with the same boxes, but never materialises the zoomed-out canvas or the crop:
 * one bilinear pass maps the output pixels back to the source, so a 4× zoom-out costs
 * no more than any other sample. The photometric distortion is applied to the output
 * pixels (not the zoom-out fill) rather than the source's: the same per-pixel
 * operations, interpolated before instead of after. Without it the image equals the
 * composed one within rounding.
 */
export function ssdTrainAugmentation(
  options: SsdAugmentationOptions,
): (sample: AugmentSample, rng: Rng) => TrainingSample {
  const out = outputSize(options.size);
  const { horizontalFlipProbability = 0.5, verticalFlipProbability = 0 } = options;
  checkProbability('horizontalFlipProbability', horizontalFlipProbability);
  checkProbability('verticalFlipProbability', verticalFlipProbability);
  const photometric = options.photometric === false ? undefined : (options.photometric ?? {});
  const expandOptions = options.expand === false ? undefined : (options.expand ?? {});
  const cropOptions = options.crop === false ? undefined : (options.crop ?? {});
  const mean = expandOptions?.mean ?? VOC_MEAN_RGB;
  return (sample, rng) => {
    const params = photometric ? drawPhotometric(rng, photometric) : undefined;
    const zoom = expandOptions
      ? drawExpand(rng, sample.width, sample.height, expandOptions)
      : undefined;
    const canvasWidth = zoom?.width ?? sample.width;
    const canvasHeight = zoom?.height ?? sample.height;
    const boxes = zoom ? translateBoxes(sample.boxes, zoom.left, zoom.top) : sample.boxes;
    const rect = (cropOptions &&
      drawIouCrop(rng, canvasWidth, canvasHeight, boxes, cropOptions)) || {
      x: 0,
      y: 0,
      width: canvasWidth,
      height: canvasHeight,
    };
    const kept = cropBoxes({ boxes, labels: sample.labels, difficult: sample.difficult }, rect);
    const flipX = rng() < horizontalFlipProbability;
    const flipY = rng() < verticalFlipProbability;
    const canvas = { left: zoom?.left ?? 0, top: zoom?.top ?? 0, fill: mean };
    const pixels = out.width * out.height;
    const image = new Uint8Array(pixels * 3);
    const fill = params ? new Uint8Array(pixels) : undefined;
    resample(
      sample,
      { image, width: out.width, height: out.height },
      { rect, flipX, flipY, canvas, ...(fill ? { fillMask: fill } : {}) },
    );
    // Distort at the output resolution (fewer pixels than the source), leaving the
    // zoom-out fill alone as Caffe does: the same per-pixel operations, applied after
    // the bilinear interpolation instead of before, which is invisible.
    if (params) photometricInPlace(image, params, fill);
    // Divided and mirrored in one float64 step, then rounded once to float32
    // (toRelativePacked followed by 1 − x would round twice).
    const rel = kept.boxes as PackedBoxes<'xyxy', 'relative'>;
    for (let k = 0; k < rel.length; k += 4) {
      const x0 = rel[k]! / rect.width;
      const y0 = rel[k + 1]! / rect.height;
      const x1 = rel[k + 2]! / rect.width;
      const y1 = rel[k + 3]! / rect.height;
      rel[k] = flipX ? 1 - x1 : x0;
      rel[k + 2] = flipX ? 1 - x0 : x1;
      rel[k + 1] = flipY ? 1 - y1 : y0;
      rel[k + 3] = flipY ? 1 - y0 : y1;
    }
    return {
      id: sample.id,
      image,
      width: out.width,
      height: out.height,
      boxes: rel,
      labels: kept.labels,
      difficult: kept.difficult,
    };
  };
}

/** Evaluation: resize to `size` only (no randomness), boxes relative. */
export function ssdEvalTransform(options: {
  size: number | { width: number; height: number };
}): (sample: AugmentSample, rng?: Rng) => TrainingSample {
  const out = outputSize(options.size);
  return (sample) => {
    const image = new Uint8Array(out.width * out.height * 3);
    resample(sample, { image, width: out.width, height: out.height });
    return {
      id: sample.id,
      image,
      width: out.width,
      height: out.height,
      boxes: toRelativePacked(sample.boxes, 'xyxy', sample) as PackedBoxes<'xyxy', 'relative'>,
      labels: sample.labels.slice(),
      difficult: sample.difficult.slice(),
    };
  };
}
