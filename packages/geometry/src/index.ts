export type { BoxFormat, ImageSize } from './format';
export { BOX_FORMATS } from './format';
export { BoxArgumentError, BoxShapeError } from './errors';
export {
  boxArea,
  clipBoxes,
  convertBoxes,
  pairwiseIntersection,
  pairwiseIou,
  toAbsolute,
  toRelative,
} from './tensor';
export type {
  BoxCorners,
  BoxSpace,
  Detection,
  GroundTruth,
  NumClasses,
  PackedBoxes,
  RgbPixels,
  Sample,
  TrainingSample,
} from './contracts';
export type { BoxMathOptions, IouPrecision, PairwiseOptions } from './packed';
export {
  boxAreaPacked,
  boxIouPacked,
  clipBoxesPacked,
  convertBoxesPacked,
  packedBoxCount,
  pairwiseIntersectionPacked,
  pairwiseIouPacked,
  toAbsolutePacked,
  toRelativePacked,
} from './packed';
