import { tensor2d, type Tensor2D } from '@tensorflow/tfjs-core';
import { validateAnchorConfig, type AnchorConfig } from './config';

/** Default boxes per feature-map location of each map: 2 + 2·(number of aspect ratios). */
export function numAnchorsPerLocation(config: AnchorConfig): number[] {
  validateAnchorConfig(config);
  return config.aspectRatios.map((ratios) => 2 + 2 * ratios.length);
}

/** Total number of default boxes (8732 for SSD300). */
export function numAnchors(config: AnchorConfig): number {
  return numAnchorsPerLocation(config).reduce(
    (sum, perLocation, k) => sum + perLocation * config.featureMapSizes[k]! ** 2,
    0,
  );
}

/** The (w, h) pairs, relative, of one location of map k, in anchor order. */
function boxShapes(config: AnchorConfig, k: number): number[] {
  const s = config.minSizes[k]! / config.imageSize;
  const sNext = config.maxSizes[k]! / config.imageSize;
  const shapes = [s, s, Math.sqrt(s * sNext), Math.sqrt(s * sNext)];
  for (const r of config.aspectRatios[k]!) {
    const root = Math.sqrt(r);
    shapes.push(s * root, s / root, s / root, s * root);
  }
  return shapes;
}

/**
 * All default boxes, packed `[numAnchors * 4]`, cxcywh, relative. Order:
 * feature maps in order; within a map row-major over locations (y outer,
 * x inner); per location s_k, √(s_k·s_{k+1}), then (s_k√r, s_k/√r),
 * (s_k/√r, s_k√r) per aspect ratio r. Model heads flatten in this order.
 */
export function generateAnchorsPacked(config: AnchorConfig): Float32Array {
  const out = new Float32Array(numAnchors(config) * 4);
  const clamp = config.clip ? (v: number) => Math.min(1, Math.max(0, v)) : (v: number) => v;
  let o = 0;
  config.featureMapSizes.forEach((size, k) => {
    const shapes = boxShapes(config, k);
    const scale = config.steps[k]! / config.imageSize;
    for (let y = 0; y < size; y++) {
      const cy = (y + config.offset) * scale;
      for (let x = 0; x < size; x++) {
        const cx = (x + config.offset) * scale;
        for (let j = 0; j < shapes.length; j += 2) {
          out[o++] = cx;
          out[o++] = cy;
          out[o++] = clamp(shapes[j]!);
          out[o++] = clamp(shapes[j + 1]!);
        }
      }
    }
  });
  return out;
}

/**
 * All default boxes as a tensor, in the order of `generateAnchorsPacked`.
 * @returns `[numAnchors, 4]`, cxcywh, relative. The caller owns it.
 */
export function generateAnchors(config: AnchorConfig): Tensor2D {
  const packed = generateAnchorsPacked(config);
  return tensor2d(packed, [packed.length / 4, 4]);
}
