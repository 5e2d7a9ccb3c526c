export type { AnchorConfig } from './config';
export {
  AnchorConfigError,
  anchorConfigFromScales,
  linearScales,
  validateAnchorConfig,
} from './config';
export { SSD300_COCO, SSD300_VOC, SSD512_VOC } from './presets';
export {
  generateAnchors,
  generateAnchorsPacked,
  numAnchors,
  numAnchorsPerLocation,
} from './generate';
