// Replica module of tools/bench/backend-train-step.mjs (and a template for the
// training app): SSD300 VGG16 from @ssd/vgg-ssd, @ssd/loss's multiboxLoss
// returned as an un-normalised sum with the slice's positive count, so the
// data-parallel trainer reproduces the whole batch's loss exactly.
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-layers';
import { SSD300_VOC } from '@ssd/anchors';
import { multiboxLoss } from '@ssd/loss';
import { createSsdVgg16 } from '@ssd/vgg-ssd';

export function createReplica({ widthMultiplier = 1, numClasses = 21, learningRate = 1e-3 } = {}) {
  const model = createSsdVgg16({ numClasses, preset: SSD300_VOC, widthMultiplier, seed: 1 });
  return {
    model,
    optimizer: tf.train.momentum(learningRate, 0.9),
    loss({ images, locTargets, labels }) {
      const [locPred, logits] = model.apply(images, { training: true });
      // The sum over this slice and its positives: the trainer divides once, by Σ positives.
      const { total, numPositives } = multiboxLoss(
        { locPred, logits },
        { locTargets, labels },
        { reduction: 'sum' },
      );
      return { loss: total, normalizer: numPositives };
    },
  };
}
