import { generateAnchorsPacked, type AnchorConfig } from '@ssd/anchors';
import { BoxShapeError, packedBoxCount, type NumClasses, type PackedBoxes } from '@ssd/geometry';
import { encodeOne, resolveVariances, type BoxCoderOptions } from './coder';
import { MatcherInputError } from './errors';
import { assertRelativeBoxes } from './relative';
import {
  MATCH_BETWEEN_THRESHOLDS,
  matchValidated,
  resolveMatchOptions,
  toFloat32,
  validateGtBoxes,
  type MatchOptions,
} from './match';

export interface EncodeTargetsOptions extends MatchOptions, BoxCoderOptions {
  /**
   * The K object classes plus background (VOC: 21). If given, labels must lie
   * in 1..numClasses−1; otherwise any integer ≥ 1 is accepted.
   */
  numClasses?: NumClasses;
}

/** Training targets of one image. */
export interface Targets {
  /** `[P * 4]` encoded offsets of each positive anchor's box; 0 elsewhere. */
  locTargets: Float32Array;
  /** `[P]`: 0 background, 1..K the matched box's class, −1 ignored. */
  labels: Int32Array;
}

function validateLabels(gtLabels: ArrayLike<number>, numGt: number, numClasses?: NumClasses): void {
  if (gtLabels.length !== numGt) {
    throw new BoxShapeError('gtLabels', `[${numGt}] (one per box)`, `length ${gtLabels.length}`);
  }
  if (numClasses !== undefined && !(Number.isInteger(numClasses) && numClasses >= 2)) {
    throw new MatcherInputError(
      'options.numClasses',
      numClasses,
      `expected an integer ≥ 2 (classes plus background), got ${numClasses}`,
    );
  }
  for (let g = 0; g < numGt; g++) {
    const label = gtLabels[g]!;
    if (
      !Number.isInteger(label) ||
      label < 1 ||
      (numClasses !== undefined && label >= numClasses)
    ) {
      const range =
        numClasses === undefined ? 'an integer ≥ 1' : `an integer in 1..${numClasses - 1}`;
      throw new MatcherInputError(
        `gtLabels[${g}]`,
        label,
        `expected ${range} (0 is the background), got ${label}`,
      );
    }
  }
}

/**
 * Per-anchor training targets of one image: matches the default boxes to the
 * ground truth (`matchAnchors`) and encodes each positive anchor's box. An image
 * without boxes gives all-background targets.
 *
 * Throws `MatcherInputError` naming the box for ground truth that is not relative
 * (a coordinate outside [−1e-3, 1 + 1e-3], see `assertRelativeBoxes`; pixel boxes
 * would otherwise match no anchor and train only background), for a degenerate box
 * (unless `invalidBoxes: 'drop'`) and for a label outside 1..K.
 * @param anchors `[P * 4]`, cxcywh, relative.
 * @param gtBoxes `[G * 4]`, xyxy, relative (0..1).
 * @param gtLabels `[G]`, 1..K (K = numClasses − 1).
 */
export function encodeTargets(
  anchors: PackedBoxes<'cxcywh', 'relative'>,
  gtBoxes: PackedBoxes<'xyxy', 'relative'>,
  gtLabels: ArrayLike<number>,
  options?: EncodeTargetsOptions,
): Targets {
  const resolved = resolveMatchOptions(options);
  const v = Float32Array.from(resolveVariances(options));
  const numAnchors = packedBoxCount(anchors, 'anchors');
  const numGt = packedBoxCount(gtBoxes, 'gtBoxes');
  assertRelativeBoxes(gtBoxes);
  validateLabels(gtLabels, numGt, options?.numClasses);
  const valid = validateGtBoxes(gtBoxes, resolved);
  const anchors32 = toFloat32(anchors);
  const gt32 = toFloat32(gtBoxes);
  const matches = matchValidated(anchors32, gt32, valid, resolved);
  const locTargets = new Float32Array(numAnchors * 4);
  const labels = new Int32Array(numAnchors);
  for (let p = 0; p < numAnchors; p++) {
    const g = matches[p]!;
    if (g >= 0) {
      labels[p] = gtLabels[g]!;
      encodeOne(gt32, g, anchors32, p, v, locTargets);
    } else if (g === MATCH_BETWEEN_THRESHOLDS) {
      labels[p] = -1;
    }
  }
  return { locTargets, labels };
}

/**
 * A per-image target encoder for a data pipeline: the default boxes of `anchors`
 * (a config, generated once, or packed boxes) and the options are fixed up front.
 */
export function createTargetEncoder(
  anchors: AnchorConfig | PackedBoxes<'cxcywh', 'relative'>,
  options?: EncodeTargetsOptions,
): (gtBoxes: PackedBoxes<'xyxy', 'relative'>, gtLabels: ArrayLike<number>) => Targets {
  const packed = 'featureMapSizes' in anchors ? generateAnchorsPacked(anchors) : toFloat32(anchors);
  resolveMatchOptions(options);
  resolveVariances(options);
  const fixed = options === undefined ? undefined : { ...options };
  return (gtBoxes, gtLabels) => encodeTargets(packed, gtBoxes, gtLabels, fixed);
}
