import * as tf from '@tensorflow/tfjs-core';
import { lsuvInitialise } from '@ssd/vgg-ssd';
import type { VocDataset } from '@ssd/voc/node';
import sharp from 'sharp';
import type { RunConfig } from './config';
import { preprocess, type Network } from './network';

/**
 * Stretches packed RGB to `size×size` with sharp's linear kernel, as float32 0–255.
 * Only LSUV's statistics images use it: evaluation and `detect` resize with
 * `@ssd/detect` (training's own bilinear). Kept so that the initialisation, and
 * with it every trained run and the demo's figures, stay bit-identical; moving LSUV
 * to the one resize changes the demo's weights (do it with the next change that
 * re-measures them).
 */
async function resizeRgb(
  image: Uint8Array,
  width: number,
  height: number,
  size: number,
): Promise<Float32Array> {
  const out = await sharp(Buffer.from(image.buffer, image.byteOffset, image.byteLength), {
    raw: { width, height, channels: 3 },
  })
    .resize(size, size, { fit: 'fill', kernel: 'linear' })
    .raw()
    .toBuffer();
  return Float32Array.from(out);
}

/** Images LSUV initialisation looks at: spread over the training set, resized, no augmentation. */
const LSUV_IMAGES = 16;

/**
 * `--init lsuv`: `@ssd/vgg-ssd`'s `lsuvInitialise` (He-normal kernels, then each
 * convolution rescaled to a unit-variance pre-activation) on `LSUV_IMAGES` training
 * images spread over the set.
 */
export async function lsuvFromTrainingImages(
  net: Network,
  trainSet: VocDataset,
  config: RunConfig,
  log: (message: string) => void,
): Promise<void> {
  const t0 = performance.now();
  const s = config.inputSize;
  const count = Math.min(LSUV_IMAGES, trainSet.size);
  const pixels = new Float32Array(count * s * s * 3);
  for (let j = 0; j < count; j++) {
    const sample = await trainSet.load(Math.floor((j * trainSet.size) / count));
    pixels.set(await resizeRgb(sample.image, sample.width, sample.height, s), j * s * s * 3);
  }
  const images = tf.tidy(() => preprocess(tf.tensor4d(pixels, [count, s, s, 3])));
  try {
    const scales = await lsuvInitialise(net.model, images, { seed: config.seed });
    log(
      `Init: LSUV on ${count} training images, ${scales.length} convolutions rescaled ` +
        `(${(performance.now() - t0).toFixed(0)} ms).`,
    );
  } finally {
    images.dispose();
  }
}
