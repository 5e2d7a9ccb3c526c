import * as tf from '@tensorflow/tfjs-core';
import type { PixelDetection, PredictFunction } from './evaluation';
import { postprocess } from '@ssd/detect';
import { preprocess, type Network } from './network';

export interface Predictor {
  readonly predict: PredictFunction;
  dispose(): void;
}

/** Batched inference: RGB 0–255 at the input size → detections in original pixels. */
export function createPredictor(
  net: Pick<Network, 'model' | 'anchorsPacked' | 'numAnchors'>,
  options: { inputSize: number; classes: readonly string[]; scoreThreshold?: number },
): Predictor {
  const s = options.inputSize;
  const anchors = tf.tensor2d(net.anchorsPacked, [net.numAnchors, 4]);
  return {
    async predict(images, imageSizes): Promise<PixelDetection[][]> {
      const b = imageSizes.length;
      const [locPred, logits] = tf.tidy(() => {
        const x = preprocess(tf.tensor4d(images, [b, s, s, 3], 'float32'));
        const out = net.model.predict(x) as tf.Tensor[];
        return [out[0] as tf.Tensor3D, out[1] as tf.Tensor3D];
      });
      try {
        return await postprocess({ locPred: locPred!, logits: logits! }, anchors, {
          imageSizes,
          scoreThreshold: options.scoreThreshold ?? 0.01,
          iouThreshold: 0.45,
          topK: 400,
          maxDetections: 200,
          labels: options.classes,
        });
      } finally {
        tf.dispose([locPred!, logits!]);
      }
    },
    dispose() {
      anchors.dispose();
    },
  };
}
