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
  /** `[batch, numAnchors]` int32: 0 background, 1..K classes (K = numClasses − 1), −1 ignored. */
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
  /**
   * `'mean'` (default): each term divided by max(1, positives in the batch), as
   * Caffe and torchvision. `'sum'`: the un-normalised sums, for callers that
   * normalise over several slices of one batch at once (data-parallel training:
   * Σ sums / Σ `numPositives`).
   */
  reduction?: 'mean' | 'sum';
}

/** The loss terms, each a scalar owned by the caller. */
export interface MultiboxLoss {
  /** confidence + locWeight · localization: what to minimise. */
  total: tf.Scalar;
  /** Smooth-L1 over the positive anchors (`'mean'`: divided by max(1, positives in the batch)). */
  localization: tf.Scalar;
  /** Cross-entropy over positives and mined negatives (`'mean'`: divided by max(1, positives)). */
  confidence: tf.Scalar;
  /** The number of positive anchors (label > 0) in the batch, float32; 0 when there are none. */
  numPositives: tf.Scalar;
}

interface Resolved {
  negativesPerPositive: number;
  locWeight: number;
  minNegatives: number;
  reduction: 'mean' | 'sum';
}

function resolveOptions(options: MultiboxLossOptions | undefined): Resolved {
  const reduction = options?.reduction ?? 'mean';
  if (reduction !== 'mean' && reduction !== 'sum') {
    throw new LossInputError('options.reduction', "'mean' or 'sum'", String(reduction));
  }
  const numeric = {
    negativesPerPositive: options?.negativesPerPositive ?? 3,
    locWeight: options?.locWeight ?? 1,
    minNegatives: options?.minNegatives ?? 0,
  };
  const resolved = { ...numeric, reduction };
  for (const [name, value] of Object.entries(numeric)) {
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

/**
 * Smooth L1 (β = 1) per element: 0.5·x² where |x| < 1, |x| − 0.5 elsewhere. Its
 * gradient is clip(x, −1, 1), written out rather than taped through five ops.
 */
export const smoothL1 = tf.customGrad((...inputs: (tf.Tensor | tf.GradSaveFunc)[]) => {
  const x = inputs[0] as tf.Tensor;
  const save = inputs[1] as tf.GradSaveFunc;
  const absolute = tf.abs(x);
  const inner = tf.minimum(absolute, 1); // the quadratic part, |x| capped at 1
  save([x]);
  return {
    value: tf.add(tf.mul(tf.square(inner), 0.5), tf.sub(absolute, inner)),
    gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => tf.mul(dy, tf.clipByValue(saved[0]!, -1, 1)),
  };
}) as (x: tf.Tensor) => tf.Tensor;

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
      const rank = tf.range(0, numAnchors, 1, 'float32'); // [P]
      const selectedInOrder = tf.cast(
        tf.less(rank, spreadColumn(tf.reshape(k, [batch]), numAnchors)),
        'float32',
      ); // [B, P], in sorted order
      // Flat (image · P + anchor) of rank j: one index column, no [B, P, 2] stack
      // (the wasm backend stacks along the last axis one element at a time).
      const rowStarts = tf.range(0, batch * numAnchors, numAnchors, 'float32'); // [B]
      const where = tf.add(tf.cast(spreadColumn(rowStarts, numAnchors), 'int32'), indices); // [B, P]
      const mask = tf.scatterND(
        tf.reshape(where, [batch * numAnchors, 1]),
        tf.reshape(selectedInOrder, [batch * numAnchors]),
        [batch * numAnchors],
      );
      return tf.reshape(mask, [batch, numAnchors]);
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
 * - both divided by max(1, number of positives in the batch) (`reduction: 'mean'`,
 *   the default) or left as sums (`'sum'`); anchors labelled −1 contribute
 *   nothing. A batch without positives gives a finite loss.
 * @returns scalars owned by the caller (the terms and `numPositives`); every
 *   intermediate is freed.
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
  const [batch, numAnchors, numClasses] = logits.shape as [number, number, number];
  const rows = batch * numAnchors;
  return tf.tidy(() => {
    const isPositive = tf.greater(labels, 0); // [B, P]
    const positive = tf.cast(isPositive, 'float32');
    const numPositives = tf.sum(positive) as tf.Scalar;

    // where() rather than a product: a wild prediction at a background anchor
    // (Inf) must not turn the sum into NaN.
    const positive4 = tf.greater(spreadColumn(tf.reshape(positive, [rows]), 4), 0); // [B·P, 4]
    const perCoordinate = tf.reshape(smoothL1(tf.sub(locPred, locTargets)), [rows, 4]);
    const locSum = sumAll(tf.where(positive4, perCoordinate, tf.zerosLike(perCoordinate)));

    const crossEntropy = tf.reshape(
      softmaxCrossEntropy(
        tf.reshape(logits, [rows, numClasses]),
        tf.reshape(tf.maximum(labels, tf.scalar(0, 'int32')), [rows]),
      ),
      [batch, numAnchors],
    );
    // Positives and mined negatives are disjoint; the weight is a constant.
    const weight = tf.add(positive, hardNegativeMask(crossEntropy, labels, resolved));
    const confSum = sumAll(tf.mul(crossEntropy, weight));

    let localization = locSum;
    let confidence = confSum;
    if (resolved.reduction === 'mean') {
      const normalizer = tf.maximum(numPositives, 1);
      localization = tf.div(locSum, normalizer) as tf.Scalar;
      confidence = tf.div(confSum, normalizer) as tf.Scalar;
    }
    const total = tf.add(confidence, tf.mul(localization, resolved.locWeight)) as tf.Scalar;
    return { total, localization, confidence, numPositives };
  });
}

// Why the helpers below: tfjs's `cpu` backend broadcasts a size-1 axis (`[N, 1]`
// against `[N, C]`) through a per-element index computation that is ~50× slower than
// its same-shape loop, and the stock gradients of `sum` and `logSoftmax` broadcast
// exactly that way. Spreading a column with a rank-1 matMul (exact: one product per
// element) and writing these gradients by hand keeps every large op on the fast path
// of every backend.

/**
 * float32 one-hot rows. Not `tf.oneHot(..., 'float32')`: tfjs-backend-wasm 4.22
 * ignores the dtype and writes int32 bits into the float buffer.
 */
export function floatOneHot(indices: tf.Tensor, depth: number): tf.Tensor2D {
  return tf.cast(tf.oneHot(indices as tf.Tensor1D, depth), 'float32') as tf.Tensor2D;
}

/** `[N]` → `[N, width]`, each value repeated along the row. */
function spreadColumn(column: tf.Tensor, width: number): tf.Tensor2D {
  return tf.matMul(tf.reshape(column, [-1, 1]), tf.ones([1, width]));
}

/** Σ of all elements, with a gradient that broadcasts a scalar (the fast path). */
const sumAll = tf.customGrad((...inputs: (tf.Tensor | tf.GradSaveFunc)[]) => {
  const x = inputs[0] as tf.Tensor;
  const shape = x.shape;
  return {
    value: tf.sum(x),
    gradFunc: (dy: tf.Tensor) => tf.mul(tf.ones(shape), dy),
  };
}) as (x: tf.Tensor) => tf.Scalar;

/**
 * Per-row softmax cross-entropy from logits, −log softmax(logits)[label], with the
 * stable log-sum-exp (logits shifted by their row maximum).
 * @param logits `[N, numClasses]`. @param labels `[N]` int32; a label outside
 *   0..numClasses−1 gives 0.
 * @returns `[N]`; gradient w.r.t. logits dy·(softmax − oneHot(label)).
 */
const softmaxCrossEntropy = tf.customGrad((...inputs: (tf.Tensor | tf.GradSaveFunc)[]) => {
  const logits = inputs[0] as tf.Tensor2D;
  const labels = inputs[1] as tf.Tensor1D;
  const save = inputs[2] as tf.GradSaveFunc;
  const width = logits.shape[1]!;
  const shifted = tf.sub(logits, spreadColumn(tf.max(logits, 1), width));
  const target = floatOneHot(labels, width);
  const value = tf.sub(tf.log(tf.sum(tf.exp(shifted), 1)), tf.sum(tf.mul(target, shifted), 1));
  // Save the inputs, not the softmax: tfjs's leak check (IS_TEST) counts a saved
  // intermediate as a leak. The backward pass recomputes the softmax.
  save([logits, labels]);
  return {
    value,
    gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
      const [savedLogits, savedLabels] = saved as [tf.Tensor2D, tf.Tensor1D];
      const exponentials = tf.exp(tf.sub(savedLogits, spreadColumn(tf.max(savedLogits, 1), width)));
      const scale = tf.div(dy, tf.sum(exponentials, 1)); // dy / Σexp, [N]
      const dLogits = tf.sub(
        tf.mul(exponentials, spreadColumn(scale, width)),
        tf.mul(floatOneHot(savedLabels, width), spreadColumn(dy, width)),
      );
      return [dLogits, tf.zerosLike(savedLabels)];
    },
  };
}) as (logits: tf.Tensor2D, labels: tf.Tensor1D) => tf.Tensor1D;
