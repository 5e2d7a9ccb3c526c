/**
 * The same box algorithms as `tensor.ts`, on packed `Float32Array`s
 * (`[N * 4]`, box after box) for the per-image CPU data pipeline, where a
 * tight loop beats dispatching tensor ops. Kept in lock-step with the tensor
 * versions by tests.
 */
import { BoxShapeError } from './errors';
import {
  assertFormat,
  assertImageSize,
  scaleFactors,
  type BoxFormat,
  type ImageSize,
} from './format';

import type { PackedBoxes } from './contracts';

export function assertPacked(boxes: ArrayLike<number>, argument: string): number {
  if (boxes.length % 4 !== 0) {
    throw new BoxShapeError(argument, '[N * 4]', `length ${boxes.length}`);
  }
  return boxes.length / 4;
}

/** Reads box `i` of `boxes` in `format` as xyxy corners into `out`. */
function readCorners(
  boxes: ArrayLike<number>,
  i: number,
  format: BoxFormat,
  out: Float64Array,
): Float64Array {
  const o = i * 4;
  const a = boxes[o]!;
  const b = boxes[o + 1]!;
  const c = boxes[o + 2]!;
  const d = boxes[o + 3]!;
  switch (format) {
    case 'xyxy':
      out[0] = a;
      out[1] = b;
      out[2] = c;
      out[3] = d;
      break;
    case 'yxyx':
      out[0] = b;
      out[1] = a;
      out[2] = d;
      out[3] = c;
      break;
    case 'xywh':
      out[0] = a;
      out[1] = b;
      out[2] = a + c;
      out[3] = b + d;
      break;
    case 'cxcywh':
      out[0] = a - c / 2;
      out[1] = b - d / 2;
      out[2] = a + c / 2;
      out[3] = b + d / 2;
      break;
  }
  return out;
}

function writeCorners(
  corners: Float64Array,
  format: BoxFormat,
  out: Float32Array,
  i: number,
): void {
  const [x1, y1, x2, y2] = corners as unknown as [number, number, number, number];
  const o = i * 4;
  switch (format) {
    case 'xyxy':
      out[o] = x1;
      out[o + 1] = y1;
      out[o + 2] = x2;
      out[o + 3] = y2;
      break;
    case 'yxyx':
      out[o] = y1;
      out[o + 1] = x1;
      out[o + 2] = y2;
      out[o + 3] = x2;
      break;
    case 'xywh':
      out[o] = x1;
      out[o + 1] = y1;
      out[o + 2] = x2 - x1;
      out[o + 3] = y2 - y1;
      break;
    case 'cxcywh':
      out[o] = (x1 + x2) / 2;
      out[o + 1] = (y1 + y2) / 2;
      out[o + 2] = x2 - x1;
      out[o + 3] = y2 - y1;
      break;
  }
}

/** `convertBoxes` on packed boxes; returns a new array. */
export function convertBoxesPacked(
  boxes: ArrayLike<number>,
  from: BoxFormat,
  to: BoxFormat,
): PackedBoxes {
  const n = assertPacked(boxes, 'boxes');
  assertFormat(from, 'from');
  assertFormat(to, 'to');
  const out = new Float32Array(n * 4);
  const corners = new Float64Array(4);
  for (let i = 0; i < n; i++) writeCorners(readCorners(boxes, i, from, corners), to, out, i);
  return out;
}

function scalePacked(
  boxes: ArrayLike<number>,
  format: BoxFormat,
  size: ImageSize,
  invert: boolean,
): PackedBoxes {
  const n = assertPacked(boxes, 'boxes');
  assertFormat(format, 'format');
  assertImageSize(size, 'size');
  const factors = scaleFactors(format, size);
  const out = new Float32Array(n * 4);
  for (let i = 0; i < n * 4; i++) {
    out[i] = invert ? boxes[i]! / factors[i % 4]! : boxes[i]! * factors[i % 4]!;
  }
  return out;
}

/** `toAbsolute` on packed boxes. */
export function toAbsolutePacked(
  boxes: ArrayLike<number>,
  format: BoxFormat,
  size: ImageSize,
): PackedBoxes {
  return scalePacked(boxes, format, size, false);
}

/** `toRelative` on packed boxes. */
export function toRelativePacked(
  boxes: ArrayLike<number>,
  format: BoxFormat,
  size: ImageSize,
): PackedBoxes {
  return scalePacked(boxes, format, size, true);
}

/** `boxArea` on packed boxes: `[N]`, zero for empty or inverted boxes. */
export function boxAreaPacked(boxes: ArrayLike<number>, format: BoxFormat): Float32Array {
  const n = assertPacked(boxes, 'boxes');
  assertFormat(format, 'format');
  const out = new Float32Array(n);
  const c = new Float64Array(4);
  for (let i = 0; i < n; i++) {
    readCorners(boxes, i, format, c);
    out[i] = Math.max(0, c[2]! - c[0]!) * Math.max(0, c[3]! - c[1]!);
  }
  return out;
}

function pairwise(
  a: ArrayLike<number>,
  b: ArrayLike<number>,
  format: BoxFormat,
  iou: boolean,
): Float32Array {
  const n = assertPacked(a, 'a');
  const m = assertPacked(b, 'b');
  assertFormat(format, 'format');
  // Convert b once to xyxy corners (+ area) so the inner loop is branch-free.
  const bc = new Float64Array(m * 5);
  const c = new Float64Array(4);
  for (let j = 0; j < m; j++) {
    readCorners(b, j, format, c);
    bc.set(c, j * 5);
    bc[j * 5 + 4] = Math.max(0, c[2]! - c[0]!) * Math.max(0, c[3]! - c[1]!);
  }
  const out = new Float32Array(n * m);
  for (let i = 0; i < n; i++) {
    readCorners(a, i, format, c);
    const ax1 = c[0]!;
    const ay1 = c[1]!;
    const ax2 = c[2]!;
    const ay2 = c[3]!;
    const areaA = Math.max(0, ax2 - ax1) * Math.max(0, ay2 - ay1);
    for (let j = 0; j < m; j++) {
      const o = j * 5;
      const w = Math.min(ax2, bc[o + 2]!) - Math.max(ax1, bc[o]!);
      const h = Math.min(ay2, bc[o + 3]!) - Math.max(ay1, bc[o + 1]!);
      const inter = w > 0 && h > 0 ? w * h : 0;
      if (iou) {
        const union = areaA + bc[o + 4]! - inter;
        out[i * m + j] = union > 0 ? inter / union : 0;
      } else {
        out[i * m + j] = inter;
      }
    }
  }
  return out;
}

/** `pairwiseIntersection` on packed boxes: `[N * M]`, row-major (a outer). */
export function pairwiseIntersectionPacked(
  a: ArrayLike<number>,
  b: ArrayLike<number>,
  format: BoxFormat,
): Float32Array {
  return pairwise(a, b, format, false);
}

/**
 * `pairwiseIou` on packed boxes: `[N * M]`, row-major (a outer). Empty
 * unions give 0, never NaN.
 */
export function pairwiseIouPacked(
  a: ArrayLike<number>,
  b: ArrayLike<number>,
  format: BoxFormat,
): Float32Array {
  return pairwise(a, b, format, true);
}

/** `clipBoxes` on packed boxes; returns a new array. */
export function clipBoxesPacked(
  boxes: ArrayLike<number>,
  format: BoxFormat,
  size: ImageSize = { width: 1, height: 1 },
): PackedBoxes {
  const n = assertPacked(boxes, 'boxes');
  assertFormat(format, 'format');
  assertImageSize(size, 'size');
  const out = new Float32Array(n * 4);
  const c = new Float64Array(4);
  const clamp = (v: number, hi: number) => (v < 0 ? 0 : v > hi ? hi : v);
  for (let i = 0; i < n; i++) {
    readCorners(boxes, i, format, c);
    c[0] = clamp(c[0]!, size.width);
    c[1] = clamp(c[1]!, size.height);
    c[2] = clamp(c[2]!, size.width);
    c[3] = clamp(c[3]!, size.height);
    writeCorners(c, format, out, i);
  }
  return out;
}
