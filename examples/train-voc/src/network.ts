import { SSD300_VOC, SSD512_VOC, generateAnchorsPacked, type AnchorConfig } from '@ssd/anchors';
import {
  anchorConfigForInputSize,
  anchorConfigForModel,
  createSsdVgg16,
  heInitialise,
  loadTorchvisionWeights,
  preprocess,
  type SsdNormalization,
} from '@ssd/vgg-ssd';
import {
  copyDetectorWeightsAsync,
  loadTorchvisionDetector,
  type WeightTransfer,
} from '@ssd/vgg-ssd';
import { loadKerasVgg16Weights, loadSsdModel, readSafetensorsFile } from '@ssd/vgg-ssd/node';
import * as path from 'node:path';
import type * as tf from '@tensorflow/tfjs-core';
import type * as tfl from '@tensorflow/tfjs-layers';
import type { PresetName, RunConfig } from './config';
import { paramsFromVariables, type TrainableParam } from './optimizer';
import type { NamedWeight } from './state';

/** The anchor preset each app preset's network is built from. */
export function basePreset(preset: PresetName): AnchorConfig {
  return preset === 'ssd512' ? SSD512_VOC : SSD300_VOC;
}

/**
 * The default boxes of the `shapes` demo (`npm start`): SSD300_VOC's relative
 * box sizes (0.1 … 0.88 of the side: 12.8 … 112.6 px) and aspect ratios on the
 * feature maps of the 128×128 network (16, 8, 4, 2, 2, 2; steps 8, 16, 32, 64,
 * 64, 64), i.e. `anchorConfigForInputSize(SSD300_VOC, 128)`: 1 560 boxes.
 */
export const SHAPES_128_ANCHORS: AnchorConfig = Object.freeze(
  anchorConfigForInputSize(SSD300_VOC, 128),
);

export interface Network {
  readonly model: tfl.LayersModel;
  readonly anchors: AnchorConfig;
  /** `[numAnchors * 4]` cxcywh relative, in head order. */
  readonly anchorsPacked: Float32Array;
  readonly numAnchors: number;
  /** All weights, in `model.weights` order (what a checkpoint stores). */
  readonly weights: NamedWeight[];
  /** Trainable weights with their weight-decay flag, in `model.trainableWeights` order. */
  readonly params: TrainableParam[];
  /** Preprocessed images → `[locPred, logits]`, training mode. */
  forward(images: tf.Tensor4D): [tf.Tensor3D, tf.Tensor3D];
  dispose(): void;
}

export interface NetworkOptions {
  readonly preset: PresetName;
  readonly numClasses: number;
  readonly inputSize: number;
  readonly widthMultiplier: number;
  /** `createSsdVgg16`'s `inputScale` (1 = none). */
  readonly inputScale: number;
  /** `createSsdVgg16`'s `normalization`. */
  readonly normalization: SsdNormalization;
  readonly seed: number;
  /** Re-initialise backbone and extra convs with He-normal (`@ssd/vgg-ssd`'s `heInitialise`; from-scratch training). */
  readonly heInit: boolean;
}

/**
 * The network a run's configuration describes, for `numClasses` (K + 1); also of a
 * run saved before `inputScale` (then 1) or `normalization` (then none) existed.
 * He-normal re-initialisation when training from scratch with `--init he`.
 */
export function networkOptions(config: RunConfig, numClasses: number): NetworkOptions {
  return {
    preset: config.preset,
    numClasses,
    inputSize: config.inputSize,
    widthMultiplier: config.widthMultiplier,
    inputScale: config.inputScale ?? 1,
    normalization: config.normalization ?? 'none',
    seed: config.seed,
    heInit: config.backboneWeights === null && config.weights === null && config.init === 'he',
  };
}

export function buildNetwork(o: NetworkOptions): Network {
  const preset = basePreset(o.preset);
  const model = createSsdVgg16({
    numClasses: o.numClasses,
    preset,
    widthMultiplier: o.widthMultiplier,
    inputScale: o.inputScale,
    normalization: o.normalization,
    inputSize: o.inputSize,
    seed: o.seed,
  });
  if (o.heInit) heInitialise(model, { seed: o.seed });
  const anchors = anchorConfigForModel(model, preset);
  const anchorsPacked = generateAnchorsPacked(anchors);
  const weights = model.weights.map((w) => ({
    name: w.originalName,
    variable: w.read() as tf.Variable,
  }));
  const params = paramsFromVariables(model.trainableWeights.map((w) => w.read() as tf.Variable));
  return {
    model,
    anchors,
    anchorsPacked,
    numAnchors: anchorsPacked.length / 4,
    weights,
    params,
    forward(images) {
      const out = model.apply(images, { training: true }) as tf.Tensor[];
      return [out[0] as tf.Tensor3D, out[1] as tf.Tensor3D];
    },
    dispose() {
      model.dispose();
    },
  };
}

export { preprocess };

/**
 * Loads pretrained VGG16 weights into the network (`--backbone-weights`): a
 * torchvision `vgg16().features` (or full `ssd300_vgg16`) state_dict saved as
 * `.safetensors`, or a Keras VGG16 converted by `tensorflowjs_converter`
 * (its `model.json` or directory). Returns the layers that were set.
 */
export async function loadBackboneWeights(net: Network, file: string): Promise<string[]> {
  if (file.endsWith('.safetensors')) {
    const tensors = await readSafetensorsFile(file);
    // torchvision's ImageNet VGG16 expects (x/255 − mean)/std; an ssd300_vgg16
    // state_dict already takes 0–255 minus the mean, like our preprocess.
    const imagenetNormalized = !tensors.has('backbone.features.0.weight');
    return loadTorchvisionWeights(net.model, tensors, { source: file, imagenetNormalized });
  }
  const dir = file.endsWith('.json') ? path.dirname(file) : file;
  return loadKerasVgg16Weights(net.model, dir);
}

/**
 * Loads a whole pretrained detector into the network (`--weights`): a torchvision
 * `ssd300_vgg16` state_dict saved as `.safetensors`, or a `model/` folder saved by
 * this app. Backbone, extras and box heads must fit exactly; class heads trained
 * for another class count are left as initialised (reported in the result).
 */
export async function loadDetectorWeights(net: Network, file: string): Promise<WeightTransfer> {
  if (file.endsWith('.safetensors')) {
    const tensors = await readSafetensorsFile(file);
    return loadTorchvisionDetector(net.model, tensors, {
      source: file,
      classHeads: 'skip-if-mismatch',
    });
  }
  const saved = await loadSsdModel(file);
  try {
    return await copyDetectorWeightsAsync(saved, net.model, {
      source: file,
      classHeads: 'skip-if-mismatch',
    });
  } finally {
    saved.dispose();
  }
}
