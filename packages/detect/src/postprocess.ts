import * as tf from '@tensorflow/tfjs-core';
import { decodeBoxesPacked, VARIANCES } from '@ssd/matcher';
import type { Detection, ImageSize, NumClasses, PackedBoxes } from '@ssd/geometry';
import { DetectInputError } from './errors';
import { nonMaxSuppressionPacked } from './nms';

// The contract types, re-exported for this package's users.
export type { Detection, ImageSize } from '@ssd/geometry';

export interface PostprocessOptions {
  /** Size in pixels of each original image of the batch; boxes are scaled to it. */
  imageSizes: readonly ImageSize[];
  /** Per-class probability a candidate must exceed (default 0.01). */
  scoreThreshold?: number;
  /** NMS IoU threshold, per class (default 0.45). */
  iouThreshold?: number;
  /** Best candidates per class that enter NMS (default 400). */
  topK?: number;
  /** Detections kept per image, best first (default 200). */
  maxDetections?: number;
  /**
   * The K class names of classes 1..K (background excluded, so numClasses − 1
   * of them), e.g. `VOC_CLASSES`.
   */
  labels?: readonly string[];
  /** Box-coder variances (default `VARIANCES` = [0.1, 0.1, 0.2, 0.2]). */
  variances?: readonly number[];
}

type Resolved = Required<Omit<PostprocessOptions, 'labels' | 'imageSizes'>> &
  Pick<PostprocessOptions, 'labels'>;

function resolve(
  options: Omit<PostprocessOptions, 'imageSizes'>,
  numClasses: NumClasses,
): Resolved {
  const resolved: Resolved = {
    scoreThreshold: options.scoreThreshold ?? 0.01,
    iouThreshold: options.iouThreshold ?? 0.45,
    topK: options.topK ?? 400,
    maxDetections: options.maxDetections ?? 200,
    variances: options.variances ?? VARIANCES,
    labels: options.labels,
  };
  if (!(resolved.scoreThreshold >= 0 && resolved.scoreThreshold < 1)) {
    throw new DetectInputError('scoreThreshold', resolved.scoreThreshold, 'expected [0, 1)');
  }
  if (!(resolved.iouThreshold >= 0 && resolved.iouThreshold <= 1)) {
    throw new DetectInputError('iouThreshold', resolved.iouThreshold, 'expected [0, 1]');
  }
  for (const field of ['topK', 'maxDetections'] as const) {
    if (!(Number.isInteger(resolved[field]) && resolved[field] > 0)) {
      throw new DetectInputError(field, resolved[field], 'expected a positive integer');
    }
  }
  if (resolved.labels && resolved.labels.length !== numClasses - 1) {
    throw new DetectInputError(
      'labels',
      resolved.labels.length,
      `expected ${numClasses - 1} names for classes 1..${numClasses - 1}, got ${resolved.labels.length}`,
    );
  }
  return resolved;
}

/**
 * Detections of one image from packed network outputs: decode, clip to the
 * image, per class (1..K) keep probabilities above `scoreThreshold`, the best
 * `topK`, NMS at `iouThreshold`; then the best `maxDetections` over all classes.
 * torchvision's `SSD.postprocess_detections`, in typed arrays.
 * @param loc `[P * 4]` encoded offsets.
 * @param probabilities `[P * numClasses]` softmax probabilities, background at
 *   0 (numClasses = K + 1).
 * @param anchors `[P * 4]`, cxcywh, relative.
 */
export function detectionsFromPacked(
  loc: ArrayLike<number>,
  probabilities: ArrayLike<number>,
  anchors: PackedBoxes<'cxcywh', 'relative'>,
  options: Omit<PostprocessOptions, 'imageSizes'> & { imageSize: ImageSize },
): Detection[] {
  const numAnchors = anchors.length / 4;
  const numClasses: NumClasses = probabilities.length / numAnchors;
  if (!Number.isInteger(numClasses) || numClasses < 2) {
    throw new DetectInputError(
      'probabilities',
      probabilities.length,
      `expected [${numAnchors} * numClasses] (numClasses ≥ 2), got length ${probabilities.length}`,
    );
  }
  const o = resolve(options, numClasses);
  const { width, height } = options.imageSize;
  if (!(width > 0 && height > 0)) {
    throw new DetectInputError(
      'imageSize',
      options.imageSize,
      'expected positive width and height',
    );
  }
  const boxes = decodeBoxesPacked(loc, anchors, { variances: o.variances });
  for (let i = 0; i < boxes.length; i++) boxes[i] = Math.min(1, Math.max(0, boxes[i]!));

  const scores = new Float32Array(numAnchors);
  const candidates = new Int32Array(numAnchors);
  const found: { index: number; classId: number; score: number }[] = [];
  for (let c = 1; c < numClasses; c++) {
    let n = 0;
    for (let i = 0; i < numAnchors; i++) {
      const p = probabilities[i * numClasses + c]!;
      scores[i] = p;
      if (p > o.scoreThreshold) candidates[n++] = i;
    }
    if (n === 0) continue;
    let pool = candidates.subarray(0, n);
    if (n > o.topK) {
      pool = Int32Array.from(pool)
        .sort((a, b) => scores[b]! - scores[a]! || a - b)
        .subarray(0, o.topK);
    }
    const kept = nonMaxSuppressionPacked(boxes, scores, {
      iouThreshold: o.iouThreshold,
      maxOutput: o.maxDetections,
      candidates: pool,
    });
    for (const index of kept) found.push({ index, classId: c, score: scores[index]! });
  }
  found.sort((a, b) => b.score - a.score || a.classId - b.classId || a.index - b.index);
  return found.slice(0, o.maxDetections).map(({ index, classId, score }) => {
    const detection: Detection = {
      box: {
        xMin: boxes[index * 4]! * width,
        yMin: boxes[index * 4 + 1]! * height,
        xMax: boxes[index * 4 + 2]! * width,
        yMax: boxes[index * 4 + 3]! * height,
      },
      classId,
      score,
    };
    if (o.labels) detection.label = o.labels[classId - 1]!;
    return detection;
  });
}

/**
 * SSD post-processing of a batch: softmax over classes, then
 * `detectionsFromPacked` per image. Reads the tensors with `await data()`, never
 * `dataSync`; leaves the inputs to the caller and keeps no tensor.
 * @param outputs `locPred` `[batch, P, 4]`, `logits` `[batch, P, numClasses]` (the
 *   model's outputs; numClasses = K + 1, background at 0).
 * @param anchors `[P, 4]` tensor or `[P * 4]` packed, cxcywh, relative — the model's anchors.
 * @returns per image, detections best first, boxes in pixels of `imageSizes[b]`.
 */
export async function postprocess(
  outputs: { locPred: tf.Tensor; logits: tf.Tensor },
  anchors: tf.Tensor2D | PackedBoxes<'cxcywh', 'relative'>,
  options: PostprocessOptions,
): Promise<Detection[][]> {
  const { locPred, logits } = outputs;
  if (locPred.rank !== 3 || locPred.shape[2] !== 4) {
    throw new DetectInputError(
      'locPred',
      locPred.shape,
      `expected [batch, P, 4], got [${locPred.shape}]`,
    );
  }
  if (
    logits.rank !== 3 ||
    logits.shape[0] !== locPred.shape[0] ||
    logits.shape[1] !== locPred.shape[1]
  ) {
    throw new DetectInputError(
      'logits',
      logits.shape,
      `expected [${locPred.shape[0]}, ${locPred.shape[1]}, numClasses], got [${logits.shape}]`,
    );
  }
  const [batch, numAnchors] = locPred.shape as [number, number, number];
  const numClasses: NumClasses = logits.shape[2]!;
  const anchorData =
    anchors instanceof Float32Array ? anchors : ((await anchors.data()) as Float32Array);
  if (anchorData.length !== numAnchors * 4) {
    throw new DetectInputError(
      'anchors',
      anchorData.length / 4,
      `expected ${numAnchors} anchors (the model's), got ${anchorData.length / 4}`,
    );
  }
  if (options.imageSizes.length !== batch) {
    throw new DetectInputError(
      'imageSizes',
      options.imageSizes.length,
      `expected one size per image of the batch (${batch})`,
    );
  }
  resolve(options, numClasses);
  const probabilities = tf.tidy(() => tf.softmax(tf.cast(logits, 'float32'), -1));
  const [loc, probs] = (await Promise.all([
    locPred.data(),
    probabilities.data(),
  ])) as Float32Array[];
  probabilities.dispose();
  return options.imageSizes.map((imageSize, b) =>
    detectionsFromPacked(
      loc!.subarray(b * numAnchors * 4, (b + 1) * numAnchors * 4),
      probs!.subarray(b * numAnchors * numClasses, (b + 1) * numAnchors * numClasses),
      anchorData,
      { ...options, imageSize },
    ),
  );
}
