import * as tf from '@tensorflow/tfjs-core';

/**
 * Per-channel mean subtracted by `preprocess`: RGB on a 0–255 scale. The Caffe
 * release subtracts BGR (104, 117, 123); torchvision's `ssd300_vgg16` uses
 * image_mean (0.48235, 0.45882, 0.40784) with std 1/255, which is the same.
 */
export const PREPROCESS_MEAN_RGB: readonly [number, number, number] = Object.freeze([
  123, 117, 104,
]) as readonly [number, number, number];

/**
 * The network's input transform: RGB in 0–255 minus `PREPROCESS_MEAN_RGB` (or the
 * `meanRgb` a model's `SsdMetadata.preprocessing` names), float32, no scaling.
 * Resize to the model's input size first.
 * @param images `[batch, height, width, 3]` RGB, 0–255 (int32 or float32).
 * @returns `[batch, height, width, 3]` float32, owned by the caller.
 */
export function preprocess(
  images: tf.Tensor4D,
  options: { meanRgb?: readonly [number, number, number] } = {},
): tf.Tensor4D {
  if (images.rank !== 4 || images.shape[3] !== 3) {
    throw new Error(
      `preprocess: expected images [batch, height, width, 3] RGB, got shape [${images.shape.join(', ')}]`,
    );
  }
  return tf.tidy(() =>
    tf.sub(tf.cast(images, 'float32'), tf.tensor1d([...(options.meanRgb ?? PREPROCESS_MEAN_RGB)])),
  );
}
