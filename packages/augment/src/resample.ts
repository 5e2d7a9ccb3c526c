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
