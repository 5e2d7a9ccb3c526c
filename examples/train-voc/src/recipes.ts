import type { PresetName, RunConfig } from './config';

/** The settings a preset fixes (what `--help` lists as its defaults). */
export type Recipe = Omit<
  RunConfig,
  | 'data'
  | 'classes'
  | 'unknownClass'
  | 'backboneWeights'
  | 'weights'
  | 'backend'
  | 'workers'
  | 'seed'
  | 'out'
  | 'method'
  | 'draw'
>;

/** The paper's SSD300 recipe on VOC07+12 (Liu et al. 2016, §3 and the Caffe release). */
export const SSD300_RECIPE: Recipe = Object.freeze({
  preset: 'ssd300',
  train: ['2007-trainval', '2012-trainval'],
  test: ['2007-test'],
  inputSize: 300,
  widthMultiplier: 1,
  inputScale: 1,
  init: 'glorot',
  normalization: 'none',
  augment: 'ssd',
  optimizer: 'sgd',
  lr: 1e-3,
  momentum: 0.9,
  weightDecay: 5e-4,
  batchSize: 32,
  iterations: 120_000,
  lrSchedule: 'step',
  lrSteps: [80_000, 100_000],
  lrGamma: 0.1,
  warmup: 0,
  evalEvery: 10_000,
  checkpointEvery: 5_000,
  keepCheckpoints: 3,
  maxNonFinite: 5,
});

/** SSD512 on VOC07+12, same solver as SSD300 (the Caffe release's `ssd_pascal_512.py`). */
export const SSD512_RECIPE: Recipe = Object.freeze({
  ...SSD300_RECIPE,
  preset: 'ssd512',
  inputSize: 512,
});

/**
 * The embedded CPU demo that `npm start` runs on the generated shapes set:
 * the same VGG16-SSD at a reduced width and input size, with batch norm
 * (ScratchDet), which beats the recipe without it (1600 iterations at lr 2e-3) in
 * 5/8 of the images; the lr steps and warm-up are its fractions of the run. Chosen
 * from the measurements in the README.
 */
export const SHAPES_RECIPE: Recipe = Object.freeze({
  preset: 'shapes',
  train: ['shapes-trainval'],
  test: ['shapes-test'],
  inputSize: 128,
  widthMultiplier: 0.125,
  inputScale: 1 / 58,
  init: 'lsuv',
  normalization: 'batch',
  augment: 'light',
  optimizer: 'adam',
  lr: 4e-3,
  momentum: 0.9,
  weightDecay: 5e-4,
  batchSize: 16,
  iterations: 1000,
  lrSchedule: 'step',
  lrSteps: [863, 963],
  lrGamma: 0.1,
  warmup: 19,
  evalEvery: 0,
  checkpointEvery: 100,
  keepCheckpoints: 3,
  maxNonFinite: 5,
});

export const RECIPES: Readonly<Record<PresetName, Recipe>> = Object.freeze({
  ssd300: SSD300_RECIPE,
  ssd512: SSD512_RECIPE,
  shapes: SHAPES_RECIPE,
});

/**
 * Images per evaluation batch (`evaluate`'s `--batch-size` default; `train`'s
 * evaluations use the smaller of it and the training batch size).
 */
export const EVAL_BATCH_SIZE = 16;
