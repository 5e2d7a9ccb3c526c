// The main job, until examples/train-voc lands: shows what the built packages do.
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { SSD300_VOC, SSD512_VOC, generateAnchors, numAnchorsPerLocation } from '@ssd/anchors';
import { convertBoxes, pairwiseIou } from '@ssd/geometry';

tf.env().set('IS_TEST', true); // no tfjs-node banner
await tf.setBackend('cpu');

for (const [name, preset] of [
  ['SSD300_VOC', SSD300_VOC],
  ['SSD512_VOC', SSD512_VOC],
]) {
  const anchors = generateAnchors(preset);
  console.log(
    `${name}: ${anchors.shape[0]} default boxes, per location ${numAnchorsPerLocation(preset).join('/')} ` +
      `on maps ${preset.featureMapSizes.join('/')}`,
  );
  anchors.dispose();
}

const best = tf.tidy(() => {
  const anchors = convertBoxes(generateAnchors(SSD300_VOC), 'cxcywh', 'xyxy');
  const gt = tf.tensor2d([[0.1, 0.2, 0.5, 0.8]]);
  return tf.max(pairwiseIou(anchors, gt, 'xyxy')).dataSync()[0];
});
console.log(`best default-box IoU for a box (0.1, 0.2)-(0.5, 0.8): ${best.toFixed(3)}`);
console.log('Training arrives with examples/train-voc; see README.md for the packages.');
