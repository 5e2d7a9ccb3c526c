import * as tf from '@tensorflow/tfjs-core';
import { LossInputError } from './errors';

/** The model's outputs for a batch. */
export interface MultiboxPredictions {
  /** `[batch, numAnchors, 4]` predicted offsets (the box coder's encoding). */
  locPred: tf.Tensor;
  /** `[batch, numAnchors, numClasses]` class logits (numClasses includes background, at 0). */
  logits: tf.Tensor;
}

/** The per-anchor targets of a batch, as `@ssd/matcher`'s `encodeTargets` makes them. */
export interface MultiboxTargets {
  /** `[batch, numAnchors, 4]` encoded offsets; read only where `labels > 0`. */
  locTargets: tf.Tensor;
  /** `[batch, numAnchors]` int32: 0 background, 1..C−1 classes, −1 ignored. */
  labels: tf.Tensor;
}

export interface MultiboxLossOptions {
  /** Hard negatives kept per positive, per image (Caffe's `neg_pos_ratio`). Default 3. */
  negativesPerPositive?: number;
  /** Weight α of the localization term: total = confidence + α·localization. Default 1. */
  locWeight?: number;
  /**
   * At least this many hard negatives per image, even with few or no positives
   * (never more than the image has). Default 0, as Caffe and torchvision: an image
   * without positives then contributes nothing.
   */
  minNegatives?: number;
}

/** The loss terms, each a scalar owned by the caller. */
export interface MultiboxLoss {
  /** confidence + locWeight · localization: what to minimise. */
  total: tf.Scalar;
  /** Smooth-L1 over the positive anchors, divided by max(1, positives in the batch). */
  localization: tf.Scalar;
  /** Cross-entropy over positives and mined negatives, divided by max(1, positives). */
  confidence: tf.Scalar;
}

interface Resolved {
  negativesPerPositive: number;
  locWeight: number;
  minNegatives: number;
}

function resolveOptions(options: MultiboxLossOptions | undefined): Resolved {
  const resolved = {
    negativesPerPositive: options?.negativesPerPositive ?? 3,
    locWeight: options?.locWeight ?? 1,
    minNegatives: options?.minNegatives ?? 0,
  };
  for (const [name, value] of Object.entries(resolved)) {
    if (!(Number.isFinite(value) && value >= 0)) {
      throw new LossInputError(`options.${name}`, 'a finite number ≥ 0', String(value));
    }
  }
  if (!Number.isInteger(resolved.minNegatives)) {
    throw new LossInputError(
      'options.minNegatives',
      'an integer ≥ 0',
      String(resolved.minNegatives),
    );
  }
  return resolved;
}

const shapeOf = (t: tf.Tensor) => `shape [${t.shape.join(', ')}]`;

function checkInputs(predictions: MultiboxPredictions, targets: MultiboxTargets): void {
  const { locPred, logits } = predictions;
  const { locTargets, labels } = targets;
  if (locPred.rank !== 3 || locPred.shape[2] !== 4) {
    throw new LossInputError(
      'predictions.locPred',
      'shape [batch, numAnchors, 4]',
      shapeOf(locPred),
    );
  }
  const [batch, numAnchors] = locPred.shape as [number, number, number];
  if (
    logits.rank !== 3 ||
    logits.shape[0] !== batch ||
    logits.shape[1] !== numAnchors ||
    logits.shape[2]! < 2
  ) {
    throw new LossInputError(
      'predictions.logits',
      `shape [${batch}, ${numAnchors}, numClasses ≥ 2]`,
      shapeOf(logits),
    );
  }
  if (
    locTargets.rank !== 3 ||
    locTargets.shape[0] !== batch ||
    locTargets.shape[1] !== numAnchors ||
    locTargets.shape[2] !== 4
  ) {
    throw new LossInputError(
      'targets.locTargets',
      `shape [${batch}, ${numAnchors}, 4]`,
      shapeOf(locTargets),
    );
  }
  if (labels.rank !== 2 || labels.shape[0] !== batch || labels.shape[1] !== numAnchors) {
    throw new LossInputError('targets.labels', `shape [${batch}, ${numAnchors}]`, shapeOf(labels));
  }
  for (const [name, t] of [
    ['predictions.locPred', locPred],
    ['predictions.logits', logits],
    ['targets.locTargets', locTargets],
  ] as const) {
    if (t.dtype !== 'float32') throw new LossInputError(name, 'dtype float32', `dtype ${t.dtype}`);
  }
  if (labels.dtype !== 'int32') {
    throw new LossInputError(
      'targets.labels',
      'dtype int32 (0 background, 1..C−1, −1 ignored)',
      `dtype ${labels.dtype}`,
    );
  }
}

/** Smooth L1 (β = 1) per element: 0.5·x² where |x| < 1, |x| − 0.5 elsewhere. */
export function smoothL1(x: tf.Tensor): tf.Tensor {
  return tf.tidy(() => {
    const absolute = tf.abs(x);
    const inner = tf.minimum(absolute, 1); // the quadratic part, |x| capped at 1
    return tf.add(tf.mul(tf.square(inner), 0.5), tf.sub(absolute, inner));
  });
}

/**
 * Which background anchors enter the confidence loss: per image, the
 * `k = min(numNegatives, max(negativesPerPositive·numPositives, minNegatives))`
 * negatives (label 0) with the highest loss; ties go to the lower anchor index.
 * The mask is a constant for differentiation: no gradient flows into it.
 * @param confidenceLoss `[batch, numAnchors]` per-anchor cross-entropy.
 * @param labels `[batch, numAnchors]` int32.
 * @returns `[batch, numAnchors]` float32, 1 for a mined negative; owned by the caller.
 */
export function hardNegativeMask(
  confidenceLoss: tf.Tensor,
  labels: tf.Tensor,
  options?: Pick<MultiboxLossOptions, 'negativesPerPositive' | 'minNegatives'>,
): tf.Tensor2D {
  const { negativesPerPositive, minNegatives } = resolveOptions(options);
  if (confidenceLoss.rank !== 2 || !tf.util.arraysEqual(confidenceLoss.shape, labels.shape)) {
    throw new LossInputError(
      'confidenceLoss',
      `the shape of labels [${labels.shape.join(', ')}], [batch, numAnchors]`,
      shapeOf(confidenceLoss),
    );
  }
  const [batch, numAnchors] = confidenceLoss.shape as [number, number];
  // customGrad with a zero gradient: the kernels inside are not taped, so the
  // selection (sort, scatter, comparisons) never sees a gradient.
  const mine = tf.customGrad((...inputs: (tf.Tensor | tf.GradSaveFunc)[]) => {
    const loss = inputs[0] as tf.Tensor;
    const value = tf.tidy(() => {
      const negative = tf.equal(labels, 0);
      const numPositives = tf.sum(tf.cast(tf.greater(labels, 0), 'float32'), 1, true); // [B, 1]
      const numNegatives = tf.sum(tf.cast(negative, 'float32'), 1, true);
      const wanted = tf.maximum(tf.floor(tf.mul(numPositives, negativesPerPositive)), minNegatives);
      const k = tf.minimum(wanted, numNegatives); // [B, 1]
      // Sort negatives by loss, highest first (non-negatives last, at −Inf).
      const ranked = tf.where(negative, loss, tf.fill([batch, numAnchors], -Infinity));
      const { indices } = tf.topk(ranked, numAnchors, true); // [B, P]
      const rank = tf.reshape(tf.range(0, numAnchors, 1, 'float32'), [1, numAnchors]);
      const selectedInOrder = tf.cast(tf.less(rank, k), 'float32'); // [B, P], sorted order
      const rows = tf.tile(tf.reshape(tf.range(0, batch, 1, 'int32'), [batch, 1]), [1, numAnchors]);
      const where = tf.stack([rows, indices], 2); // [B, P, 2]: (image, anchor) of rank j
      return tf.scatterND(where, selectedInOrder, [batch, numAnchors]);
    });
    return { value, gradFunc: (dy: tf.Tensor) => tf.zerosLike(dy) };
  });
  return mine(confidenceLoss) as tf.Tensor2D;
}

/**
 * The SSD MultiBox loss (Liu et al. 2016; Caffe's MultiBoxLoss, torchvision's
 * `SSD.compute_loss`):
 * - localization: smooth L1 (β = 1) between `locPred` and `locTargets`, summed over
 *   the positive anchors (label > 0);
 * - confidence: softmax cross-entropy from the logits (a stable log-softmax), summed
 *   over the positives and, per image, the hard negatives of `hardNegativeMask`;
 * - both divided by max(1, number of positives in the batch); anchors labelled −1
 *   contribute nothing. A batch without positives gives a finite loss.
 * @returns scalars owned by the caller; every intermediate is freed.
 */
export function multiboxLoss(
  predictions: MultiboxPredictions,
  targets: MultiboxTargets,
  options?: MultiboxLossOptions,
): MultiboxLoss {
  const resolved = resolveOptions(options);
  checkInputs(predictions, targets);
  const { locPred, logits } = predictions;
  const { locTargets, labels } = targets;
  const numClasses = logits.shape[2]!;
  return tf.tidy(() => {
    const positive = tf.cast(tf.greater(labels, 0), 'float32'); // [B, P]
    const normalizer = tf.maximum(tf.sum(positive), 1);

    const perAnchorLoc = tf.sum(smoothL1(tf.sub(locPred, locTargets)), 2); // [B, P]
    // where() rather than a product: a wild prediction at a background anchor
    // (Inf) must not turn the sum into NaN.
    const locSum = tf.sum(
      tf.where(tf.greater(labels, 0), perAnchorLoc, tf.zerosLike(perAnchorLoc)),
    );

    const logProbabilities = tf.logSoftmax(logits); // [B, P, C], stable
    const target = tf.oneHot(
      tf.maximum(labels, tf.scalar(0, 'int32')),
      numClasses,
      1,
      0,
      'float32',
    );
    const crossEntropy = tf.neg(tf.sum(tf.mul(target, logProbabilities), 2)); // [B, P]
    // Positives and mined negatives are disjoint; the weight is a constant.
    const weight = tf.add(positive, hardNegativeMask(crossEntropy, labels, resolved));
    const confSum = tf.sum(tf.mul(crossEntropy, weight));

    const localization = tf.div(locSum, normalizer) as tf.Scalar;
    const confidence = tf.div(confSum, normalizer) as tf.Scalar;
    const total = tf.add(confidence, tf.mul(localization, resolved.locWeight)) as tf.Scalar;
    return { total, localization, confidence };
  });
}
