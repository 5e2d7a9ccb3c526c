/** Mirroring left–right and top–bottom. */
import { checkProbability } from './errors';
import type { AugmentSample, Transform } from './types';

function flip(sample: AugmentSample, horizontal: boolean): AugmentSample {
  const { width: w, height: h } = sample;
  const image = new (sample.image.constructor as Float32ArrayConstructor)(sample.image.length);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      const from = (horizontal ? y * w + (w - 1 - x) : (h - 1 - y) * w + x) * 3;
      const to = (y * w + x) * 3;
      image[to] = sample.image[from]!;
      image[to + 1] = sample.image[from + 1]!;
      image[to + 2] = sample.image[from + 2]!;
    }
  }
  const boxes = sample.boxes.slice();
  for (let k = 0; k < boxes.length; k += 4) {
    if (horizontal) {
      boxes[k] = w - sample.boxes[k + 2]!;
      boxes[k + 2] = w - sample.boxes[k]!;
    } else {
      boxes[k + 1] = h - sample.boxes[k + 3]!;
      boxes[k + 3] = h - sample.boxes[k + 1]!;
    }
  }
  return { ...sample, image, boxes };
}

/** Mirrors left–right with `probability` (default 0.5). */
export function horizontalFlip(options: { probability?: number } = {}): Transform {
  const { probability = 0.5 } = options;
  checkProbability('probability', probability);
  return (sample, rng) => (rng() < probability ? flip(sample, true) : sample);
}

/** Mirrors top–bottom with `probability` (default 0.5; off in `ssdTrainAugmentation` unless asked). */
export function verticalFlip(options: { probability?: number } = {}): Transform {
  const { probability = 0.5 } = options;
  checkProbability('probability', probability);
  return (sample, rng) => (rng() < probability ? flip(sample, false) : sample);
}
