import * as tf from '@tensorflow/tfjs-core';
import { BoxShapeError } from '@ssd/geometry';
import { MatcherInputError } from './errors';
import type { Targets } from './targets';

/** A batch of training targets as tensors, the shapes `@ssd/loss` takes. */
export interface StackedTargets {
  /** `[B, P, 4]` float32 encoded offsets; 0 where the anchor is not positive. */
  locTargets: tf.Tensor3D;
  /** `[B, P]` int32: 0 background, 1..K classes, −1 ignored. */
  labels: tf.Tensor2D;
}

/**
 * Stacks the per-image targets of `encodeTargets` (or `createTargetEncoder`) into
 * the batch tensors of `multiboxLoss` / `packTargets`, image `b` at row `b`. One copy
 * into one buffer per tensor, no tensor op per image.
 * @param perImage `B ≥ 1` images' `{ locTargets [P * 4], labels [P] }`, all over the same `P` anchors.
 * @returns `{ locTargets [B, P, 4], labels [B, P] }`, owned by the caller.
 */
export function stackTargets(perImage: readonly Targets[]): StackedTargets {
  if (perImage.length === 0) {
    throw new MatcherInputError('perImage', perImage, 'expected the targets of at least one image');
  }
  const numAnchors = perImage[0]!.labels.length;
  perImage.forEach(({ locTargets, labels }, b) => {
    if (labels.length !== numAnchors) {
      throw new BoxShapeError(
        `perImage[${b}].labels`,
        `[${numAnchors}] (as perImage[0])`,
        `length ${labels.length}`,
      );
    }
    if (locTargets.length !== numAnchors * 4) {
      throw new BoxShapeError(
        `perImage[${b}].locTargets`,
        `[${numAnchors} * 4] (4 per label)`,
        `length ${locTargets.length}`,
      );
    }
  });
  const batch = perImage.length;
  const locTargets = new Float32Array(batch * numAnchors * 4);
  const labels = new Int32Array(batch * numAnchors);
  perImage.forEach((targets, b) => {
    locTargets.set(targets.locTargets, b * numAnchors * 4);
    labels.set(targets.labels, b * numAnchors);
  });
  return {
    locTargets: tf.tensor3d(locTargets, [batch, numAnchors, 4]),
    labels: tf.tensor2d(labels, [batch, numAnchors], 'int32'),
  };
}
