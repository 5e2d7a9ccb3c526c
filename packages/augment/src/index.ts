export {
  AugmentOptionError,
  VOC_MEAN_RGB,
  applyPhotometric,
  compose,
  cropBoxes,
  drawExpand,
  drawIouCrop,
  drawPhotometric,
  expand,
  photometricInPlace,
  photometricUint8InPlace,
  horizontalFlip,
  photometricDistort,
  randomIouCrop,
  resample,
  resize,
  verticalFlip,
} from './transforms';
export type {
  AugmentSample,
  CropRect,
  ExpandOptions,
  ExpandParams,
  IouCropOptions,
  PhotometricOptions,
  PhotometricParams,
  Rng,
  Transform,
} from './transforms';
export { ssdEvalTransform, ssdTrainAugmentation } from './pipeline';
export type { PipelineInput, SsdAugmentationOptions, TrainingSample } from './pipeline';
