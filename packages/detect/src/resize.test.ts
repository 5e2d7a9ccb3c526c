import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';
import { ssdEvalTransform } from '@ssd/augment';
import { SSD300_VOC } from '@ssd/anchors';
import { anchorConfigForModel, preprocess } from '@ssd/vgg-ssd';
import { createDetector, resizeToInput } from './index';
import { randomRgb, tinyModel } from './test-helpers';

describe('resizeToInput: one resize, two representations', () => {
  it('raw pixels go through exactly training’s eval transform', async () => {
    const image = randomRgb(37, 23, 1);
    const resized = resizeToInput(image, { height: 16, width: 20 });
    const reference = ssdEvalTransform({ size: { width: 20, height: 16 } })({
      id: 'x',
      image: image.data,
      width: 37,
      height: 23,
      boxes: new Float32Array(0),
      labels: new Int32Array(0),
      difficult: new Uint8Array(0),
    }).image;
    expect(Array.from(await resized.data())).toEqual(Array.from(reference));
    resized.dispose();
  });

  it('a 2×2 image stretched to 4×4: half-pixel centres, clamped edges (by hand)', async () => {
    // One channel shown (all three equal): source [[0, 100], [200, 40]].
    const data = Uint8Array.from([0, 100, 200, 40].flatMap((v) => [v, v, v]));
    const out = resizeToInput({ data, width: 2, height: 2 }, { height: 4, width: 4 });
    const red = Array.from(await out.data()).filter((_, i) => i % 3 === 0);
    // Output x 0..3 samples source x = −0.25→0, 0.25, 0.75, 1.25→1; same in y.
    const row = (a: number, b: number) => [a, a + 0.25 * (b - a), a + 0.75 * (b - a), b];
    const top = row(0, 100);
    const bottom = row(200, 40);
    const expected = [0, 0.25, 0.75, 1].flatMap((wy) =>
      top.map((t, x) => Math.round(t + wy * (bottom[x]! - t))),
    );
    expect(red).toEqual(expected);
    out.dispose();
  });

  it('a tensor image (resized on its backend) agrees with the raw-pixel path within one level', async () => {
    for (const [w, h, ow, oh, seed] of [
      [120, 80, 64, 64, 2],
      [50, 70, 96, 96, 3],
      [300, 17, 33, 41, 4],
    ] as const) {
      const image = randomRgb(w, h, seed);
      const raw = resizeToInput(image, { height: oh, width: ow });
      const tensor = tf.tensor3d(image.data, [h, w, 3], 'int32');
      const inGraph = resizeToInput(tensor, { height: oh, width: ow });
      // The same interpolation before rounding: tfjs' own half-pixel bilinear.
      const unrounded = tf.image.resizeBilinear(tf.cast(tensor, 'float32'), [oh, ow], false, true);
      const a = await raw.data();
      const b = await inGraph.data();
      const u = await unrounded.data();
      let maxDiff = 0;
      let maxToUnrounded = 0;
      let equal = 0;
      for (let i = 0; i < a.length; i++) {
        maxDiff = Math.max(maxDiff, Math.abs(a[i]! - b[i]!));
        maxToUnrounded = Math.max(maxToUnrounded, Math.abs(a[i]! - u[i]!));
        if (a[i] === b[i]) equal++;
      }
      // Only values within float error of a half level may round the other way.
      expect(maxToUnrounded).toBeLessThan(0.5 + 1e-3);
      expect(maxDiff).toBeLessThanOrEqual(1);
      expect(equal / a.length).toBeGreaterThan(0.99);
      tf.dispose([raw, tensor, inGraph, unrounded]);
    }
  });

  it('the detector subtracts the preprocessing’s mean it is given', async () => {
    const model = tinyModel(5);
    const anchorConfig = anchorConfigForModel(model, SSD300_VOC);
    const meanRgb = [10, 20, 30] as const;
    const detector = createDetector(model, {
      anchorConfig,
      preprocessing: { resize: 'bilinear-half-pixel', meanRgb },
    });
    expect(detector.preprocessing.meanRgb).toEqual(meanRgb);
    const image = randomRgb(64, 64, 6);
    const got = await detector.detect(image, { scoreThreshold: 0.2 });
    // The same by hand: the image is already at the input size, so no resize.
    const [locPred, logits] = tf.tidy(() => {
      const x = preprocess(tf.tensor4d(image.data, [1, 64, 64, 3], 'int32'), { meanRgb });
      return model.predict(x) as tf.Tensor[];
    });
    const defaultMean = await createDetector(model, { anchorConfig }).detect(image, {
      scoreThreshold: 0.2,
    });
    const { postprocess } = await import('./postprocess');
    const { generateAnchorsPacked } = await import('@ssd/anchors');
    const [expected] = await postprocess(
      { locPred: locPred!, logits: logits! },
      generateAnchorsPacked(anchorConfig),
      { imageSizes: [{ width: 64, height: 64 }], scoreThreshold: 0.2 },
    );
    expect(got).toEqual(expected);
    expect(got).not.toEqual(defaultMean);
    tf.dispose([locPred!, logits!]);
    model.dispose();
  });
});
