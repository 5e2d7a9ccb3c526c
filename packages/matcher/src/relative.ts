import { MatcherInputError } from './errors';

/**
 * How far a relative coordinate may lie outside [0, 1] before it is refused:
 * 1e-3, about a pixel of a 1000-pixel image. It absorbs float32 rounding of
 * `x / width` and of a flip's `1 − x` (a few ulp of 1, ~1e-7), while a pixel box
 * (`[12, 12, 40, 40]`) or a box past the image border by more than a pixel fails.
 */
export const RELATIVE_BOX_TOLERANCE = 1e-3;

/** Largest coordinate of a box that is still taken for a relative box gone astray, not pixels. */
const PIXEL_HINT_ABOVE = 2;

/**
 * Throws `MatcherInputError` naming the first box with a finite coordinate outside
 * [−{@link RELATIVE_BOX_TOLERANCE}, 1 + {@link RELATIVE_BOX_TOLERANCE}]: ground
 * truth in pixels instead of relative to the image (`[12, 12, 40, 40]`, the
 * message says "looks like pixels"), or relative boxes past the image border.
 * Non-finite coordinates are left to the degenerate-box check.
 * Runs on host arrays only (reading a tensor back would stall the pipeline): for the
 * in-graph `encodeTargetsBatch`, call it where the boxes are still arrays.
 * @param gtBoxes `[G * 4]`, xyxy, relative.
 * @param field The argument name used in the message (default `gtBoxes`).
 */
export function assertRelativeBoxes(gtBoxes: ArrayLike<number>, field = 'gtBoxes'): void {
  const tolerance = RELATIVE_BOX_TOLERANCE;
  const numBoxes = Math.floor(gtBoxes.length / 4);
  for (let g = 0; g < numBoxes; g++) {
    let outside = false;
    let largest = -Infinity;
    for (let c = 0; c < 4; c++) {
      const v = gtBoxes[g * 4 + c]!;
      if (!Number.isFinite(v)) continue;
      if (v < -tolerance || v > 1 + tolerance) outside = true;
      if (Math.abs(v) > largest) largest = Math.abs(v);
    }
    if (!outside) continue;
    const box = Array.from({ length: 4 }, (_, c) => gtBoxes[g * 4 + c]!);
    const shown = `[${box.join(', ')}]`;
    const message =
      largest > PIXEL_HINT_ABOVE
        ? `${shown} looks like pixels: ground-truth boxes are xyxy relative to the image ` +
          `(0..1), not absolute pixels; divide by the image size ` +
          `(toRelativePacked(boxes, 'xyxy', { width, height }) from @ssd/geometry)`
        : `${shown} lies outside the image: relative xyxy boxes need every coordinate in ` +
          `[0, 1] (tolerance ${tolerance}); clip them to the image ` +
          `(clipBoxesPacked(boxes, 'xyxy') from @ssd/geometry)`;
    throw new MatcherInputError(`${field}[${g}]`, box, message);
  }
}
