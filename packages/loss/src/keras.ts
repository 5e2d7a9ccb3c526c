/**
 * The MultiBox loss as a Keras-style loss function `(yTrue, yPred) => Scalar`, for
 * `model.compile({ loss })` or a custom training loop of any tfjs-layers model.
 *
 * Packing (last axis), with C = numClasses = K + 1 (the K object classes plus
 * background at 0; VOC: 21):
 * - `yPred` `[batch, numAnchors, 4 + C]`: `[locPred (4), logits (C)]` — concatenate
 *   the model's two outputs (`tf.layers.concatenate()`), or use `packPredictions`.
 * - `yTrue`, either
 *   - `[batch, numAnchors, 5]`: `[locTargets (4), label]`, the label as a float
 *     (0 background, 1..K, −1 ignored) — compact, for custom loops; or
 *   - `[batch, numAnchors, 4 + C]`: `[locTargets (4), one-hot label (C)]`, an
 *     all-zero row meaning ignored — the same shape as `yPred`, which
 *     `model.fit` requires of targets.
 *   `packTargets` builds either from `encodeTargets` output.
 */
import * as tf from '@tensorflow/tfjs-core';
import { LossInputError } from './errors';
import { floatOneHot, multiboxLoss, type MultiboxLossOptions } from './multibox';

/** How `yTrue` carries the label: one number (`'label'`, width 5) or one-hot (`'oneHot'`, width 4 + C). */
export type TargetPacking = 'label' | 'oneHot';

const shapeOf = (t: tf.Tensor) => `shape [${t.shape.join(', ')}]`;

/**
 * Packs targets for the Keras-style loss.
 * @param locTargets `[batch, numAnchors, 4]`.
 * @param labels `[batch, numAnchors]` int32: 0 background, 1..K, −1 ignored.
 * @param options `{ packing: 'oneHot', numClasses }` requires `numClasses` (K + 1,
 *   background included; `LossInputError` without it).
 * @returns `[batch, numAnchors, 5]` (`'label'`) or `[batch, numAnchors, 4 + numClasses]`
 *   (`'oneHot'`), float32, owned by the caller.
 */
export function packTargets(
  locTargets: tf.Tensor,
  labels: tf.Tensor,
  options: { packing: 'label' } | { packing: 'oneHot'; numClasses: number } = { packing: 'label' },
): tf.Tensor3D {
  if (locTargets.rank !== 3 || locTargets.shape[2] !== 4) {
    throw new LossInputError('locTargets', 'shape [batch, numAnchors, 4]', shapeOf(locTargets));
  }
  if (
    labels.rank !== 2 ||
    labels.shape[0] !== locTargets.shape[0] ||
    labels.shape[1] !== locTargets.shape[1]
  ) {
    throw new LossInputError(
      'labels',
      `shape [${locTargets.shape[0]}, ${locTargets.shape[1]}]`,
      shapeOf(labels),
    );
  }
  const packing: unknown = options.packing;
  if (packing !== 'label' && packing !== 'oneHot') {
    throw new LossInputError('options.packing', `'label' or 'oneHot'`, `${String(packing)}`);
  }
  if (options.packing === 'oneHot') {
    // Without it the one-hot would be empty and yTrue 4 wide, which no yPred matches.
    const { numClasses } = options as { numClasses?: unknown };
    if (!(Number.isInteger(numClasses) && (numClasses as number) >= 2)) {
      throw new LossInputError(
        'options.numClasses',
        "an integer ≥ 2 (the K object classes plus background) for packing: 'oneHot'",
        numClasses === undefined ? 'none' : String(numClasses),
      );
    }
  }
  return tf.tidy(() => {
    if (options.packing === 'label') {
      return tf.concat(
        [locTargets, tf.expandDims(tf.cast(labels, 'float32'), 2)],
        2,
      ) as tf.Tensor3D;
    }
    // oneHot gives an all-zero row for −1: ignored.
    const oneHot = floatOneHot(tf.cast(labels, 'int32'), options.numClasses);
    return tf.concat([locTargets, oneHot], 2) as tf.Tensor3D;
  });
}

/** `[locPred, logits]` → `[batch, numAnchors, 4 + C]`, the `yPred` packing. */
export function packPredictions(locPred: tf.Tensor, logits: tf.Tensor): tf.Tensor3D {
  if (locPred.rank !== 3 || locPred.shape[2] !== 4) {
    throw new LossInputError('locPred', 'shape [batch, numAnchors, 4]', shapeOf(locPred));
  }
  return tf.concat([locPred, logits], 2) as tf.Tensor3D;
}

/**
 * A Keras-style loss function computing `multiboxLoss(...).total` from packed
 * tensors (see the module comment for the packing; the `yTrue` packing is
 * recognised by its width).
 */
export function kerasMultiboxLoss(
  options?: MultiboxLossOptions,
): (yTrue: tf.Tensor, yPred: tf.Tensor) => tf.Scalar {
  return (yTrue, yPred) => {
    if (yPred.rank !== 3 || yPred.shape[2]! < 6) {
      throw new LossInputError(
        'yPred',
        'shape [batch, numAnchors, 4 + numClasses ≥ 6]',
        shapeOf(yPred),
      );
    }
    const width = yPred.shape[2]!;
    const numClasses = width - 4;
    const trueWidth = yTrue.shape[2];
    if (
      yTrue.rank !== 3 ||
      yTrue.shape[0] !== yPred.shape[0] ||
      yTrue.shape[1] !== yPred.shape[1] ||
      (trueWidth !== 5 && trueWidth !== width)
    ) {
      throw new LossInputError(
        'yTrue',
        `shape [${yPred.shape[0]}, ${yPred.shape[1]}, 5] (locTargets, label) or [.., .., ${width}] (locTargets, one-hot label)`,
        shapeOf(yTrue),
      );
    }
    return tf.tidy(() => {
      const locPred = tf.slice(yPred, [0, 0, 0], [-1, -1, 4]);
      const logits = tf.slice(yPred, [0, 0, 4], [-1, -1, numClasses]);
      const locTargets = tf.slice(yTrue, [0, 0, 0], [-1, -1, 4]);
      let labels: tf.Tensor;
      if (trueWidth === 5) {
        labels = tf.cast(
          tf.round(tf.squeeze(tf.slice(yTrue, [0, 0, 4], [-1, -1, 1]), [2])),
          'int32',
        );
      } else {
        const oneHot = tf.slice(yTrue, [0, 0, 4], [-1, -1, numClasses]);
        const present = tf.greater(tf.sum(oneHot, 2), 0.5);
        labels = tf.where(
          present,
          tf.cast(tf.argMax(oneHot, 2), 'int32'),
          tf.fill(present.shape, -1, 'int32'),
        );
      }
      const { total } = multiboxLoss({ locPred, logits }, { locTargets, labels }, options);
      return total;
    });
  };
}
