import * as tf from '@tensorflow/tfjs-core';
import { BoxShapeError } from './errors';
import {
  assertFormat,
  assertImageSize,
  scaleFactors,
  type BoxFormat,
  type ImageSize,
} from './format';

/** `boxes` is `[..., 4]` (`[..., N, 4]` when `minRank` is 2). */
function assertBoxes(boxes: tf.Tensor, argument: string, minRank: 1 | 2 = 1): void {
  if (boxes.rank < minRank || boxes.shape[boxes.rank - 1] !== 4) {
    const expected = minRank === 2 ? '[..., N, 4]' : '[..., 4]';
    throw new BoxShapeError(argument, expected, `[${boxes.shape.join(', ')}]`);
  }
}

type Coordinates = [tf.Tensor, tf.Tensor, tf.Tensor, tf.Tensor];

function split4(boxes: tf.Tensor): Coordinates {
  return tf.split(boxes, 4, -1) as Coordinates;
}

/** Any format → xyxy, as four `[..., 1]` tensors. */
function toCorners(boxes: tf.Tensor, format: BoxFormat): Coordinates {
  const [a, b, c, d] = split4(boxes);
  switch (format) {
    case 'xyxy':
      return [a, b, c, d];
    case 'yxyx':
      return [b, a, d, c];
    case 'xywh':
      return [a, b, tf.add(a, c), tf.add(b, d)];
    case 'cxcywh': {
      const halfW = tf.mul(c, 0.5);
      const halfH = tf.mul(d, 0.5);
      return [tf.sub(a, halfW), tf.sub(b, halfH), tf.add(a, halfW), tf.add(b, halfH)];
    }
  }
}

/** xyxy corners → `format`, concatenated back into `[..., 4]`. */
function fromCorners([x1, y1, x2, y2]: Coordinates, format: BoxFormat): tf.Tensor {
  switch (format) {
    case 'xyxy':
      return tf.concat([x1, y1, x2, y2], -1);
    case 'yxyx':
      return tf.concat([y1, x1, y2, x2], -1);
    case 'xywh':
      return tf.concat([x1, y1, tf.sub(x2, x1), tf.sub(y2, y1)], -1);
    case 'cxcywh':
      return tf.concat(
        [tf.mul(tf.add(x1, x2), 0.5), tf.mul(tf.add(y1, y2), 0.5), tf.sub(x2, x1), tf.sub(y2, y1)],
        -1,
      );
  }
}

/**
 * Converts boxes between formats.
 * @param boxes `[..., 4]` in `from`.
 * @returns `[..., 4]` in `to` (a new tensor even when `from === to`).
 */
export function convertBoxes<T extends tf.Tensor>(boxes: T, from: BoxFormat, to: BoxFormat): T {
  assertBoxes(boxes, 'boxes');
  assertFormat(from, 'from');
  assertFormat(to, 'to');
  if (from === to) return tf.clone(boxes);
  return tf.tidy(() => fromCorners(toCorners(boxes, from), to)) as T;
}

/**
 * Relative (0..1) boxes → absolute pixels of an image of `size`.
 * @param boxes `[..., 4]` relative, in `format`.
 */
export function toAbsolute<T extends tf.Tensor>(boxes: T, format: BoxFormat, size: ImageSize): T {
  assertBoxes(boxes, 'boxes');
  assertFormat(format, 'format');
  assertImageSize(size, 'size');
  return tf.tidy(() => tf.mul(boxes, tf.tensor1d(scaleFactors(format, size)))) as T;
}

/**
 * Absolute pixel boxes of an image of `size` → relative (0..1).
 * @param boxes `[..., 4]` absolute, in `format`.
 */
export function toRelative<T extends tf.Tensor>(boxes: T, format: BoxFormat, size: ImageSize): T {
  assertBoxes(boxes, 'boxes');
  assertFormat(format, 'format');
  assertImageSize(size, 'size');
  return tf.tidy(() => tf.div(boxes, tf.tensor1d(scaleFactors(format, size)))) as T;
}

/**
 * Area of each box; zero for empty or inverted boxes.
 * @param boxes `[..., 4]` in `format`.
 * @returns `[...]`.
 */
export function boxArea(boxes: tf.Tensor, format: BoxFormat): tf.Tensor {
  assertBoxes(boxes, 'boxes');
  assertFormat(format, 'format');
  return tf.tidy(() => {
    const [x1, y1, x2, y2] = toCorners(boxes, format);
    const area = tf.mul(tf.relu(tf.sub(x2, x1)), tf.relu(tf.sub(y2, y1)));
    return tf.squeeze(area, [-1]);
  });
}

/**
 * `[..., N, M]` intersections plus the `[..., N, 1]` and `[..., 1, M]` areas, all in
 * one tidy scope. Leading dimensions broadcast as in any tfjs binary op.
 */
function intersectionAndAreas(a: tf.Tensor, b: tf.Tensor, format: BoxFormat) {
  const [ax1, ay1, ax2, ay2] = toCorners(a, format); // each [..., N, 1]
  // [..., M, 1] → [..., 1, M]: swapping a size-1 axis is a reshape.
  const rowShape = [...b.shape.slice(0, -2), 1, b.shape[b.rank - 2]!];
  const [bx1, by1, bx2, by2] = toCorners(b, format).map((t) => tf.reshape(t, rowShape));
  const width = tf.relu(tf.sub(tf.minimum(ax2, bx2!), tf.maximum(ax1, bx1!)));
  const height = tf.relu(tf.sub(tf.minimum(ay2, by2!), tf.maximum(ay1, by1!)));
  const intersection = tf.mul(width, height); // [..., N, M]
  const areaA = tf.mul(tf.relu(tf.sub(ax2, ax1)), tf.relu(tf.sub(ay2, ay1))); // [..., N, 1]
  const areaB = tf.mul(tf.relu(tf.sub(bx2!, bx1!)), tf.relu(tf.sub(by2!, by1!))); // [..., 1, M]
  return { intersection, areaA, areaB };
}

/**
 * Checks `a` `[..., N, 4]` and `b` `[..., M, 4]` (rank ≥ 2) and that their leading
 * dimensions broadcast (numpy rules: aligned from the right, equal or 1).
 */
function assertPair(a: tf.Tensor, b: tf.Tensor, format: BoxFormat): void {
  assertBoxes(a, 'a', 2);
  assertBoxes(b, 'b', 2);
  const leadA = a.shape.slice(0, -2);
  const leadB = b.shape.slice(0, -2);
  for (let i = 1; i <= Math.min(leadA.length, leadB.length); i++) {
    const da = leadA[leadA.length - i]!;
    const db = leadB[leadB.length - i]!;
    if (da !== db && da !== 1 && db !== 1) {
      throw new BoxShapeError(
        'b',
        `leading dimensions broadcastable with a's [${leadA.join(', ')}]`,
        `[${b.shape.join(', ')}]`,
      );
    }
  }
  assertFormat(format, 'format');
}

/**
 * Intersection area of every pair of boxes, per leading index.
 * @param a `[..., N, 4]`, @param b `[..., M, 4]`, both in `format`; the leading
 *   dimensions broadcast (e.g. `[B, G, 4]` against `[P, 4]`).
 * @returns `[..., N, M]`.
 */
export function pairwiseIntersection(
  a: tf.Tensor2D,
  b: tf.Tensor2D,
  format: BoxFormat,
): tf.Tensor2D;
export function pairwiseIntersection(a: tf.Tensor, b: tf.Tensor, format: BoxFormat): tf.Tensor;
export function pairwiseIntersection(a: tf.Tensor, b: tf.Tensor, format: BoxFormat): tf.Tensor {
  assertPair(a, b, format);
  return tf.tidy(() => intersectionAndAreas(a, b, format).intersection);
}

/**
 * Intersection over union of every pair of boxes, per leading index. A pair whose
 * union is empty (zero-area or inverted boxes) has IoU 0, never NaN.
 * @param a `[..., N, 4]`, @param b `[..., M, 4]`, both in `format`; the leading
 *   dimensions broadcast (e.g. `[B, G, 4]` against `[P, 4]` gives `[B, G, P]`).
 * @returns `[..., N, M]`.
 */
export function pairwiseIou(a: tf.Tensor2D, b: tf.Tensor2D, format: BoxFormat): tf.Tensor2D;
export function pairwiseIou(a: tf.Tensor, b: tf.Tensor, format: BoxFormat): tf.Tensor;
export function pairwiseIou(a: tf.Tensor, b: tf.Tensor, format: BoxFormat): tf.Tensor {
  assertPair(a, b, format);
  return tf.tidy(() => {
    const { intersection, areaA, areaB } = intersectionAndAreas(a, b, format);
    const union = tf.sub(tf.add(areaA, areaB), intersection);
    const positive = tf.greater(union, 0);
    // divNoNan keeps the unused branch finite so gradients stay clean too.
    return tf.where(positive, tf.divNoNan(intersection, union), tf.zerosLike(union));
  });
}

/**
 * Clips boxes to `[0, width] × [0, height]` (default: the relative unit square).
 * @param boxes `[..., 4]` in `format`.
 */
export function clipBoxes<T extends tf.Tensor>(
  boxes: T,
  format: BoxFormat,
  size: ImageSize = { width: 1, height: 1 },
): T {
  assertBoxes(boxes, 'boxes');
  assertFormat(format, 'format');
  assertImageSize(size, 'size');
  return tf.tidy(() => {
    const [x1, y1, x2, y2] = toCorners(boxes, format);
    const clipX = (t: tf.Tensor) => tf.clipByValue(t, 0, size.width);
    const clipY = (t: tf.Tensor) => tf.clipByValue(t, 0, size.height);
    return fromCorners([clipX(x1), clipY(y1), clipX(x2), clipY(y2)], format);
  }) as T;
}
