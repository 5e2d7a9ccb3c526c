import { boxIouPacked, type PackedBoxes } from '@ssd/geometry';
import { DetectInputError } from './errors';

export interface NmsOptions {
  /** A box is dropped when its IoU with a kept, higher-scoring box is greater than this. */
  iouThreshold: number;
  /** Keep at most this many boxes (default: all that survive). */
  maxOutput?: number;
  /** Only these indices take part (default: every box). */
  candidates?: Int32Array;
}

/**
 * Greedy non-maximum suppression on packed boxes, the algorithm of
 * `tf.image.nonMaxSuppression` and torchvision's `nms` without tensors: visit
 * boxes by decreasing score (ties: lower index first), keep a box unless its IoU
 * with an already kept box exceeds `iouThreshold` (`@ssd/geometry`'s `boxIouPacked`).
 * @param boxes `[N * 4]`, xyxy (any one scale; IoU is scale-free).
 * @param scores `[N]`.
 * @returns kept indices into `boxes`, by decreasing score.
 */
export function nonMaxSuppressionPacked(
  boxes: PackedBoxes<'xyxy'>,
  scores: ArrayLike<number>,
  options: NmsOptions,
): Int32Array {
  const { iouThreshold } = options;
  const maxOutput = options.maxOutput ?? Infinity;
  if (boxes.length !== scores.length * 4) {
    throw new DetectInputError(
      'boxes',
      boxes.length,
      `expected [${scores.length} * 4] (one box per score), got length ${boxes.length}`,
    );
  }
  if (!(iouThreshold >= 0 && iouThreshold <= 1)) {
    throw new DetectInputError('iouThreshold', iouThreshold, 'expected a number in [0, 1]');
  }
  const order =
    options.candidates !== undefined
      ? Int32Array.from(options.candidates)
      : Int32Array.from({ length: scores.length }, (_, i) => i);
  order.sort((a, b) => scores[b]! - scores[a]! || a - b);

  const kept = new Int32Array(Math.min(order.length, maxOutput));
  let numKept = 0;
  for (let o = 0; o < order.length && numKept < maxOutput; o++) {
    const i = order[o]!;
    let suppressed = false;
    for (let k = 0; k < numKept; k++) {
      // Continuous (float64) IoU: 0 for disjoint boxes or an empty union.
      if (boxIouPacked(boxes, i, boxes, kept[k]!, 'xyxy') > iouThreshold) {
        suppressed = true;
        break;
      }
    }
    if (!suppressed) kept[numKept++] = i;
  }
  return kept.slice(0, numKept);
}
