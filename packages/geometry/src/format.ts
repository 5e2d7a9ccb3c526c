import { BoxArgumentError } from './errors';

/**
 * How the four numbers of a box are laid out.
 * - `xyxy`: `[xMin, yMin, xMax, yMax]` (corners; the canonical format here)
 * - `cxcywh`: `[centreX, centreY, width, height]` (anchors and the box coder)
 * - `xywh`: `[xMin, yMin, width, height]` (COCO annotations)
 * - `yxyx`: `[yMin, xMin, yMax, xMax]` (tfjs `nonMaxSuppression`, `cropAndResize`)
 *
 * Whether the numbers are relative (0..1 of the image) or absolute pixels is a
 * separate axis: see `toAbsolute` / `toRelative`.
 */
export type BoxFormat = 'xyxy' | 'cxcywh' | 'xywh' | 'yxyx';

export const BOX_FORMATS: readonly BoxFormat[] = Object.freeze(['xyxy', 'cxcywh', 'xywh', 'yxyx']);

/** An image size in pixels. */
export interface ImageSize {
  width: number;
  height: number;
}

export function assertFormat(format: string, argument: string): asserts format is BoxFormat {
  if (!(BOX_FORMATS as readonly string[]).includes(format)) {
    throw new BoxArgumentError(
      `${argument}: unknown box format '${format}', expected one of ${BOX_FORMATS.join(', ')}`,
    );
  }
}

export function assertImageSize(size: ImageSize, argument: string): void {
  for (const key of ['width', 'height'] as const) {
    const value = size[key];
    if (!(Number.isFinite(value) && value > 0)) {
      throw new BoxArgumentError(`${argument}.${key}: expected a positive number, got ${value}`);
    }
  }
}

/**
 * The per-coordinate factors that turn relative boxes of `format` into pixels:
 * x-like coordinates scale by the width, y-like ones by the height.
 */
export function scaleFactors(format: BoxFormat, size: ImageSize): [number, number, number, number] {
  const { width, height } = size;
  return format === 'yxyx' ? [height, width, height, width] : [width, height, width, height];
}
