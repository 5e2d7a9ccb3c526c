import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { describe, expect, it } from 'vitest';
import { expectArrayClose, testRng } from '@ssd/testing';
import {
  SSD300_COCO,
  SSD300_VOC,
  SSD512_VOC,
  generateAnchorsPacked,
  numAnchors,
  numAnchorsPerLocation,
} from '@ssd/anchors';
import {
  SsdConfigError,
  anchorConfigForInputSize,
  anchorConfigForModel,
  createSsdVgg16,
  ssdFeatureMapSizes,
} from './index';
import { headLayerNames } from './model';
import { narrowSsd } from './test-helpers';

/**
 * Long synchronous tfjs work starves vitest's worker RPC on a loaded machine
 * ("Timeout calling onTaskUpdate"); a macrotask break between steps lets it through.
 */
const yieldToEventLoop = () => new Promise((resolve) => setTimeout(resolve, 0));

function randomImages(shape: [number, number, number, number], seed: number): tf.Tensor4D {
  const rng = testRng(seed);
  const values = Float32Array.from({ length: shape.reduce((a, b) => a * b) }, () => rng() * 2 - 1);
  return tf.tensor4d(values, shape);
}

describe('createSsdVgg16: the paper network', () => {
  it('SSD300 with 21 classes has 26,285,486 parameters (torchvision ssd300_vgg16)', () => {
    const model = createSsdVgg16({ numClasses: 21, preset: SSD300_VOC });
    expect(model.countParams()).toBe(26_285_486);
    expect(model.outputs.map((o) => o.shape)).toEqual([
      [null, 8732, 4],
      [null, 8732, 21],
    ]);
    expect(model.getLayer('block1_conv1').getWeights()[0]!.shape).toEqual([3, 3, 3, 64]);
    expect(model.getLayer('fc6').getWeights()[0]!.shape).toEqual([3, 3, 512, 1024]);
    expect(model.getLayer('conv4_3_norm').getWeights()[0]!.shape).toEqual([512]);
    model.dispose();
  });

  it('SSD512 outputs [B, 24564, 4] and [B, 24564, C]', () => {
    const model = createSsdVgg16({ numClasses: 21, preset: SSD512_VOC, widthMultiplier: 0.125 });
    expect(model.outputs.map((o) => o.shape)).toEqual([
      [null, 24564, 4],
      [null, 24564, 21],
    ]);
    expect(anchorConfigForModel(model, SSD512_VOC)).toBe(SSD512_VOC);
    model.dispose();
  });

  it('builds the feature maps of the presets', () => {
    expect(ssdFeatureMapSizes({ preset: SSD300_VOC })).toEqual([38, 19, 10, 5, 3, 1]);
    expect(ssdFeatureMapSizes({ preset: SSD512_VOC })).toEqual([64, 32, 16, 8, 4, 2, 1]);
    // Below 268 px the pad-0 stages keep a 1×1 map instead of vanishing.
    expect(ssdFeatureMapSizes({ preset: SSD300_VOC, inputSize: 150 })).toEqual([19, 9, 5, 3, 1, 1]);
  });

  it('a forward pass gives [B, 8732, 4] and [B, 8732, C] (narrow SSD300)', async () => {
    const model = createSsdVgg16({ numClasses: 4, preset: SSD300_COCO, widthMultiplier: 1 / 32 });
    const images = randomImages([2, 300, 300, 3], 1);
    const [loc, logits] = model.predict(images) as tf.Tensor[];
    expect(loc!.shape).toEqual([2, 8732, 4]);
    expect(logits!.shape).toEqual([2, 8732, 4]);
    expect(Number.isFinite((await tf.sum(tf.abs(logits!)).data())[0])).toBe(true);
    tf.dispose([images, loc!, logits!]);
    model.dispose();
  });

  it('rejects impossible options with the option named', () => {
    expect(() => createSsdVgg16({ numClasses: 1, preset: SSD300_VOC })).toThrow(SsdConfigError);
    expect(() => createSsdVgg16({ numClasses: 21, preset: SSD300_VOC, inputSize: 16 })).toThrow(
      'createSsdVgg16 inputSize: expected an integer ≥ 32, got 16',
    );
    expect(() =>
      createSsdVgg16({ numClasses: 21, preset: SSD300_VOC, widthMultiplier: 0 }),
    ).toThrow('widthMultiplier');
    expect(() =>
      createSsdVgg16({ numClasses: 21, preset: { ...SSD300_VOC, ...fiveMaps() } }),
    ).toThrow('expected 6 feature maps (SSD300) or 7 (SSD512), got 5');
  });

  it('is a pure function of its options: the same seed builds the same weights', async () => {
    const [a, b, c] = [5, 5, 6].map((seed) => narrowSsd({ seed }));
    const values = (m: tfl.LayersModel) => Promise.all(m.getWeights().map((w) => w.data()));
    const [wa, wb, wc] = await Promise.all([a!, b!, c!].map(values));
    expect(a!.weights.map((w) => w.originalName)).toEqual(b!.weights.map((w) => w.originalName));
    expect(wa).toEqual(wb);
    expect(wa).not.toEqual(wc);
    [a!, b!, c!].forEach((m) => m.dispose());
  });

  it('the width multiplier scales every convolution but not the heads', () => {
    const model = createSsdVgg16({ numClasses: 21, preset: SSD300_VOC, widthMultiplier: 0.25 });
    expect(model.getLayer('block1_conv1').getWeights()[0]!.shape).toEqual([3, 3, 3, 16]);
    expect(model.getLayer('fc7').getWeights()[0]!.shape).toEqual([1, 1, 256, 256]);
    expect(model.getLayer('conv8_2').getWeights()[0]!.shape).toEqual([3, 3, 64, 128]);
    expect(model.getLayer('conf_0').getWeights()[0]!.shape).toEqual([3, 3, 128, 4 * 21]);
    model.dispose();
  });

  it('inputScale multiplies the input inside the network, with no weights of its own', async () => {
    const plain = narrowSsd({ numClasses: 4, seed: 5 });
    const scaled = narrowSsd({ numClasses: 4, seed: 5, inputScale: 0.25 });
    expect(() => plain.getLayer('input_scale')).toThrow();
    expect(scaled.getLayer('input_scale')).toBeDefined();
    expect(scaled.countParams()).toBe(plain.countParams());
    const x = randomImages([2, 64, 64, 3], 11);
    const quarter = tf.mul(x, 0.25);
    const a = scaled.predict(x) as tf.Tensor[];
    const b = plain.predict(quarter) as tf.Tensor[];
    for (let i = 0; i < 2; i++) {
      expectArrayClose(await a[i]!.data(), await b[i]!.data(), { atol: 1e-5, rtol: 1e-4 });
    }
    expect(() => narrowSsd({ numClasses: 4, inputScale: 0 })).toThrow(SsdConfigError);
    expect(() => narrowSsd({ numClasses: 4, inputScale: Number.NaN })).toThrow(/inputScale/);
    tf.dispose([x, quarter, ...a, ...b]);
    plain.dispose();
    scaled.dispose();
  });
});

function fiveMaps() {
  return {
    featureMapSizes: [19, 10, 5, 3, 1],
    steps: [16, 32, 64, 100, 300],
    minSizes: [60, 111, 162, 213, 264],
    maxSizes: [111, 162, 213, 264, 315],
    aspectRatios: [[2, 3], [2, 3], [2, 3], [2], [2]],
  };
}

describe('heads flatten in generateAnchors order (by construction)', () => {
  it('row i of locPred/logits is head output (k, y, x, a) of anchor i', async () => {
    const inputSize = 150;
    const numClasses = 3;
    const model = narrowSsd({ numClasses, inputSize, seed: 3 });
    const config = anchorConfigForModel(model, SSD300_VOC);
    expect(config).toEqual(anchorConfigForInputSize(SSD300_VOC, inputSize));
    expect(config.featureMapSizes).toEqual([19, 9, 5, 3, 1, 1]);
    const perLocation = numAnchorsPerLocation(config);
    const anchors = generateAnchorsPacked(config);
    expect(model.outputs[0]!.shape).toEqual([null, numAnchors(config), 4]);

    // The raw heads, [1, H, W, A·4] and [1, H, W, A·C], from the same graph.
    const heads = tfl.model({
      inputs: model.inputs,
      outputs: perLocation.flatMap((_, k) => [
        model.getLayer(headLayerNames(k).loc).output as tfl.SymbolicTensor,
        model.getLayer(headLayerNames(k).conf).output as tfl.SymbolicTensor,
      ]),
    });
    const images = randomImages([1, inputSize, inputSize, 3], 2);
    const [loc, logits] = model.predict(images) as tf.Tensor[];
    const raw = heads.predict(images) as tf.Tensor[];
    const locData = await loc!.data();
    const logitData = await logits!.data();
    let i = 0;
    for (let k = 0; k < perLocation.length; k++) {
      const size = config.featureMapSizes[k]!;
      const a = perLocation[k]!;
      const rawLoc = await raw[2 * k]!.data();
      const rawConf = await raw[2 * k + 1]!.data();
      const step = config.steps[k]! / config.imageSize;
      for (let y = 0; y < size; y++) {
        for (let x = 0; x < size; x++) {
          for (let j = 0; j < a; j++, i++) {
            const cell = y * size + x;
            expectArrayClose(
              locData.subarray(i * 4, i * 4 + 4),
              rawLoc.subarray(cell * a * 4 + j * 4, cell * a * 4 + j * 4 + 4),
              { atol: 0 },
            );
            expectArrayClose(
              logitData.subarray(i * numClasses, (i + 1) * numClasses),
              rawConf.subarray((cell * a + j) * numClasses, (cell * a + j + 1) * numClasses),
              { atol: 0 },
            );
            // …and anchor i is the box of that very cell of that very map.
            expect(anchors[i * 4]).toBeCloseTo((x + 0.5) * step, 5);
            expect(anchors[i * 4 + 1]).toBeCloseTo((y + 0.5) * step, 5);
          }
        }
      }
    }
    expect(i).toBe(numAnchors(config));
    tf.dispose([images, loc!, logits!, ...raw]);
    model.dispose();
  });
});

describe('training and memory', () => {
  it('every trainable weight, fc6 and the L2Norm scale included, gets a gradient', async () => {
    const numClasses = 3;
    const model = narrowSsd({ numClasses, inputSize: 32, seed: 7 });
    const images = randomImages([2, 32, 32, 3], 4);
    const numBoxes = model.outputs[0]!.shape[1]!;
    const rng = testRng(9);
    const locTarget = tf.tensor3d(
      Float32Array.from({ length: 2 * numBoxes * 4 }, () => rng() - 0.5),
      [2, numBoxes, 4],
    );
    const labels = tf.oneHot(
      tf.tensor2d(
        Int32Array.from({ length: 2 * numBoxes }, () => Math.floor(rng() * numClasses)),
        [2, numBoxes],
        'int32',
      ),
      numClasses,
    );
    const lossFn = () => {
      const [loc, logits] = model.apply(images, { training: true }) as tf.Tensor[];
      const smoothL1 = tf.losses.huberLoss(locTarget, loc!);
      const ce = tf.neg(tf.mean(tf.sum(tf.mul(labels, tf.logSoftmax(logits!)), -1)));
      return tf.add(smoothL1, ce) as tf.Scalar;
    };
    const { grads, value } = tf.variableGrads(lossFn);
    const names = model.trainableWeights.map((w) => w.originalName);
    expect(names).toContain('fc6/kernel');
    expect(names).toContain('conv4_3_norm/gamma');
    for (const w of model.trainableWeights) {
      expect(grads[w.name], w.originalName).toBeDefined();
    }
    tf.dispose([value, ...Object.values(grads)]);
    await yieldToEventLoop();

    // The optimizer steps with the real MultiBox loss are in train.test.ts.
    tf.dispose([images, locTarget, labels]);
    model.dispose();
  });

  it('50 forward passes leak no tensor', async () => {
    const model = narrowSsd();
    const images = randomImages([1, 64, 64, 3], 5);
    tf.dispose(model.predict(images) as tf.Tensor[]); // warm-up
    const before = tf.memory().numTensors;
    for (let i = 0; i < 50; i++) {
      tf.dispose(model.predict(images) as tf.Tensor[]);
      if (i % 10 === 9) await yieldToEventLoop();
    }
    expect(tf.memory().numTensors).toBe(before);
    images.dispose();
    model.dispose();
  });
});
