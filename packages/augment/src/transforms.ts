/**
 * The SSD augmentations as composable transforms on typed arrays. Each takes a sample
 * and a seeded RNG and returns a new sample (its input is never modified). Boxes stay
 * xyxy ABSOLUTE pixels of the current image through every transform.
 */

import type { RandomSource } from '@ssd/random';

/** A uniform [0, 1) random source, seeded by the caller (`createRng` of `@ssd/random`). */
export type Rng = RandomSource;

/** What the transforms work on. */
export interface AugmentSample {
  id?: string;
  /** RGB, row-major, `[height * width * 3]`, 0..255. */
  image: Uint8Array | Float32Array;
  width: number;
  height: number;
  /** `[numObjects * 4]` xyxy, absolute pixels (0-based continuous edges). */
  boxes: Float32Array;
  /** `[numObjects]` 1..C. */
  labels: Int32Array;
  /** `[numObjects]`, carried along with the boxes when present. */
  difficult?: Uint8Array;
}

/** One step of a pipeline. */
export type Transform = (sample: AugmentSample, rng: Rng) => AugmentSample;

/** A wrong option value (probability outside [0, 1], non-positive size, …). */
export class AugmentOptionError extends Error {
  override readonly name = 'AugmentOptionError';
}

/** The VOC training-set mean colour (RGB), the fill of zoom-out as in Caffe SSD. */
export const VOC_MEAN_RGB: readonly [number, number, number] = Object.freeze([
  123, 117, 104,
]) as never;

export function checkProbability(name: string, p: number): void {
  if (!(p >= 0 && p <= 1)) throw new AugmentOptionError(`${name} must be in [0, 1], got ${p}`);
}

function checkRange(name: string, [lo, hi]: readonly [number, number], min = -Infinity): void {
  if (!(Number.isFinite(lo) && Number.isFinite(hi) && lo <= hi && lo >= min)) {
    throw new AugmentOptionError(
      `${name} must be a range [low, high] with ${min} ≤ low ≤ high, got [${lo}, ${hi}]`,
    );
  }
}

const uniform = (rng: Rng, lo: number, hi: number) => lo + (hi - lo) * rng();

/** Runs transforms in order with one RNG. */
export function compose(...transforms: Transform[]): Transform {
  return (sample, rng) => transforms.reduce((s, t) => t(s, rng), sample);
}

// ---------------------------------------------------------------------------------
// Photometric distortion (Caffe SSD `DistortImage`, ssd_pascal.py's distort_param).

/** Options of {@link photometricDistort}; defaults are ssd_pascal.py's. */
export interface PhotometricOptions {
  /** Probability of each step. Default 0.5. */
  brightnessProbability?: number;
  /** Added to every channel: U[−delta, delta]. Default 32. */
  brightnessDelta?: number;
  contrastProbability?: number;
  /** Every channel multiplied by U[low, high]. Default [0.5, 1.5]. */
  contrastRange?: readonly [number, number];
  saturationProbability?: number;
  /** HSV saturation multiplied by U[low, high]. Default [0.5, 1.5]. */
  saturationRange?: readonly [number, number];
  hueProbability?: number;
  /** Hue shifted by U[−delta, delta] degrees. Default 18. */
  hueDelta?: number;
  /** Probability of a random permutation of the RGB channels. Default 0 (off, as ssd_pascal.py). */
  channelSwapProbability?: number;
}

/** The drawn parameters of one distortion (`undefined`: step not applied). */
export interface PhotometricParams {
  contrastFirst: boolean;
  brightness?: number;
  contrast?: number;
  saturation?: number;
  hue?: number;
  channelOrder?: [number, number, number];
}

/** Draws one distortion's parameters, in Caffe's order of draws. */
export function drawPhotometric(rng: Rng, options: PhotometricOptions = {}): PhotometricParams {
  const {
    brightnessProbability = 0.5,
    brightnessDelta = 32,
    contrastProbability = 0.5,
    contrastRange = [0.5, 1.5],
    saturationProbability = 0.5,
    saturationRange = [0.5, 1.5],
    hueProbability = 0.5,
    hueDelta = 18,
    channelSwapProbability = 0,
  } = options;
  const params: PhotometricParams = { contrastFirst: rng() > 0.5 };
  if (rng() < brightnessProbability)
    params.brightness = uniform(rng, -brightnessDelta, brightnessDelta);
  if (rng() < contrastProbability)
    params.contrast = uniform(rng, contrastRange[0], contrastRange[1]);
  if (rng() < saturationProbability)
    params.saturation = uniform(rng, saturationRange[0], saturationRange[1]);
  if (rng() < hueProbability) params.hue = uniform(rng, -hueDelta, hueDelta);
  if (rng() < channelSwapProbability) {
    const order: [number, number, number] = [0, 1, 2];
    for (let i = 2; i > 0; i--) {
      const j = Math.floor(rng() * (i + 1));
      [order[i], order[j]] = [order[j]!, order[i]!];
    }
    params.channelOrder = order;
  }
  return params;
}

function checkPhotometric(options: PhotometricOptions): void {
  checkProbability('brightnessProbability', options.brightnessProbability ?? 0.5);
  checkProbability('contrastProbability', options.contrastProbability ?? 0.5);
  checkProbability('saturationProbability', options.saturationProbability ?? 0.5);
  checkProbability('hueProbability', options.hueProbability ?? 0.5);
  checkProbability('channelSwapProbability', options.channelSwapProbability ?? 0);
  checkRange('contrastRange', options.contrastRange ?? [0.5, 1.5], 0);
  checkRange('saturationRange', options.saturationRange ?? [0.5, 1.5], 0);
}

/**
 * Applies drawn parameters to an RGB image: brightness (add), contrast (multiply),
 * saturation and hue (in HSV), in the order Caffe uses — brightness, contrast,
 * saturation, hue when `contrastFirst`, else brightness, saturation, hue, contrast —
 * then the channel permutation. Values are clamped to [0, 255] after every step, as
 * Caffe's 8-bit images saturate. Returns a new Float32Array.
 */
export function applyPhotometric(
  image: Uint8Array | Float32Array,
  params: PhotometricParams,
): Float32Array {
  const out = Float32Array.from(image);
  photometricInPlace(out, params, undefined);
  return out;
}

/**
 * {@link applyPhotometric} in place on `[N * 3]` float RGB; pixels whose `skip` flag is
 * set are left alone (the zoom-out fill, which Caffe never distorts).
 */
export function photometricInPlace(
  out: Float32Array,
  params: PhotometricParams,
  skip: Uint8Array | undefined,
): void {
  const { brightness, contrast, saturation, hue, contrastFirst, channelOrder } = params;
  const n = out.length / 3;
  const hsv = saturation !== undefined || hue !== undefined;
  const sScale = saturation ?? 1;
  const hShift = (hue ?? 0) / 60; // degrees → sextants
  const b = brightness ?? 0;
  const cBefore = contrast !== undefined && contrastFirst ? contrast : 1;
  const cAfter = contrast !== undefined && !contrastFirst ? contrast : 1;
  const hasB = brightness !== undefined;
  const hasC1 = cBefore !== 1;
  const hasC2 = cAfter !== 1;
  const [o0, o1, o2] = channelOrder ?? [0, 1, 2];
  const swap = channelOrder !== undefined;
  for (let i = 0; i < n; i++) {
    if (skip !== undefined && skip[i] === 1) continue;
    const j = i * 3;
    let r = out[j]!;
    let g = out[j + 1]!;
    let bl = out[j + 2]!;
    if (hasB) {
      r += b;
      g += b;
      bl += b;
      r = r < 0 ? 0 : r > 255 ? 255 : r;
      g = g < 0 ? 0 : g > 255 ? 255 : g;
      bl = bl < 0 ? 0 : bl > 255 ? 255 : bl;
    }
    if (hasC1) {
      r *= cBefore;
      g *= cBefore;
      bl *= cBefore;
      r = r > 255 ? 255 : r;
      g = g > 255 ? 255 : g;
      bl = bl > 255 ? 255 : bl;
    }
    if (hsv) {
      const max = r > g ? (r > bl ? r : bl) : g > bl ? g : bl;
      const min = r < g ? (r < bl ? r : bl) : g < bl ? g : bl;
      const delta = max - min;
      // Gray pixels have no hue, and saturation 0 stays 0.
      if (delta > 0) {
        let h =
          max === r ? (g - bl) / delta : max === g ? 2 + (bl - r) / delta : 4 + (r - g) / delta;
        let sat = (delta / max) * sScale;
        if (sat > 1) sat = 1;
        h += hShift;
        h = h - 6 * Math.floor(h / 6);
        const sector = Math.floor(h);
        const f = h - sector;
        const v = max;
        const p = v * (1 - sat);
        const q = v * (1 - sat * f);
        const t = v * (1 - sat * (1 - f));
        if (sector === 0) {
          r = v;
          g = t;
          bl = p;
        } else if (sector === 1) {
          r = q;
          g = v;
          bl = p;
        } else if (sector === 2) {
          r = p;
          g = v;
          bl = t;
        } else if (sector === 3) {
          r = p;
          g = q;
          bl = v;
        } else if (sector === 4) {
          r = t;
          g = p;
          bl = v;
        } else {
          r = v;
          g = p;
          bl = q;
        }
      }
    }
    if (hasC2) {
      r *= cAfter;
      g *= cAfter;
      bl *= cAfter;
      r = r > 255 ? 255 : r;
      g = g > 255 ? 255 : g;
      bl = bl > 255 ? 255 : bl;
    }
    if (swap) {
      const px0 = r;
      const px1 = g;
      const px2 = bl;
      r = o0 === 0 ? px0 : o0 === 1 ? px1 : px2;
      g = o1 === 0 ? px0 : o1 === 1 ? px1 : px2;
      bl = o2 === 0 ? px0 : o2 === 1 ? px1 : px2;
    }
    out[j] = r;
    out[j + 1] = g;
    out[j + 2] = bl;
  }
}

/**
 * {@link photometricInPlace} on 8-bit RGB, as Caffe runs it: each step rounds and
 * saturates to 0..255. Brightness and contrast go through lookup tables; saturation
 * alone is `max − k·(max − c)` per channel (scaling HSV saturation at fixed value and
 * hue); only a hue shift needs the full HSV round trip. Pixels flagged in `skip` are
 * left alone.
 */
export function photometricUint8InPlace(
  out: Uint8Array,
  params: PhotometricParams,
  skip: Uint8Array | undefined,
): void {
  const { brightness, contrast, saturation, hue, contrastFirst, channelOrder } = params;
  const sat = (v: number) => (v < 0 ? 0 : v > 255 ? 255 : Math.round(v));
  const pre = new Uint8Array(256);
  const post = new Uint8Array(256);
  for (let v = 0; v < 256; v++) {
    let x = brightness === undefined ? v : sat(v + brightness);
    if (contrast !== undefined && contrastFirst) x = sat(x * contrast);
    pre[v] = x;
    post[v] = contrast !== undefined && !contrastFirst ? sat(v * contrast) : v;
  }
  const n = out.length / 3;
  const hasHue = hue !== undefined;
  const hasSat = saturation !== undefined;
  const sScale = saturation ?? 1;
  const hShift = (hue ?? 0) / 60;
  const [o0, o1, o2] = channelOrder ?? [0, 1, 2];
  const swap = channelOrder !== undefined;
  if (!hasHue && !hasSat) {
    const lut = new Uint8Array(256);
    for (let v = 0; v < 256; v++) lut[v] = post[pre[v]!]!;
    for (let i = 0; i < n; i++) {
      if (skip !== undefined && skip[i] === 1) continue;
      const j = i * 3;
      const r = lut[out[j]!]!;
      const g = lut[out[j + 1]!]!;
      const b = lut[out[j + 2]!]!;
      if (swap) {
        out[j] = o0 === 0 ? r : o0 === 1 ? g : b;
        out[j + 1] = o1 === 0 ? r : o1 === 1 ? g : b;
        out[j + 2] = o2 === 0 ? r : o2 === 1 ? g : b;
      } else {
        out[j] = r;
        out[j + 1] = g;
        out[j + 2] = b;
      }
    }
    return;
  }
  for (let i = 0; i < n; i++) {
    if (skip !== undefined && skip[i] === 1) continue;
    const j = i * 3;
    let r = pre[out[j]!]!;
    let g = pre[out[j + 1]!]!;
    let b = pre[out[j + 2]!]!;
    const max = r > g ? (r > b ? r : b) : g > b ? g : b;
    const min = r < g ? (r < b ? r : b) : g < b ? g : b;
    const delta = max - min;
    if (delta > 0) {
      if (!hasHue) {
        // Saturation only: S' = k·S (capped at 1) at the same value and hue.
        const k = sScale * delta > max ? max / delta : sScale;
        r = (max - k * (max - r) + 0.5) | 0;
        g = (max - k * (max - g) + 0.5) | 0;
        b = (max - k * (max - b) + 0.5) | 0;
      } else {
        let h = max === r ? (g - b) / delta : max === g ? 2 + (b - r) / delta : 4 + (r - g) / delta;
        let s = (delta / max) * sScale;
        if (s > 1) s = 1;
        h += hShift;
        h = h - 6 * Math.floor(h / 6);
        const sector = Math.floor(h);
        const f = h - sector;
        const v = max;
        const p = (v * (1 - s) + 0.5) | 0;
        const q = (v * (1 - s * f) + 0.5) | 0;
        const t = (v * (1 - s * (1 - f)) + 0.5) | 0;
        if (sector === 0) {
          r = v;
          g = t;
          b = p;
        } else if (sector === 1) {
          r = q;
          g = v;
          b = p;
        } else if (sector === 2) {
          r = p;
          g = v;
          b = t;
        } else if (sector === 3) {
          r = p;
          g = q;
          b = v;
        } else if (sector === 4) {
          r = t;
          g = p;
          b = v;
        } else {
          r = v;
          g = p;
          b = q;
        }
      }
    }
    r = post[r]!;
    g = post[g]!;
    b = post[b]!;
    if (swap) {
      out[j] = o0 === 0 ? r : o0 === 1 ? g : b;
      out[j + 1] = o1 === 0 ? r : o1 === 1 ? g : b;
      out[j + 2] = o2 === 0 ? r : o2 === 1 ? g : b;
    } else {
      out[j] = r;
      out[j + 1] = g;
      out[j + 2] = b;
    }
  }
}

/** Photometric distortion, each step with its probability; boxes untouched. */
export function photometricDistort(options: PhotometricOptions = {}): Transform {
  checkPhotometric(options);
  return (sample, rng) => ({
    ...sample,
    image: applyPhotometric(sample.image, drawPhotometric(rng, options)),
  });
}

// ---------------------------------------------------------------------------------
// Zoom out (Caffe `ExpandImage`).

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
    const boxes = sample.boxes.slice();
    for (let k = 0; k < boxes.length; k += 4) {
      boxes[k] = boxes[k]! + e.left;
      boxes[k + 1] = boxes[k + 1]! + e.top;
      boxes[k + 2] = boxes[k + 2]! + e.left;
      boxes[k + 3] = boxes[k + 3]! + e.top;
    }
    return { ...sample, image, width: e.width, height: e.height, boxes };
  };
}

// ---------------------------------------------------------------------------------
// Random crop with a minimum-IoU constraint (Caffe `batch_sampler`).

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

/** An integer crop rectangle, pixels. */
export interface CropRect {
  x: number;
  y: number;
  width: number;
  height: number;
}

function iou(a0: number, a1: number, a2: number, a3: number, b: Float32Array, k: number): number {
  const iw = Math.min(a2, b[k + 2]!) - Math.max(a0, b[k]!);
  const ih = Math.min(a3, b[k + 3]!) - Math.max(a1, b[k + 1]!);
  if (iw <= 0 || ih <= 0) return 0;
  const inter = iw * ih;
  const union = (a2 - a0) * (a3 - a1) + (b[k + 2]! - b[k]!) * (b[k + 3]! - b[k + 1]!) - inter;
  return union > 0 ? inter / union : 0;
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
 */
export function drawIouCrop(
  rng: Rng,
  width: number,
  height: number,
  boxes: Float32Array,
  options: IouCropOptions = {},
): CropRect | undefined {
  const {
    minIous = [0.1, 0.3, 0.5, 0.7, 0.9, 0],
    maxTrials = 50,
    scaleRange = [0.3, 1],
    aspectRange = [0.5, 2],
  } = options;
  const candidates: (CropRect | undefined)[] = [undefined];
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
      let meets = false;
      let kept = false;
      for (let k = 0; k < boxes.length; k += 4) {
        if (!meets) {
          const overlap = iou(rect.x, rect.y, rect.x + rect.width, rect.y + rect.height, boxes, k);
          meets = minIou <= 0 ? true : overlap >= minIou;
        }
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

/** Boxes of `sample` seen through `rect`: centre inside kept, clipped, shifted. */
export function cropBoxes(
  sample: Pick<AugmentSample, 'boxes' | 'labels' | 'difficult'>,
  rect: CropRect,
): Pick<AugmentSample, 'boxes' | 'labels' | 'difficult'> {
  const keep: number[] = [];
  for (let k = 0; k < sample.labels.length; k++)
    if (centreInside(rect, sample.boxes, 4 * k)) keep.push(k);
  const boxes = new Float32Array(keep.length * 4);
  keep.forEach((k, j) => {
    boxes[4 * j] = Math.max(sample.boxes[4 * k]!, rect.x) - rect.x;
    boxes[4 * j + 1] = Math.max(sample.boxes[4 * k + 1]!, rect.y) - rect.y;
    boxes[4 * j + 2] = Math.min(sample.boxes[4 * k + 2]!, rect.x + rect.width) - rect.x;
    boxes[4 * j + 3] = Math.min(sample.boxes[4 * k + 3]!, rect.y + rect.height) - rect.y;
  });
  return {
    boxes,
    labels: Int32Array.from(keep, (k) => sample.labels[k]!),
    ...(sample.difficult ? { difficult: Uint8Array.from(keep, (k) => sample.difficult![k]!) } : {}),
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

// ---------------------------------------------------------------------------------
// Flips and resize.

function flip(sample: AugmentSample, horizontal: boolean): AugmentSample {
  const { width: w, height: h } = sample;
  const image = new (sample.image.constructor as Float32ArrayConstructor)(sample.image.length);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      const from = (horizontal ? y * w + (w - 1 - x) : (h - 1 - y) * w + x) * 3;
      const to = (y * w + x) * 3;
      image[to] = sample.image[from]!;
      image[to + 1] = sample.image[from + 1]!;
      image[to + 2] = sample.image[from + 2]!;
    }
  }
  const boxes = sample.boxes.slice();
  for (let k = 0; k < boxes.length; k += 4) {
    if (horizontal) {
      boxes[k] = w - sample.boxes[k + 2]!;
      boxes[k + 2] = w - sample.boxes[k]!;
    } else {
      boxes[k + 1] = h - sample.boxes[k + 3]!;
      boxes[k + 3] = h - sample.boxes[k + 1]!;
    }
  }
  return { ...sample, image, boxes };
}

/** Mirrors left–right with `probability` (default 0.5). */
export function horizontalFlip(options: { probability?: number } = {}): Transform {
  const { probability = 0.5 } = options;
  checkProbability('probability', probability);
  return (sample, rng) => (rng() < probability ? flip(sample, true) : sample);
}

/** Mirrors top–bottom with `probability` (default 0.5; off in {@link ssdTrainAugmentation} unless asked). */
export function verticalFlip(options: { probability?: number } = {}): Transform {
  const { probability = 0.5 } = options;
  checkProbability('probability', probability);
  return (sample, rng) => (rng() < probability ? flip(sample, false) : sample);
}

/**
 * Bilinear resize with half-pixel centres (as OpenCV's `INTER_LINEAR`), boxes scaled
 * with the image. Output is Uint8Array (rounded) for Uint8Array input, else Float32Array.
 */
export function resize(options: { width: number; height: number }): Transform {
  const { width, height } = options;
  if (!(Number.isInteger(width) && width > 0 && Number.isInteger(height) && height > 0)) {
    throw new AugmentOptionError(
      `resize needs positive integer width and height, got ${width}×${height}`,
    );
  }
  return (sample) => {
    const image = new (sample.image.constructor as Float32ArrayConstructor)(width * height * 3);
    resample(
      sample.image,
      sample.width,
      sample.height,
      { x: 0, y: 0, width: sample.width, height: sample.height },
      image,
      width,
      height,
      false,
      false,
      undefined,
    );
    const sx = width / sample.width;
    const sy = height / sample.height;
    const boxes = sample.boxes.slice();
    for (let k = 0; k < boxes.length; k += 4) {
      boxes[k] = boxes[k]! * sx;
      boxes[k + 1] = boxes[k + 1]! * sy;
      boxes[k + 2] = boxes[k + 2]! * sx;
      boxes[k + 3] = boxes[k + 3]! * sy;
    }
    return { ...sample, image, width, height, boxes };
  };
}

/**
 * Bilinear resampling of `rect` (in the coordinates of a virtual canvas on which the
 * source image sits at `canvas.left, canvas.top`, the rest filled with `canvas.fill`)
 * into `out` of `outWidth × outHeight`, optionally mirrored. Without `canvas` and with
 * `rect` inside the image this is a plain crop + resize. Half-pixel centres; sample
 * coordinates clamped to the rect, so edge pixels replicate as in OpenCV. Uint8Array
 * output is rounded. `fillMask` (`[outWidth * outHeight]`), when given, is set to 1
 * where a pixel is pure fill (no source pixel contributes).
 */
export function resample(
  src: Uint8Array | Float32Array,
  srcWidth: number,
  srcHeight: number,
  rect: CropRect,
  out: Uint8Array | Float32Array,
  outWidth: number,
  outHeight: number,
  flipX: boolean,
  flipY: boolean,
  canvas: { left: number; top: number; fill: readonly [number, number, number] } | undefined,
  fillMask?: Uint8Array,
): void {
  const sx = rect.width / outWidth;
  const sy = rect.height / outHeight;
  const left = canvas?.left ?? 0;
  const top = canvas?.top ?? 0;
  const f0 = canvas?.fill[0] ?? 0;
  const f1 = canvas?.fill[1] ?? 0;
  const f2 = canvas?.fill[2] ?? 0;
  // 8-bit output goes through a clamped view: stores round to nearest, fast in V8.
  const dst: Uint8ClampedArray | Float32Array =
    out instanceof Uint8Array ? new Uint8ClampedArray(out.buffer, out.byteOffset, out.length) : out;
  // Per output column: the two source offsets (×3; −1 when outside the image) and weight.
  const xs0 = new Int32Array(outWidth);
  const xs1 = new Int32Array(outWidth);
  const wx = new Float32Array(outWidth);
  for (let ox = 0; ox < outWidth; ox++) {
    const dx = flipX ? outWidth - 1 - ox : ox;
    let u = (dx + 0.5) * sx - 0.5;
    if (u < 0) u = 0;
    if (u > rect.width - 1) u = rect.width - 1;
    const u0 = Math.floor(u);
    const u1 = Math.min(u0 + 1, rect.width - 1);
    wx[ox] = u - u0;
    const x0 = rect.x + u0 - left;
    const x1 = rect.x + u1 - left;
    xs0[ox] = x0 >= 0 && x0 < srcWidth ? x0 * 3 : -1;
    xs1[ox] = x1 >= 0 && x1 < srcWidth ? x1 * 3 : -1;
  }
  const stride = srcWidth * 3;
  for (let oy = 0; oy < outHeight; oy++) {
    const dy = flipY ? outHeight - 1 - oy : oy;
    let v = (dy + 0.5) * sy - 0.5;
    if (v < 0) v = 0;
    if (v > rect.height - 1) v = rect.height - 1;
    const v0 = Math.floor(v);
    const v1 = Math.min(v0 + 1, rect.height - 1);
    const wy = v - v0;
    const y0 = rect.y + v0 - top;
    const y1 = rect.y + v1 - top;
    const row0 = y0 >= 0 && y0 < srcHeight ? y0 * stride : -1;
    const row1 = y1 >= 0 && y1 < srcHeight ? y1 * stride : -1;
    let o = oy * outWidth * 3;
    for (let ox = 0; ox < outWidth; ox++, o += 3) {
      const a = wx[ox]!;
      const c0 = xs0[ox]!;
      const c1 = xs1[ox]!;
      if (row0 >= 0 && row1 >= 0 && c0 >= 0 && c1 >= 0) {
        // Every tap inside the image: the common case, no fill.
        const p00 = row0 + c0;
        const p01 = row0 + c1;
        const p10 = row1 + c0;
        const p11 = row1 + c1;
        const ia = 1 - a;
        const iy = 1 - wy;
        const w00 = ia * iy;
        const w01 = a * iy;
        const w10 = ia * wy;
        const w11 = a * wy;
        dst[o] = src[p00]! * w00 + src[p01]! * w01 + src[p10]! * w10 + src[p11]! * w11;
        dst[o + 1] =
          src[p00 + 1]! * w00 + src[p01 + 1]! * w01 + src[p10 + 1]! * w10 + src[p11 + 1]! * w11;
        dst[o + 2] =
          src[p00 + 2]! * w00 + src[p01 + 2]! * w01 + src[p10 + 2]! * w10 + src[p11 + 2]! * w11;
        continue;
      }
      const p00 = row0 >= 0 && c0 >= 0 ? row0 + c0 : -1;
      const p01 = row0 >= 0 && c1 >= 0 ? row0 + c1 : -1;
      const p10 = row1 >= 0 && c0 >= 0 ? row1 + c0 : -1;
      const p11 = row1 >= 0 && c1 >= 0 ? row1 + c1 : -1;
      if (fillMask && p00 < 0 && p01 < 0 && p10 < 0 && p11 < 0) fillMask[o / 3] = 1;
      for (let c = 0; c < 3; c++) {
        const f = c === 0 ? f0 : c === 1 ? f1 : f2;
        const v00 = p00 >= 0 ? src[p00 + c]! : f;
        const v01 = p01 >= 0 ? src[p01 + c]! : f;
        const v10 = p10 >= 0 ? src[p10 + c]! : f;
        const v11 = p11 >= 0 ? src[p11 + c]! : f;
        const t = v00 + (v01 - v00) * a;
        const b = v10 + (v11 - v10) * a;
        dst[o + c] = t + (b - t) * wy;
      }
    }
  }
}
