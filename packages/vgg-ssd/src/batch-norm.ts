import * as tf from '@tensorflow/tfjs-core';

/**
 * Batch normalisation in training mode, optionally fused with the ReLU after
 * it, built from the ops every backend runs fast: per-channel means as an
 * average pool over the whole map, per-channel scale + shift (+ ReLU) as a
 * fused 1×1 depthwise convolution. Written the obvious way (`tf.moments`, broadcasting
 * arithmetic), the forward and tfjs-core's `FusedBatchNorm` gradient take ~25
 * ops whose broadcasts, tiles and transposing reductions cost ~1.5–2.5 ns an
 * element each on wasm; these take ~0.3–0.5 ns (XNNPACK).
 *
 * With M the rows (every axis but the last), a = γ/√(var + ε):
 *
 *   y = max(0, a·(x − mean) + β)                       (no max without `relu`)
 *
 * and, g = dy·[y > 0] (g = dy without `relu`), r = 1/√(var + ε):
 *
 *   dβ = Σg,  dγ = r·(Σg·x − mean·Σg),
 *   dx = a·g + b·x + c,  b = −a·r·dγ/M,  c = −a·dβ/M − b·mean
 *
 * (the gradient through the batch statistics included).
 */
export interface BatchNormTrainOptions {
  /** Added to the variance. */
  epsilon: number;
  /** Fuse a ReLU after the normalisation. */
  relu: boolean;
}

/**
 * Per-channel mean of `[N, H, W, C]` `t`, `[C]`: an average pool over the whole
 * map (XNNPACK's global average pooling on wasm: one pass), then over the batch.
 * A reduction over axes 0–2 would first transpose the tensor.
 */
function channelMean(t: tf.Tensor4D): tf.Tensor1D {
  const [, H, W, C] = t.shape;
  return tf.reshape(tf.mean(tf.avgPool(t, [H, W], 1, 'valid'), [0, 1, 2]), [C]) as tf.Tensor1D;
}

/** `a·t + shift` per channel (then ReLU if asked): one fused depthwise 1×1 convolution. */
function scaleShift(
  t: tf.Tensor4D,
  a: tf.Tensor1D,
  shift: tf.Tensor1D | null,
  relu: boolean,
): tf.Tensor4D {
  return tf.fused.depthwiseConv2d({
    x: t,
    filter: tf.reshape(a, [1, 1, a.size, 1]) as tf.Tensor4D,
    strides: 1,
    pad: 'valid',
    ...(shift ? { bias: shift } : {}),
    activation: relu ? 'relu' : 'linear',
  });
}

/**
 * Inference-mode batch norm (+ ReLU) of `[N, H, W, C]` `x` with given statistics
 * (the running ones): `max(0, γ·(x − mean)/√(var + ε) + β)` as one fused op.
 */
export function batchNormInfer(
  x: tf.Tensor4D,
  gamma: tf.Tensor1D,
  beta: tf.Tensor1D,
  mean: tf.Tensor1D,
  variance: tf.Tensor1D,
  options: BatchNormTrainOptions,
): tf.Tensor4D {
  return tf.tidy(() => {
    const a = tf.mul(gamma, tf.rsqrt(tf.add(variance, options.epsilon))) as tf.Tensor1D;
    return scaleShift(x, a, tf.sub(beta, tf.mul(a, mean)) as tf.Tensor1D, options.relu);
  });
}

/**
 * Mean and biased variance of `[N, H, W, C]` `x` over every axis but the last,
 * `[C]` each; the variance of the centred values (two passes), not
 * E[x²] − mean², which loses it where the mean is large.
 */
export function channelMoments(x: tf.Tensor4D): { mean: tf.Tensor1D; variance: tf.Tensor1D } {
  return tf.tidy(() => {
    const mean = channelMean(x);
    const centred = scaleShift(x, tf.onesLike(mean), tf.neg(mean), false);
    return { mean, variance: channelMean(tf.square(centred)) };
  });
}

/**
 * Training-mode batch norm (+ ReLU) of `x` `[N, H, W, C]` over all axes but the
 * last: `[y, batchMean, batchVariance]` (biased variance), `gamma`/`beta` `[C]`.
 * Differentiable in `x`, `gamma` and `beta`; the statistics are returned for
 * the running averages, and no gradient flows back through them.
 */
export function batchNormTrain(
  x: tf.Tensor4D,
  gamma: tf.Tensor1D,
  beta: tf.Tensor1D,
  options: BatchNormTrainOptions,
): [tf.Tensor4D, tf.Tensor1D, tf.Tensor1D] {
  const { epsilon, relu } = options;
  // Computed outside the custom gradient, whose forward may leave nothing behind
  // but its output; saved for the backward, which uses them.
  const { mean, variance } = channelMoments(x);
  const op = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
    const [xs, g, b, save] = args as [tf.Tensor4D, tf.Tensor1D, tf.Tensor1D, tf.GradSaveFunc];
    const a = tf.mul(g, tf.rsqrt(tf.add(variance, epsilon))) as tf.Tensor1D;
    const y = scaleShift(xs, a, tf.sub(b, tf.mul(a, mean)) as tf.Tensor1D, relu);
    save([xs, y, g, mean, variance]);
    return {
      value: y,
      gradFunc: (dy, saved) => {
        const [sx, sy, sg, sm, sv] = saved as [
          tf.Tensor4D,
          tf.Tensor4D,
          tf.Tensor1D,
          tf.Tensor1D,
          tf.Tensor1D,
        ];
        return batchNormTrainGrad(dy as tf.Tensor4D, sx, sy, sg, sm, sv, options);
      },
    };
  });
  return [op(x, gamma, beta) as tf.Tensor4D, mean, variance];
}

/**
 * The backward of {@link batchNormTrain}: `[dx, dgamma, dbeta]` from the
 * output's gradient `dy`, its input `x` and output `y`, `gamma` and the batch
 * statistics the forward used.
 */
export function batchNormTrainGrad(
  dy: tf.Tensor4D,
  x: tf.Tensor4D,
  y: tf.Tensor4D,
  gamma: tf.Tensor1D,
  mean: tf.Tensor1D,
  variance: tf.Tensor1D,
  options: BatchNormTrainOptions,
): [tf.Tensor4D, tf.Tensor1D, tf.Tensor1D] {
  return tf.tidy(() => {
    const M = x.size / x.shape[3];
    const g = options.relu ? (tf.mul(dy, tf.step(y)) as tf.Tensor4D) : dy;
    const r = tf.rsqrt(tf.add(variance, options.epsilon));
    // Σg and Σg·x as M × their channel means.
    const meanG = channelMean(g);
    const dbeta = tf.mul(meanG, M) as tf.Tensor1D;
    const dgamma = tf.mul(
      tf.mul(r, M),
      tf.sub(channelMean(tf.mul(g, x)), tf.mul(mean, meanG)),
    ) as tf.Tensor1D;
    const a = tf.mul(gamma, r) as tf.Tensor1D;
    const b = tf.div(tf.mul(tf.neg(tf.mul(a, r)), dgamma), M) as tf.Tensor1D;
    const c = tf.sub(tf.neg(tf.mul(a, meanG)), tf.mul(b, mean)) as tf.Tensor1D;
    const dx = tf.add(scaleShift(g, a, null, false), scaleShift(x, b, c, false));
    return [dx as tf.Tensor4D, dgamma, dbeta];
  });
}
