export { DetectInputError } from './errors';
export type { NmsOptions } from './nms';
export { nonMaxSuppressionPacked } from './nms';
export type { Detection, ImageSize, PostprocessOptions } from './postprocess';
export { detectionsFromPacked, postprocess } from './postprocess';
export type {
  DetectImage,
  DetectOptions,
  DetectorOptions,
  LoadSsdOptions,
  RgbImage,
  SsdDetector,
} from './load';
export { createDetector, loadSsd, resizeToInput } from './load';
