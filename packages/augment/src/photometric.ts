/**
 * Photometric distortion (Caffe SSD `DistortImage`, ssd_pascal.py's `distort_param`):
 * the drawing of its parameters and one per-pixel implementation for float and 8-bit
 * RGB.
 */
import type { RgbPixels } from '@ssd/geometry';

import { checkProbability, checkRange } from './errors';
import { uniform, type Rng, type Transform } from './types';

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

/** A level saturated to [0, 255]; in 8-bit also rounded to the nearest level. */
const clampLevel = (v: number, eightBit: boolean): number =>
  v < 0 ? 0 : v > 255 ? 255 : eightBit ? Math.round(v) : v;

/** A level times a contrast factor (≥ 0), saturated at 255 (rounded in 8-bit). */
const scaleLevel = (v: number, factor: number, eightBit: boolean): number => {
  const x = v * factor;
  return eightBit ? clampLevel(x, true) : x > 255 ? 255 : x;
};

/** An HSV corner value, rounded half up in 8-bit (the values are ≥ 0). */
const hsvLevel = (v: number, eightBit: boolean): number => (eightBit ? (v + 0.5) | 0 : v);

/**
 * Applies drawn parameters to RGB pixels `[N * 3]` in place: brightness (add),
 * contrast (multiply), saturation and hue (in HSV), in the order Caffe uses —
 * brightness, contrast, saturation, hue when `contrastFirst`, else brightness,
 * saturation, hue, contrast — then the channel permutation. Values saturate to
 * [0, 255] after every step, as Caffe's 8-bit images do. Pixels whose `skip` flag
 * (`[N]`) is set are left alone (the zoom-out fill, which Caffe never distorts).
 *
 * On a `Uint8Array` every step also rounds to a level, as Caffe runs it: brightness
 * and contrast go through lookup tables over the 256 levels built from the same
 * steps, the HSV round trip rounds its corner values, and saturation without a hue
 * shift is `max − k·(max − c)` per channel (HSV saturation scaled at fixed value
 * and hue), which needs no round trip.
 */
export function photometricInPlace(
  pixels: Float32Array | Uint8Array,
  params: PhotometricParams,
  skip?: Uint8Array,
): void {
  const { brightness, contrast, saturation, hue, contrastFirst, channelOrder } = params;
  const eightBit = pixels instanceof Uint8Array;
  // A factor of exactly 1 changes no valid level: that step is skipped.
  const contrastBefore = contrast !== undefined && contrast !== 1 && contrastFirst;
  const contrastAfter = contrast !== undefined && contrast !== 1 && !contrastFirst;
  const factor = contrast ?? 1;
  const before = (v: number): number => {
    let x = brightness === undefined ? v : clampLevel(v + brightness, eightBit);
    if (contrastBefore) x = scaleLevel(x, factor, eightBit);
    return x;
  };
  const after = (v: number): number => (contrastAfter ? scaleLevel(v, factor, eightBit) : v);
  // 8-bit: the level steps become lookup tables, indexed per pixel.
  const pre = eightBit ? Uint8Array.from({ length: 256 }, (_, v) => before(v)) : undefined;
  const post = eightBit ? Uint8Array.from({ length: 256 }, (_, v) => after(v)) : undefined;
  const hasHue = hue !== undefined;
  const hsv = saturation !== undefined || hasHue;
  const sScale = saturation ?? 1;
  const hShift = (hue ?? 0) / 60; // degrees → sextants
  const [o0, o1, o2] = channelOrder ?? [0, 1, 2];
  const swap = channelOrder !== undefined;
  const n = pixels.length / 3;
  for (let i = 0; i < n; i++) {
    if (skip !== undefined && skip[i] === 1) continue;
    const j = i * 3;
    let r = pre ? pre[pixels[j]!]! : before(pixels[j]!);
    let g = pre ? pre[pixels[j + 1]!]! : before(pixels[j + 1]!);
    let b = pre ? pre[pixels[j + 2]!]! : before(pixels[j + 2]!);
    if (hsv) {
      const max = r > g ? (r > b ? r : b) : g > b ? g : b;
      const min = r < g ? (r < b ? r : b) : g < b ? g : b;
      const delta = max - min;
      // Gray pixels have no hue, and saturation 0 stays 0.
      if (delta > 0) {
        if (eightBit && !hasHue) {
          // Saturation only: S' = k·S (capped at 1) at the same value and hue.
          const k = sScale * delta > max ? max / delta : sScale;
          r = (max - k * (max - r) + 0.5) | 0;
          g = (max - k * (max - g) + 0.5) | 0;
          b = (max - k * (max - b) + 0.5) | 0;
        } else {
          let h =
            max === r ? (g - b) / delta : max === g ? 2 + (b - r) / delta : 4 + (r - g) / delta;
          let s = (delta / max) * sScale;
          if (s > 1) s = 1;
          h += hShift;
          h = h - 6 * Math.floor(h / 6);
          const sector = Math.floor(h);
          const f = h - sector;
          const v = max;
          const p = hsvLevel(v * (1 - s), eightBit);
          const q = hsvLevel(v * (1 - s * f), eightBit);
          const t = hsvLevel(v * (1 - s * (1 - f)), eightBit);
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
    }
    r = post ? post[r]! : after(r);
    g = post ? post[g]! : after(g);
    b = post ? post[b]! : after(b);
    if (swap) {
      pixels[j] = o0 === 0 ? r : o0 === 1 ? g : b;
      pixels[j + 1] = o1 === 0 ? r : o1 === 1 ? g : b;
      pixels[j + 2] = o2 === 0 ? r : o2 === 1 ? g : b;
    } else {
      pixels[j] = r;
      pixels[j + 1] = g;
      pixels[j + 2] = b;
    }
  }
}

/**
 * {@link photometricInPlace} without rounding on a float copy of `image`
 * (`[N * 3]` RGB 0..255). Returns a new Float32Array.
 */
export function applyPhotometric(image: RgbPixels, params: PhotometricParams): Float32Array {
  const out = Float32Array.from(image);
  photometricInPlace(out, params);
  return out;
}

/** Photometric distortion, each step with its probability; boxes untouched. */
export function photometricDistort(options: PhotometricOptions = {}): Transform {
  checkPhotometric(options);
  return (sample, rng) => ({
    ...sample,
    image: applyPhotometric(sample.image, drawPhotometric(rng, options)),
  });
}
