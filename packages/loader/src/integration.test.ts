import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { SSD300_VOC, numAnchors } from '@ssd/anchors';
import { ssdEvalTransform, ssdTrainAugmentation } from '@ssd/augment';
import { SHAPES_CLASSES } from '@ssd/make-shapes-voc';
import { makeShapesVoc } from '@ssd/make-shapes-voc/node';
import { createTargetEncoder } from '@ssd/matcher';
import { expectNoTensorLeak } from '@ssd/testing';
import { openVocDataset } from '@ssd/voc/node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLoader, disposeBatch } from './index';

describe('the data path: make-shapes-voc → @ssd/voc → @ssd/augment → @ssd/matcher → loader', () => {
  let out: string;
  beforeAll(async () => {
    out = await mkdtemp(join(tmpdir(), 'ssd-loader-'));
  });
  afterAll(async () => {
    await rm(out, { recursive: true, force: true });
  });

  it('gives SSD300 batches with positives, preprocessed, and leaks nothing', async () => {
    const made = await makeShapesVoc({ outDir: out, count: 10, seed: 3 });
    const dataset = await openVocDataset({
      root: made.root,
      sets: made.sets,
      classes: SHAPES_CLASSES,
    });
    const P = numAnchors(SSD300_VOC);
    const encodeTargets = createTargetEncoder(SSD300_VOC);
    for (const augment of [ssdTrainAugmentation({ size: 300 }), ssdEvalTransform({ size: 300 })]) {
      const loader = createLoader(dataset, {
        batchSize: 4,
        seed: 1,
        dropLast: true,
        augment,
        encodeTargets,
        preprocess: (images) => tf.sub(images, tf.tensor1d([123, 117, 104])) as tf.Tensor4D,
      });
      await expectNoTensorLeak(async () => {
        let batches = 0;
        for await (const batch of loader) {
          batches++;
          expect(batch.images.shape).toEqual([4, 300, 300, 3]);
          expect(batch.locTargets.shape).toEqual([4, P, 4]);
          expect(batch.labels.shape).toEqual([4, P]);
          const labels = await batch.labels.data();
          const positives = labels.filter((l) => l > 0).length;
          expect(positives).toBeGreaterThan(0);
          expect(Math.max(...labels)).toBeLessThanOrEqual(SHAPES_CLASSES.length);
          const pixels = await batch.images.data();
          expect(Math.min(...pixels.subarray(0, 3000))).toBeGreaterThanOrEqual(-123);
          disposeBatch(batch);
        }
        expect(batches).toBe(2);
      });
    }
  });
});
