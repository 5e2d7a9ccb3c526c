import { SeededRng, mixSeed } from '@ssd/random';
import * as tf from '@tensorflow/tfjs-core';
import type * as tfl from '@tensorflow/tfjs-layers';
import { model as tflModel } from '@tensorflow/tfjs-layers';

/** The box and class heads (`loc_0`, `conf_3`, …): linear, no ReLU after them. */
const HEAD = /^(loc|conf)_\d+$/;

/** A layer's convolution kernel (rank 4), if it has one. */
function kernelOf(layer: tfl.layers.Layer): tfl.LayerVariable | undefined {
  return layer.weights.find((w) => w.shape.length === 4 && w.originalName.endsWith('kernel'));
}

/** Options of {@link heInitialise}. */
export interface HeInitOptions {
  /** Seeds the normal draws (mixed with a fixed stream id: `mixSeed(seed, 0x4e)`). */
  readonly seed: number;
  /** Also re-initialise the `loc_*` / `conf_*` heads (default false: they keep Glorot). */
  readonly heads?: boolean;
}

/**
 * He-normal (fan-in) for every conv kernel, in network order (heads only with
 * `heads: true`): `std = √(2 / (kh·kw·inChannels))`. A 15-layer ReLU stack without
 * batch norm loses signal under Glorot, which is fine with an ImageNet backbone
 * (the paper) but slow from scratch. Deterministic in `seed`; biases untouched.
 */
export function heInitialise(model: tfl.LayersModel, options: HeInitOptions): void {
  const rng = new SeededRng(mixSeed(options.seed, 0x4e));
  const normal = (): number => {
    const u = Math.max(rng.next(), 1e-12);
    return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * rng.next());
  };
  for (const layer of model.layers) {
    if (!options.heads && HEAD.test(layer.name)) continue;
    for (const w of layer.weights) {
      const shape = w.shape as number[];
      // originalName: `name` gets a `_1` suffix in the second model built in a process.
      if (shape.length !== 4 || !w.originalName.endsWith('kernel')) continue;
      const fanIn = (shape[0] ?? 1) * (shape[1] ?? 1) * (shape[2] ?? 1);
      const std = Math.sqrt(2 / fanIn);
      const values = new Float32Array(shape.reduce((a, b) => a * b, 1));
      for (let i = 0; i < values.length; i++) values[i] = normal() * std;
      const t = tf.tensor(values, shape, 'float32');
      w.write(t);
      t.dispose();
    }
  }
}

/** Options of {@link lsuvInitialise}. */
export interface LsuvOptions {
  /** Seeds the He-normal kernels LSUV starts from ({@link heInitialise}, heads included). */
  readonly seed: number;
}

/** One convolution's LSUV rescaling. */
export interface LsuvScale {
  readonly layer: string;
  readonly scale: number;
}

/**
 * Layer-sequential unit-variance initialisation (LSUV; Mishkin & Matas, "All you
 * need is a good init", ICLR 2016), for training an SSD from scratch without batch
 * norm. Starting from He-normal kernels ({@link heInitialise}, heads included), each
 * convolution in network order is rescaled so that its output on `images` has the
 * RMS of a unit-variance pre-activation: √½ after a ReLU, 1 for the linear `loc_*` /
 * `conf_*` heads. Biases are zero, so one pass per layer is exact (ReLU is positively
 * homogeneous). A layer whose output is all zero on `images` keeps its He scale.
 *
 * Why: the inputs are 0–255 minus the mean (std ≈ 60, as the pretrained VGG16
 * expects), so without this every activation and logit starts far too large (a
 * first loss of ~45 instead of ~8) and Adam spends its first hundreds of steps
 * undoing that.
 *
 * Reads back one scalar per convolution with `await data()` (no synchronous read:
 * it runs on webgpu and webgl too). Leaves no tensor behind.
 *
 * @param model an SSD of {@link createSsdVgg16} (any network whose convolutions carry
 *   rank-4 `kernel` weights and zero biases).
 * @param images preprocessed images (`preprocess`), `[batch, height, width, 3]` at the
 *   model's input size: a few training images spread over the set.
 * @returns each convolution's scale factor, in network order.
 */
export async function lsuvInitialise(
  model: tfl.LayersModel,
  images: tf.Tensor4D,
  options: LsuvOptions,
): Promise<LsuvScale[]> {
  heInitialise(model, { seed: options.seed, heads: true });
  const scales: LsuvScale[] = [];
  for (const layer of model.layers) {
    const kernel = kernelOf(layer);
    if (kernel === undefined) continue;
    const target = HEAD.test(layer.name) ? 1 : Math.SQRT1_2;
    // A view of the model up to this layer (shares its weights; owns no tensors).
    const probe = tflModel({ inputs: model.inputs, outputs: layer.output as tfl.SymbolicTensor });
    const rmsTensor = tf.tidy(() => {
      const y = probe.apply(images, { training: false }) as tf.Tensor;
      return tf.sqrt(tf.mean(tf.square(y)));
    });
    const rms = (await rmsTensor.data())[0]!;
    rmsTensor.dispose();
    const scale = rms > 0 && Number.isFinite(rms) ? target / rms : 1;
    tf.tidy(() => {
      kernel.write(tf.mul(kernel.read(), scale));
    });
    scales.push({ layer: layer.name, scale });
  }
  return scales;
}
