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
export type { PackedBoxes } from './packed';
export {
  boxAreaPacked,
  clipBoxesPacked,
  convertBoxesPacked,
  pairwiseIntersectionPacked,
  pairwiseIouPacked,
  toAbsolutePacked,
  toRelativePacked,
} from './packed';
