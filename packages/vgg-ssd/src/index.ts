export { AtrousConv2D, BatchNorm, L2Normalization } from './layers';
export type { AtrousConv2DArgs, BatchNormArgs, L2NormalizationArgs } from './layers';
export { batchNormInfer, batchNormTrain, batchNormTrainGrad, channelMoments } from './batch-norm';
export type { BatchNormTrainOptions } from './batch-norm';
export {
  SsdConfigError,
  anchorConfigForInputSize,
  anchorConfigForModel,
  createSsdVgg16,
  ssdFeatureMapSizes,
} from './model';
export type { SsdNormalization, SsdVgg16Options } from './model';
export { PREPROCESS_MEAN_RGB, preprocess } from './preprocess';
export { heInitialise, lsuvInitialise } from './init';
export type { HeInitOptions, LsuvOptions, LsuvScale } from './init';
export { WeightsFileError, loadSsdModel, saveSsdModel } from './io';
export type { ModelLocation } from './io';
export { DEFAULT_PREPROCESSING, readSsdMetadata } from './metadata';
export type { SsdMetadata, SsdPreprocessing } from './metadata';
export {
  WeightImportError,
  copyDetectorWeights,
  copyDetectorWeightsAsync,
  loadKerasVgg16Weights,
  loadTorchvisionDetector,
  loadTorchvisionWeights,
  parseSafetensors,
} from './weights';
export type {
  ClassHeadPolicy,
  CopyDetectorWeightsOptions,
  SafetensorsEntry,
  TorchTensors,
  TorchvisionImportOptions,
  WeightTransfer,
} from './weights';
