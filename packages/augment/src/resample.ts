/** Bilinear resampling (crop, zoom-out canvas, flips and resize in one pass) and `resize`. */
import { AugmentOptionError } from './errors';
import type { CropRect, RgbImage, Transform } from './types';

/**
 * A virtual canvas on which the source image sits at `left, top`, everything else
 * `fill` (an RGB colour): the zoom-out without materialising it.
 */
export interface ResampleCanvas {
  left: number;
  top: number;
  fill: readonly [number, number, number];
}

/** Options of {@link resample}. */
export interface ResampleOptions {
  /**
   * The rectangle to resample, in canvas coordinates (image coordinates without a
   * `canvas`). Default: the whole source image.
   */
  rect?: CropRect;
  /** Mirror left–right. Default false. */
  flipX?: boolean;
  /** Mirror top–bottom. Default false. */
  flipY?: boolean;
  /** The source on a larger fill-coloured canvas (see {@link ResampleCanvas}). */
  canvas?: ResampleCanvas;
  /**
   * `[target.height * target.width]`, when given: set to 1 where a target pixel is
   * pure fill (no source pixel contributes).
   */
  fillMask?: Uint8Array;
}

/** One axis of the sampling grid (see {@link axisTap}). */
interface SamplingAxis {
  /** Mirror along this axis. */
  flip: boolean;
  /** Output pixels along the axis. */
  outSize: number;
  /** Source pixels per output pixel: `rectSize / outSize`. */
  scale: number;
  /** The rect's start and size, in canvas coordinates. */
  rectStart: number;
  rectSize: number;
  /** Where the source image starts on the canvas (0 without a canvas). */
  origin: number;
  /** Source pixels along the axis. */
  sourceSize: number;
  /** Array elements per source pixel along the axis (3 across, the row stride down). */
  unit: number;
}

/**
 * Bilinear taps of output index `d` along one axis, into `tap`: the weight of the
 * second tap, then the two source offsets (`× unit`; −1 outside the image).
 * Half-pixel centres, clamped to the rect.
 */
function axisTap(axis: SamplingAxis, d: number, tap: Float64Array): void {
  const { rectStart, rectSize, origin, sourceSize, unit } = axis;
  const i = axis.flip ? axis.outSize - 1 - d : d;
  let u = (i + 0.5) * axis.scale - 0.5;
  if (u < 0) u = 0;
  if (u > rectSize - 1) u = rectSize - 1;
  const u0 = Math.floor(u);
  const u1 = Math.min(u0 + 1, rectSize - 1);
  const s0 = rectStart + u0 - origin;
  const s1 = rectStart + u1 - origin;
  tap[0] = u - u0;
  tap[1] = s0 >= 0 && s0 < sourceSize ? s0 * unit : -1;
  tap[2] = s1 >= 0 && s1 < sourceSize ? s1 * unit : -1;
}

/**
 * Bilinear resampling of `options.rect` of `source` into all of `target` (written in
 * place), optionally on a fill-coloured canvas and mirrored. Without `canvas` and
 * with `rect` inside the image this is a plain crop + resize. Half-pixel centres
 * (as OpenCV's `INTER_LINEAR`); sample coordinates clamped to the rect, so edge
 * pixels replicate as in OpenCV. An 8-bit target is rounded.
 * @param source RGB `[height * width * 3]`.
 * @param target RGB `[height * width * 3]`, overwritten.
 */
export function resample(source: RgbImage, target: RgbImage, options: ResampleOptions = {}): void {
  const { image: src, width: srcWidth, height: srcHeight } = source;
  const { image: out, width: outWidth, height: outHeight } = target;
  const {
    rect = { x: 0, y: 0, width: srcWidth, height: srcHeight },
    flipX = false,
    flipY = false,
    canvas,
    fillMask,
  } = options;
  const left = canvas?.left ?? 0;
  const top = canvas?.top ?? 0;
  const f0 = canvas?.fill[0] ?? 0;
  const f1 = canvas?.fill[1] ?? 0;
  const f2 = canvas?.fill[2] ?? 0;
  // 8-bit output goes through a clamped view: stores round to nearest, fast in V8.
  const dst: Uint8ClampedArray | Float32Array =
    out instanceof Uint8Array ? new Uint8ClampedArray(out.buffer, out.byteOffset, out.length) : out;
  const xAxis: SamplingAxis = {
    flip: flipX,
    outSize: outWidth,
    scale: rect.width / outWidth,
    rectStart: rect.x,
    rectSize: rect.width,
    origin: left,
    sourceSize: srcWidth,
    unit: 3,
  };
  const yAxis: SamplingAxis = {
    flip: flipY,
    outSize: outHeight,
    scale: rect.height / outHeight,
    rectStart: rect.y,
    rectSize: rect.height,
    origin: top,
    sourceSize: srcHeight,
    unit: srcWidth * 3,
  };
  const tap = new Float64Array(3);
  // Per output column: the two source offsets (×3; −1 when outside the image) and weight.
  const xs0 = new Int32Array(outWidth);
  const xs1 = new Int32Array(outWidth);
  const wx = new Float32Array(outWidth);
  for (let ox = 0; ox < outWidth; ox++) {
    axisTap(xAxis, ox, tap);
    wx[ox] = tap[0]!;
    xs0[ox] = tap[1]!;
    xs1[ox] = tap[2]!;
  }
  for (let oy = 0; oy < outHeight; oy++) {
    axisTap(yAxis, oy, tap);
    const wy = tap[0]!;
    const row0 = tap[1]!;
    const row1 = tap[2]!;
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
    resample(sample, { image, width, height });
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
