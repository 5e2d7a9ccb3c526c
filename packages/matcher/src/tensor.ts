/**
 * The box coder and the matcher on tensors, for in-graph use. Same algorithm and
 * same float32 operation order as the packed versions, which they match bit for
 * bit on the tfjs `cpu` backend (other backends may differ in the last ulp).
 */
import * as tf from '@tensorflow/tfjs-core';
import { BoxShapeError, convertBoxes, pairwiseIou } from '@ssd/geometry';
import { DECODE_EXP_CLIP, resolveVariances, type BoxCoderOptions } from './coder';
import { MatcherInputError } from './errors';
import {
  MATCH_BELOW_THRESHOLD,
  MATCH_BETWEEN_THRESHOLDS,
  resolveMatchOptions,
  type MatchOptions,
} from './match';

function shapeString(t: tf.Tensor): string {
  return `[${t.shape.join(', ')}]`;
}

function assertAnchors(anchors: tf.Tensor): number {
  if (anchors.rank !== 2 || anchors.shape[1] !== 4) {
    throw new BoxShapeError('anchors', '[numAnchors, 4]', shapeString(anchors));
  }
  return anchors.shape[0]!;
}

function assertPerAnchor(t: tf.Tensor, argument: string, numAnchors: number): void {
  if (t.rank < 2 || t.shape[t.rank - 1] !== 4 || t.shape[t.rank - 2] !== numAnchors) {
    throw new BoxShapeError(argument, `[..., ${numAnchors}, 4]`, shapeString(t));
  }
}

/** Checks a coder's `[..., P, 4]` input against `[P, 4]` anchors; returns the variances. */
function coderInputs(
  perAnchor: tf.Tensor,
  argument: string,
  anchors: tf.Tensor,
  options: BoxCoderOptions | undefined,
): readonly number[] {
  assertPerAnchor(perAnchor, argument, assertAnchors(anchors));
  return resolveVariances(options);
}

/** The four columns of `[..., 4]` as `[..., 1]` tensors. */
function columns(t: tf.Tensor): [tf.Tensor, tf.Tensor, tf.Tensor, tf.Tensor] {
  return tf.split(t, 4, -1) as [tf.Tensor, tf.Tensor, tf.Tensor, tf.Tensor];
}

/** Encodes xyxy `boxes` against cxcywh `anchors` columns (both broadcastable). */
function encodeColumns(
  [x1, y1, x2, y2]: tf.Tensor[],
  [acx, acy, aw, ah]: tf.Tensor[],
  v: readonly number[],
): tf.Tensor {
  const gcx = tf.mul(tf.add(x1!, x2!), 0.5);
  const gcy = tf.mul(tf.add(y1!, y2!), 0.5);
  const gw = tf.sub(x2!, x1!);
  const gh = tf.sub(y2!, y1!);
  return tf.concat(
    [
      tf.div(tf.sub(gcx, acx!), tf.mul(aw!, v[0]!)),
      tf.div(tf.sub(gcy, acy!), tf.mul(ah!, v[1]!)),
      tf.div(tf.log(tf.div(gw, aw!)), v[2]!),
      tf.div(tf.log(tf.div(gh, ah!)), v[3]!),
    ],
    -1,
  );
}

/**
 * Encodes one box per default box: the tensor twin of `encodeBoxesPacked`.
 * @param boxes `[..., P, 4]`, xyxy, relative.
 * @param anchors `[P, 4]`, cxcywh, relative.
 * @returns `[..., P, 4]` offsets, owned by the caller.
 */
export function encodeBoxes<T extends tf.Tensor>(
  boxes: T,
  anchors: tf.Tensor2D,
  options?: BoxCoderOptions,
): T {
  const v = coderInputs(boxes, 'boxes', anchors, options);
  return tf.tidy(() => encodeColumns(columns(boxes), columns(anchors), v)) as T;
}

/**
 * Decodes predicted offsets against the default boxes: the exact inverse of
 * `encodeBoxes`, with `loc_w·v_w`, `loc_h·v_h` clamped at log(1000/16) before
 * exponentiation (as torchvision), so no prediction decodes to Inf.
 * @param loc `[..., P, 4]` offsets (e.g. the model's `locPred` `[B, P, 4]`).
 * @param anchors `[P, 4]`, cxcywh, relative.
 * @returns `[..., P, 4]`, xyxy, relative (not clipped), owned by the caller.
 */
export function decodeBoxes<T extends tf.Tensor>(
  loc: T,
  anchors: tf.Tensor2D,
  options?: BoxCoderOptions,
): T {
  const v = coderInputs(loc, 'loc', anchors, options);
  return tf.tidy(() => {
    const [dx, dy, dw, dh] = columns(loc);
    const [acx, acy, aw, ah] = columns(anchors);
    const cx = tf.add(acx, tf.mul(tf.mul(dx, v[0]!), aw));
    const cy = tf.add(acy, tf.mul(tf.mul(dy, v[1]!), ah));
    const halfW = tf.mul(tf.mul(aw, 0.5), tf.exp(tf.minimum(tf.mul(dw, v[2]!), DECODE_EXP_CLIP)));
    const halfH = tf.mul(tf.mul(ah, 0.5), tf.exp(tf.minimum(tf.mul(dh, v[3]!), DECODE_EXP_CLIP)));
    return tf.concat(
      [tf.sub(cx, halfW), tf.sub(cy, halfH), tf.add(cx, halfW), tf.add(cy, halfH)],
      -1,
    );
  }) as T;
}

/** Batched training targets. */
export interface BatchTargets {
  /** `[B, P, 4]` offsets; 0 where the anchor is not positive. */
  locTargets: tf.Tensor3D;
  /** `[B, P]` int32: 0 background, 1..K classes, −1 ignored. */
  labels: tf.Tensor2D;
  /** `[B, P]` int32 matched box index, −1 background, −2 ignored (as `matchAnchors`). */
  matches: tf.Tensor2D;
}

/**
 * `encodeTargets` for a whole batch, in-graph. Images have their boxes padded to a
 * common `G`: a row whose label is ≤ 0, or whose box is degenerate (width or height
 * ≤ 0, NaN), is not a box (the packed version's `invalidBoxes: 'drop'`). Only the
 * `'ssd'` strategy is available in-graph.
 *
 * Box values are not checked here: that would read the tensor back to the host (a
 * sync per batch). Check them where they are still arrays, with
 * `assertRelativeBoxes` (as `encodeTargets` does); pixel boxes would match no anchor
 * and train only background. An int32 `gtBoxes` (pixel coordinates) is refused.
 * @param anchors `[P, 4]`, cxcywh, relative.
 * @param gtBoxes `[B, G, 4]` float32, xyxy, relative (0..1).
 * @param gtLabels `[B, G]` int32.
 * @returns tensors owned by the caller.
 */
export function encodeTargetsBatch(
  anchors: tf.Tensor2D,
  gtBoxes: tf.Tensor3D,
  gtLabels: tf.Tensor2D,
  options?: MatchOptions & BoxCoderOptions,
): BatchTargets {
  const numAnchors = assertAnchors(anchors);
  if (gtBoxes.rank !== 3 || gtBoxes.shape[2] !== 4) {
    throw new BoxShapeError('gtBoxes', '[batch, numBoxes, 4]', shapeString(gtBoxes));
  }
  if (gtBoxes.dtype !== 'float32') {
    throw new MatcherInputError(
      'gtBoxes',
      gtBoxes.dtype,
      `expected float32 xyxy boxes relative to the image (0..1), got dtype ${gtBoxes.dtype} ` +
        `(pixel coordinates?); divide by the image size (toRelativePacked from @ssd/geometry)`,
    );
  }
  const [batch, numGt] = gtBoxes.shape;
  if (gtLabels.rank !== 2 || gtLabels.shape[0] !== batch || gtLabels.shape[1] !== numGt) {
    throw new BoxShapeError('gtLabels', `[${batch}, ${numGt}]`, shapeString(gtLabels));
  }
  const resolved = resolveMatchOptions(options);
  if (resolved.strategy !== 'ssd') {
    throw new MatcherInputError(
      'options.strategy',
      resolved.strategy,
      `encodeTargetsBatch supports only 'ssd'; use encodeTargets for '${resolved.strategy}'`,
    );
  }
  const v = resolveVariances(options);
  if (numGt === 0) {
    return {
      locTargets: tf.zeros([batch, numAnchors, 4]),
      labels: tf.zeros([batch, numAnchors], 'int32'),
      matches: tf.fill([batch, numAnchors], MATCH_BELOW_THRESHOLD, 'int32'),
    };
  }
  return tf.tidy(() => {
    const zero = tf.scalar(0, 'int32');
    const one = tf.scalar(1, 'int32');
    const labelsInt = tf.cast(gtLabels, 'int32');
    const [gx1, gy1, gx2, gy2] = columns(gtBoxes); // [B, G, 1]
    const valid = tf.logicalAnd(
      tf.greater(tf.expandDims(labelsInt, 2), zero),
      tf.logicalAnd(tf.greater(tf.sub(gx2, gx1), 0), tf.greater(tf.sub(gy2, gy1), 0)),
    ); // [B, G, 1]
    // [B, G, 4] against [P, 4]: geometry broadcasts the batch.
    const anchorCorners = convertBoxes(anchors, 'cxcywh', 'xyxy'); // [P, 4]
    const iou = tf.where(
      tf.broadcastTo(valid, [batch, numGt, numAnchors]),
      pairwiseIou(gtBoxes, anchorCorners, 'xyxy'),
      tf.fill([batch, numGt, numAnchors], -1),
    ); // [B, G, P]

    // Per anchor: best box (first maximum), then the threshold rule.
    const bestIou = tf.max(iou, 1); // [B, P]
    const bestGt = tf.cast(tf.argMax(iou, 1), 'int32');
    let matches = tf.where(
      tf.greaterEqual(bestIou, resolved.iouThreshold),
      bestGt,
      tf.fill([batch, numAnchors], MATCH_BELOW_THRESHOLD, 'int32'),
    );
    if (resolved.negativeIouThreshold !== undefined) {
      const band = tf.logicalAnd(
        tf.greaterEqual(bestIou, resolved.negativeIouThreshold),
        tf.less(bestIou, resolved.iouThreshold),
      );
      matches = tf.where(
        band,
        tf.fill([batch, numAnchors], MATCH_BETWEEN_THRESHOLDS, 'int32'),
        matches,
      );
    }
    // Per box: best anchor (first maximum) is forced; of two boxes sharing one
    // best anchor the later box wins, hence the max over (index + 1).
    const bestAnchor = tf.cast(tf.argMax(iou, 2), 'int32'); // [B, G]
    const forced = tf.logicalAnd(tf.squeeze(valid, [2]), tf.greater(tf.max(iou, 2), 0));
    const indexPlusOne = tf.mul(
      tf.cast(forced, 'int32'),
      tf.reshape(tf.range(1, numGt + 1, 1, 'int32'), [1, numGt]),
    ); // [B, G]
    const forcedGt = tf.sub(
      tf.max(tf.mul(tf.oneHot(bestAnchor, numAnchors), tf.expandDims(indexPlusOne, 2)), 1),
      one,
    ); // [B, P], −1 where no box is forced
    matches = tf.where(tf.greaterEqual(forcedGt, zero), forcedGt, matches);

    const positive = tf.greaterEqual(matches, zero);
    // Row index into the flattened [B·G] boxes (not gather's batchDims: tfjs-backend-wasm
    // 4.22 gathers wrong rows with batchDims = 1 and batch > 1).
    const flatIndex = tf.add(
      tf.maximum(matches, zero),
      tf.reshape(tf.range(0, batch * numGt, numGt, 'int32'), [batch, 1]),
    ); // [B, P]
    const labels = tf.where(
      positive,
      tf.gather(tf.reshape(labelsInt, [batch * numGt]), flatIndex),
      tf.where(
        tf.equal(matches, MATCH_BETWEEN_THRESHOLDS),
        tf.fill([batch, numAnchors], -1, 'int32'),
        tf.zerosLike(matches),
      ),
    );
    const matchedBoxes = tf.gather(tf.reshape(gtBoxes, [batch * numGt, 4]), flatIndex); // [B, P, 4]
    const encoded = encodeColumns(columns(matchedBoxes), columns(anchors), v);
    const locTargets = tf.where(
      tf.broadcastTo(tf.expandDims(positive, 2), [batch, numAnchors, 4]),
      encoded,
      tf.zerosLike(encoded),
    );
    return {
      locTargets: locTargets as tf.Tensor3D,
      labels: labels as tf.Tensor2D,
      matches: matches as tf.Tensor2D,
    };
  });
}
