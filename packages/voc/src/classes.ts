/**
 * The 20 Pascal VOC classes in the standard (devkit) order. Label `i + 1` is
 * `VOC_CLASSES[i]`; label 0 is background, so a VOC model has `numClasses` 21.
 */
export const VOC_CLASSES = Object.freeze([
  'aeroplane',
  'bicycle',
  'bird',
  'boat',
  'bottle',
  'bus',
  'car',
  'cat',
  'chair',
  'cow',
  'diningtable',
  'dog',
  'horse',
  'motorbike',
  'person',
  'pottedplant',
  'sheep',
  'sofa',
  'train',
  'tvmonitor',
] as const);

/** One of the 20 VOC class names. */
export type VocClass = (typeof VOC_CLASSES)[number];
