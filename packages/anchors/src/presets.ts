import { anchorConfigFromScales, type AnchorConfig } from './config';

function freeze(config: AnchorConfig): AnchorConfig {
  return Object.freeze({
    ...config,
    featureMapSizes: Object.freeze([...config.featureMapSizes]),
    steps: Object.freeze([...config.steps]),
    minSizes: Object.freeze([...config.minSizes]),
    maxSizes: Object.freeze([...config.maxSizes]),
    aspectRatios: Object.freeze(config.aspectRatios.map((r) => Object.freeze([...r]))),
  });
}

/**
 * SSD300 on Pascal VOC, as in the original Caffe release (`ssd_pascal.py`:
 * min_ratio 20, max_ratio 90, conv4_3 at 10%) and ssd.pytorch's `voc` config.
 * 8732 anchors.
 */
export const SSD300_VOC: AnchorConfig = freeze({
  imageSize: 300,
  featureMapSizes: [38, 19, 10, 5, 3, 1],
  steps: [8, 16, 32, 64, 100, 300],
  minSizes: [30, 60, 111, 162, 213, 264],
  maxSizes: [60, 111, 162, 213, 264, 315],
  aspectRatios: [[2], [2, 3], [2, 3], [2, 3], [2], [2]],
  clip: true,
  offset: 0.5,
});

/**
 * SSD300 on COCO, with torchvision's `ssd300_vgg16` scales
 * (0.07, 0.15, 0.33, 0.51, 0.69, 0.87, 1.05). 8732 anchors.
 */
export const SSD300_COCO: AnchorConfig = freeze(
  anchorConfigFromScales({
    imageSize: 300,
    featureMapSizes: [38, 19, 10, 5, 3, 1],
    steps: [8, 16, 32, 64, 100, 300],
    scales: [0.07, 0.15, 0.33, 0.51, 0.69, 0.87, 1.05],
    aspectRatios: [[2], [2, 3], [2, 3], [2, 3], [2], [2]],
  }),
);

/**
 * SSD512 on Pascal VOC, as in the original Caffe release (`ssd_pascal_512.py`:
 * min_ratio 15, max_ratio 90, conv4_3 at 7%). 24564 anchors.
 */
export const SSD512_VOC: AnchorConfig = freeze({
  imageSize: 512,
  featureMapSizes: [64, 32, 16, 8, 4, 2, 1],
  steps: [8, 16, 32, 64, 128, 256, 512],
  minSizes: [35.84, 76.8, 153.6, 230.4, 307.2, 384.0, 460.8],
  maxSizes: [76.8, 153.6, 230.4, 307.2, 384.0, 460.8, 537.6],
  aspectRatios: [[2], [2, 3], [2, 3], [2, 3], [2, 3], [2], [2]],
  clip: true,
  offset: 0.5,
});
