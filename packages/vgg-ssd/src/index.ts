export { AtrousConv2D, L2Normalization, atrousConv2d } from './layers';
export type { AtrousConv2DArgs, L2NormalizationArgs } from './layers';
export {
  SsdConfigError,
  anchorConfigForInputSize,
  anchorConfigForModel,
  createSsdVgg16,
  headLayerNames,
  ssdFeatureMapSizes,
} from './model';
export type { SsdVgg16Options } from './model';
export { PREPROCESS_MEAN_RGB, preprocess } from './preprocess';
export {
  MAX_MODEL_JSON_BYTES,
  MAX_WEIGHT_BYTES,
  WeightsFileError,
  fileSystemHandler,
  loadSsdModel,
  saveSsdModel,
} from './io';
export {
  DEFAULT_PREPROCESSING,
  modelInputScale,
  readSsdMetadata,
  setSsdMetadata,
  validateSsdMetadata,
} from './metadata';
export type { SsdMetadata, SsdPreprocessing } from './metadata';
export {
  MAX_SAFETENSORS_HEADER_BYTES,
  WeightImportError,
  loadKerasVgg16Weights,
  loadTorchvisionWeights,
  parseSafetensors,
  readSafetensorsFile,
} from './weights';
export type { SafetensorsEntry, TorchTensors, TorchvisionImportOptions } from './weights';
