import { generateAnchorsPacked } from '@ssd/anchors';
import {
  postprocess,
  resizeToInput,
  type Detection,
  type DetectOptions,
  type RgbImage,
  type SsdDetector,
} from '@ssd/detect';
import { preprocess } from '@ssd/vgg-ssd';
import * as tf from '@tensorflow/tfjs-core';

/** Milliseconds spent in each stage of one detection. */
export interface StageTimes {
  preprocess: number;
  forward: number;
  postprocess: number;
}

const anchorCache = new WeakMap<SsdDetector, Float32Array>();

function anchorsOf(detector: SsdDetector): Float32Array {
  let anchors = anchorCache.get(detector);
  if (anchors === undefined) {
    anchors = generateAnchorsPacked(detector.anchorConfig);
    anchorCache.set(detector, anchors);
  }
  return anchors;
}

/**
 * `detector.detect(image, options)` cut at its stage boundaries so each can be
 * timed: the one resize and `preprocess`, the network (until its outputs are
 * read back), then `@ssd/detect`'s `postprocess` (decode, softmax, NMS). The
 * same functions `@ssd/detect` calls, in the same order: the detections are
 * `detector.detect`'s (the browser tests compare them with Node's).
 */
export async function detectWithTimes(
  detector: SsdDetector,
  image: RgbImage,
  options: DetectOptions = {},
): Promise<{ detections: Detection[]; times: StageTimes }> {
  const shape = detector.model.inputs[0]!.shape;
  const size = { height: shape[1]!, width: shape[2]! };
  const t0 = performance.now();
  const input = tf.tidy(() => {
    const resized = resizeToInput(image, size);
    return preprocess(tf.expandDims(resized, 0) as tf.Tensor4D, {
      meanRgb: detector.preprocessing.meanRgb,
    }); // [1, inputHeight, inputWidth, 3]
  });
  const t1 = performance.now();
  const [locPred, logits] = detector.model.predict(input) as tf.Tensor[];
  input.dispose();
  try {
    await Promise.all([locPred!.data(), logits!.data()]);
    const t2 = performance.now();
    const detections = (
      await postprocess({ locPred: locPred!, logits: logits! }, anchorsOf(detector), {
        ...options,
        imageSizes: [{ width: image.width, height: image.height }],
        ...(detector.labels ? { labels: detector.labels } : {}),
      })
    )[0]!;
    const t3 = performance.now();
    return { detections, times: { preprocess: t1 - t0, forward: t2 - t1, postprocess: t3 - t2 } };
  } finally {
    tf.dispose([locPred!, logits!]);
  }
}
