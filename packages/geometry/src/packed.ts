/**
 * The same box algorithms as `tensor.ts`, on packed `Float32Array`s
 * (`[N * 4]`, box after box) for the per-image CPU data pipeline, where a
 * tight loop beats dispatching tensor ops. Kept in lock-step with the tensor
 * versions by tests.
 */
import { BoxArgumentError, BoxShapeError } from './errors';
import {
  assertFormat,
  assertImageSize,
  scaleFactors,
  type BoxFormat,
  type ImageSize,
} from './format';

import type { PackedBoxes } from './contracts';

/**
 * Number of boxes in a packed `[N * 4]` array.
 * @param argument the caller's argument name, for the error.
 * @throws BoxShapeError when the length is not a multiple of 4.
 */
export function packedBoxCount(boxes: ArrayLike<number>, argument: string): number {
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
  // Indexed reads: destructuring a typed array goes through its iterator.
  const x1 = corners[0]!;
  const y1 = corners[1]!;
  const x2 = corners[2]!;
  const y2 = corners[3]!;
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
  const n = packedBoxCount(boxes, 'boxes');
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
  const n = packedBoxCount(boxes, 'boxes');
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

/** How box widths and the IoU arithmetic are computed (see {@link IouOptions}). */
export type IouPrecision = 'float64' | 'float32';

/** Options of the packed area, intersection and IoU functions. */
export interface BoxMathOptions {
  /**
   * Corners are inclusive integer pixel indices, as in the Pascal VOC devkit:
   * a box spans `x2 − x1 + 1` pixels (and an intersection `min(x2) − max(x1) + 1`).
   * Only for the corner formats `xyxy` and `yxyx`. Default `false`: continuous
   * edges, width `x2 − x1`.
   */
  inclusive?: boolean;
  /**
   * `'float64'` (default): JavaScript numbers throughout. `'float32'`: every
   * intermediate (corner, width, area, sum, intersection, quotient) rounded to
   * float32 with `Math.fround`, one rounding per operation, as torchvision and
   * tfjs compute on float32 tensors, so equal inputs give bit-identical IoUs.
   */
  precision?: IouPrecision;
}

/** Options of the pairwise functions: {@link BoxMathOptions} and an output buffer. */
export interface PairwiseOptions<O extends Float32Array | Float64Array = Float32Array>
  extends BoxMathOptions {
  /**
   * Where to write the `[N * M]` result, e.g. reused across images in a hot loop. A
   * `Float64Array` keeps float64 results unrounded (the default output is a new
   * `Float32Array`). Must have length N·M.
   */
  out?: O;
}

const fround = Math.fround;
const identity = (v: number): number => v;

interface ResolvedMath {
  /** `Math.fround` in float32 mode, identity otherwise. */
  r: (v: number) => number;
  /** `1` for inclusive pixel indices, else `0`. */
  extra: number;
}

function resolveMath(options: BoxMathOptions | undefined, format: BoxFormat): ResolvedMath {
  const precision = options?.precision ?? 'float64';
  if (precision !== 'float64' && precision !== 'float32') {
    throw new BoxArgumentError(
      `options.precision: expected 'float64' or 'float32', got ${String(precision)}`,
    );
  }
  const inclusive = options?.inclusive ?? false;
  if (inclusive && format !== 'xyxy' && format !== 'yxyx') {
    throw new BoxArgumentError(
      `options.inclusive: inclusive pixel indices need a corner format (xyxy or yxyx), got ${format}`,
    );
  }
  return MATH[precision === 'float32' ? (inclusive ? 3 : 2) : inclusive ? 1 : 0]!;
}

/** The four resolved settings, shared so inner loops allocate nothing. */
const MATH: readonly ResolvedMath[] = [
  { r: identity, extra: 0 },
  { r: identity, extra: 1 },
  { r: fround, extra: 0 },
  { r: fround, extra: 1 },
];

/**
 * Box `i` as corners into `out` with each conversion step rounded by `r`.
 * In float64 mode this is {@link readCorners}; in float32 mode
 * `x1 = fround(cx − fround(w / 2))` etc., as a float32 tensor computes it.
 */
function readCornersRounded(
  boxes: ArrayLike<number>,
  i: number,
  format: BoxFormat,
  r: (v: number) => number,
  out: Float64Array,
): Float64Array {
  readCorners(boxes, i, format, out);
  if (r === identity) return out;
  const o = i * 4;
  switch (format) {
    case 'xyxy':
    case 'yxyx':
      out[0] = r(out[0]!);
      out[1] = r(out[1]!);
      out[2] = r(out[2]!);
      out[3] = r(out[3]!);
      break;
    case 'xywh': {
      const x = r(boxes[o]!);
      const y = r(boxes[o + 1]!);
      out[0] = x;
      out[1] = y;
      out[2] = r(x + r(boxes[o + 2]!));
      out[3] = r(y + r(boxes[o + 3]!));
      break;
    }
    case 'cxcywh': {
      const cx = r(boxes[o]!);
      const cy = r(boxes[o + 1]!);
      const halfW = r(r(boxes[o + 2]!) / 2);
      const halfH = r(r(boxes[o + 3]!) / 2);
      out[0] = r(cx - halfW);
      out[1] = r(cy - halfH);
      out[2] = r(cx + halfW);
      out[3] = r(cy + halfH);
      break;
    }
  }
  return out;
}

/** Area of corners `c`: `max(0, w)·max(0, h)` with `w = x2 − x1 (+ 1)`, rounded by `r`. */
function cornerArea(c: Float64Array, m: ResolvedMath): number {
  const { r, extra } = m;
  const w = r(r(c[2]! - c[0]!) + extra);
  const h = r(r(c[3]! - c[1]!) + extra);
  return r(Math.max(0, w) * Math.max(0, h));
}

/**
 * `boxArea` on packed boxes: `[N]`, zero for empty or inverted boxes.
 * @param boxes `[N * 4]` in `format`.
 */
export function boxAreaPacked(
  boxes: ArrayLike<number>,
  format: BoxFormat,
  options?: BoxMathOptions,
): Float32Array {
  const n = packedBoxCount(boxes, 'boxes');
  assertFormat(format, 'format');
  const m = resolveMath(options, format);
  const out = new Float32Array(n);
  const c = new Float64Array(4);
  for (let i = 0; i < n; i++) out[i] = cornerArea(readCornersRounded(boxes, i, format, m.r, c), m);
  return out;
}

/**
 * Intersection (or IoU) of two boxes given as corners with their areas. The
 * order of operations is torchvision's `box_iou`: `w = min(x2) − max(x1)`,
 * `inter = w·h` (0 unless both are positive), `union = (areaA + areaB) − inter`,
 * `iou = inter / union` (0 for an empty union, never NaN).
 */
function overlap(
  ax1: number,
  ay1: number,
  ax2: number,
  ay2: number,
  areaA: number,
  b: Float64Array,
  bo: number,
  m: ResolvedMath,
  iou: boolean,
): number {
  const { r, extra } = m;
  const w = r(r(Math.min(ax2, b[bo + 2]!) - Math.max(ax1, b[bo]!)) + extra);
  const h = r(r(Math.min(ay2, b[bo + 3]!) - Math.max(ay1, b[bo + 1]!)) + extra);
  const inter = w > 0 && h > 0 ? r(w * h) : 0;
  if (!iou) return inter;
  const union = r(r(areaA + b[bo + 4]!) - inter);
  return union > 0 ? r(inter / union) : 0;
}

function pairwise<O extends Float32Array | Float64Array>(
  a: ArrayLike<number>,
  b: ArrayLike<number>,
  format: BoxFormat,
  options: PairwiseOptions<O> | undefined,
  iou: boolean,
): O {
  const n = packedBoxCount(a, 'a');
  const m = packedBoxCount(b, 'b');
  assertFormat(format, 'format');
  const math = resolveMath(options, format);
  let out = options?.out;
  if (out === undefined) out = new Float32Array(n * m) as O;
  else if (out.length !== n * m) {
    throw new BoxShapeError('options.out', `[${n} * ${m}]`, `length ${out.length}`);
  }
  // Convert b once to corners (+ area) so the inner loop is branch-free.
  const bc = new Float64Array(m * 5);
  const c = new Float64Array(4);
  for (let j = 0, o = 0; j < m; j++, o += 5) {
    readCornersRounded(b, j, format, math.r, c);
    bc[o] = c[0]!;
    bc[o + 1] = c[1]!;
    bc[o + 2] = c[2]!;
    bc[o + 3] = c[3]!;
    bc[o + 4] = cornerArea(c, math);
  }
  // Two copies of the loop, so that neither pays for the other's rounding in
  // the hot path (8732 anchors × the boxes of an image).
  const { extra } = math;
  for (let i = 0; i < n; i++) {
    readCornersRounded(a, i, format, math.r, c);
    const ax1 = c[0]!;
    const ay1 = c[1]!;
    const ax2 = c[2]!;
    const ay2 = c[3]!;
    const areaA = cornerArea(c, math);
    const row = i * m;
    if (math.r === fround) {
      for (let j = 0, o = 0; j < m; j++, o += 5) {
        let w = fround(Math.min(ax2, bc[o + 2]!) - Math.max(ax1, bc[o]!));
        let h = fround(Math.min(ay2, bc[o + 3]!) - Math.max(ay1, bc[o + 1]!));
        if (extra !== 0) {
          w = fround(w + extra);
          h = fround(h + extra);
        }
        const inter = w > 0 && h > 0 ? fround(w * h) : 0;
        if (!iou) out[row + j] = inter;
        else {
          const union = fround(fround(areaA + bc[o + 4]!) - inter);
          out[row + j] = union > 0 ? fround(inter / union) : 0;
        }
      }
    } else {
      for (let j = 0, o = 0; j < m; j++, o += 5) {
        const w = Math.min(ax2, bc[o + 2]!) - Math.max(ax1, bc[o]!) + extra;
        const h = Math.min(ay2, bc[o + 3]!) - Math.max(ay1, bc[o + 1]!) + extra;
        const inter = w > 0 && h > 0 ? w * h : 0;
        if (!iou) out[row + j] = inter;
        else {
          const union = areaA + bc[o + 4]! - inter;
          out[row + j] = union > 0 ? inter / union : 0;
        }
      }
    }
  }
  return out;
}

/**
 * `pairwiseIntersection` on packed boxes: `[N * M]`, row-major (a outer).
 * @param a `[N * 4]` in `format`.
 * @param b `[M * 4]` in `format`.
 */
export function pairwiseIntersectionPacked<O extends Float32Array | Float64Array = Float32Array>(
  a: ArrayLike<number>,
  b: ArrayLike<number>,
  format: BoxFormat,
  options?: PairwiseOptions<O>,
): O {
  return pairwise(a, b, format, options, false);
}

/**
 * `pairwiseIou` on packed boxes: `[N * M]`, row-major (a outer). Empty
 * unions give 0, never NaN.
 * @param a `[N * 4]` in `format`.
 * @param b `[M * 4]` in `format`.
 */
export function pairwiseIouPacked<O extends Float32Array | Float64Array = Float32Array>(
  a: ArrayLike<number>,
  b: ArrayLike<number>,
  format: BoxFormat,
  options?: PairwiseOptions<O>,
): O {
  return pairwise(a, b, format, options, true);
}

/**
 * The IoU of one box against another, for inner loops (NMS, VOC matching, crop
 * sampling) where a full table would be wasted: box `i` of `a` and box `j` of `b`,
 * computed exactly as {@link pairwiseIouPacked} computes that entry (with `a`'s
 * box as the row), but returned as a number, so float64 results stay unrounded.
 * @param a `[N * 4]` in `format`.
 * @param b `[M * 4]` in `format` (may be `a` itself).
 */
export function boxIouPacked(
  a: ArrayLike<number>,
  i: number,
  b: ArrayLike<number>,
  j: number,
  format: BoxFormat,
  options?: BoxMathOptions,
): number {
  const math = resolveMath(options, format);
  const ca = readCornersRounded(a, i, format, math.r, scratchA);
  const areaA = cornerArea(ca, math);
  readCornersRounded(b, j, format, math.r, scratchB);
  scratchB[4] = cornerArea(scratchB, math);
  return overlap(ca[0]!, ca[1]!, ca[2]!, ca[3]!, areaA, scratchB, 0, math, true);
}

const scratchA = new Float64Array(4);
const scratchB = new Float64Array(5);

/** `clipBoxes` on packed boxes; returns a new array. */
export function clipBoxesPacked(
  boxes: ArrayLike<number>,
  format: BoxFormat,
  size: ImageSize = { width: 1, height: 1 },
): PackedBoxes {
  const n = packedBoxCount(boxes, 'boxes');
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
