import * as tf from '@tensorflow/tfjs-core';
import type * as tfl from '@tensorflow/tfjs-layers';
import { model as tflModel } from '@tensorflow/tfjs-layers';
import type { VocDataset } from '@ssd/voc/node';
import sharp from 'sharp';
import type { RunConfig } from './config';
import { heInitialise, preprocess, type Network } from './network';

/** A layer's convolution kernel (rank 4), if it has one. */
function kernelOf(layer: tfl.layers.Layer): tfl.LayerVariable | undefined {
  return layer.weights.find((w) => w.shape.length === 4 && w.originalName.endsWith('kernel'));
}

/**
 * Layer-sequential unit-variance initialisation (LSUV; Mishkin & Matas, "All you
 * need is a good init", ICLR 2016), for training from scratch without batch
 * norm. Starting from He-normal kernels (`heInitialise`, heads included), each
 * convolution in network order is rescaled so that its output on `images`
 * (preprocessed, `[batch, size, size, 3]`) has the RMS of a unit-variance
 * pre-activation: √½ after a ReLU, 1 for the linear `loc_*` / `conf_*` heads.
 * Biases are zero, so one pass per layer is exact (ReLU is positively
 * homogeneous). Returns each layer's scale factor. Reads each RMS with
 * `await data()` (webgpu in Node has no synchronous read).
 *
 * Why: the inputs are 0–255 minus the mean (std ≈ 60, as the pretrained VGG16
 * expects), so without this every activation and logit starts ~60× too large
 * (a first loss of ~45 instead of ~8) and Adam spends its first hundreds of
 * steps undoing that.
 */
export async function lsuvInitialise(
  model: tfl.LayersModel,
  images: tf.Tensor4D,
  seed: number,
): Promise<Array<{ layer: string; scale: number }>> {
  heInitialise(model, seed, { heads: true });
  const scales: Array<{ layer: string; scale: number }> = [];
  for (const layer of model.layers) {
    const kernel = kernelOf(layer);
    if (kernel === undefined) continue;
    const target = /^(loc|conf)_\d+$/.test(layer.name) ? 1 : Math.SQRT1_2;
    // A view of the model up to this layer (shares its weights; owns no tensors).
    const probe = tflModel({ inputs: model.inputs, outputs: layer.output as tfl.SymbolicTensor });
    const rmsTensor = tf.tidy(() => {
      const y = probe.apply(images, { training: false }) as tf.Tensor;
      return tf.sqrt(tf.mean(tf.square(y)));
    });
    const rms = (await rmsTensor.data())[0]!;
    rmsTensor.dispose();
    // A layer dead on this batch (all-zero output) keeps its He scale.
    const scale = rms > 0 && Number.isFinite(rms) ? target / rms : 1;
    tf.tidy(() => {
      kernel.write(tf.mul(kernel.read(), scale));
    });
    scales.push({ layer: layer.name, scale });
  }
  return scales;
}

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

/** `--init lsuv`: LSUV on `LSUV_IMAGES` training images spread over the set. */
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
    const scales = await lsuvInitialise(net.model, images, config.seed);
    log(
      `Init: LSUV on ${count} training images, ${scales.length} convolutions rescaled ` +
        `(${(performance.now() - t0).toFixed(0)} ms).`,
    );
  } finally {
    images.dispose();
  }
}
