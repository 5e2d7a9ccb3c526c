import { mkdir, mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { SSD300_VOC } from '@ssd/anchors';
import type { Detection } from '@ssd/detect';
import { renderShapesImage } from '@ssd/make-shapes-voc';
import { anchorConfigForModel, createSsdVgg16 } from '@ssd/vgg-ssd';
import { saveSsdModel } from '@ssd/vgg-ssd/node';
import * as tf from '@tensorflow/tfjs-core';
import sharp from 'sharp';

/** Classes of the fixture model (numClasses = 4 with background). */
export const FIXTURE_LABELS = ['circle', 'square', 'triangle'] as const;

/** The score threshold the comparisons run at (the fixture gives tens of detections above it). */
export const FIXTURE_SCORE_THRESHOLD = 0.2;

/**
 * A width-1/16 VGG16-SSD at 96 px (input scale 1/58, SSD300's anchors on its
 * maps), seeded Glorot weights with its heads tamed so it detects like a
 * half-trained model: head kernels ×0.2 (boxes near their anchors, logits of a
 * few units) and background bias +3 (scores spread over 0–0.5). Saved with
 * `saveSsdModel` and its metadata into `<dir>/model/`.
 */
export async function makeFixtureModel(dir: string): Promise<string> {
  const model = createSsdVgg16({
    numClasses: FIXTURE_LABELS.length + 1,
    preset: SSD300_VOC,
    widthMultiplier: 1 / 16,
    inputSize: 96,
    inputScale: 1 / 58,
    seed: 7,
  });
  try {
    const numClasses = FIXTURE_LABELS.length + 1;
    for (const layer of model.layers) {
      const head = /^(loc|conf)_\d+$/.exec(layer.name);
      if (!head) continue;
      tf.tidy(() => {
        const [kernel, bias] = layer.getWeights() as [tf.Tensor4D, tf.Tensor1D];
        // Bias [anchorsPerLocation * numClasses]: background is class 0 of each anchor.
        const background = tf.tensor1d(
          Float32Array.from({ length: bias.shape[0] }, (_, i) =>
            layer.name.startsWith('conf') && i % numClasses === 0 ? 3 : 0,
          ),
        );
        layer.setWeights([tf.mul(kernel, 0.2), background]);
      });
    }
    const out = path.join(dir, 'model');
    await saveSsdModel(model, out, {
      anchorConfig: anchorConfigForModel(model, SSD300_VOC),
      labels: FIXTURE_LABELS,
      inputSize: 96,
      inputScale: 1 / 58,
    });
    return out;
  } finally {
    model.dispose();
  }
}

/** A generated shapes image (200×150, not square: the boxes scale per axis) as a PNG. */
export async function makeFixtureImage(dir: string): Promise<string> {
  const image = renderShapesImage(3, 0, { width: 200, height: 150 });
  const file = path.join(dir, 'image.png');
  await writePng(image, file);
  return file;
}

/**
 * The first generated shapes image (seed 1, `npm start`'s sizes) with at least four
 * objects, as `shapes.png`: what a trained shapes model is compared on.
 */
export async function makeShapesImage(dir: string): Promise<string> {
  let index = 0;
  while (renderShapesImage(1, index).objects.length < 4) index++;
  const image = renderShapesImage(1, index);
  const file = path.join(dir, 'shapes.png');
  await writePng(image, file);
  return file;
}

async function writePng(
  image: { image: Uint8Array; width: number; height: number },
  file: string,
): Promise<void> {
  await sharp(Buffer.from(image.image), {
    raw: { width: image.width, height: image.height, channels: 3 },
  })
    .png()
    .toFile(file);
}

/** A fresh folder holding `model/`, `image.png` and `shapes.png`. */
export async function makeFixtures(): Promise<{
  dir: string;
  model: string;
  image: string;
  shapes: string;
}> {
  const dir = await mkdtemp(path.join(tmpdir(), 'ssd-web-'));
  await mkdir(dir, { recursive: true });
  return {
    dir,
    model: await makeFixtureModel(dir),
    image: await makeFixtureImage(dir),
    shapes: await makeShapesImage(dir),
  };
}

/** An image file decoded by sharp, as `@ssd/detect`'s `RgbImage`. */
export async function readRgb(
  file: string,
): Promise<{ data: Uint8Array; width: number; height: number }> {
  const { data, info } = await sharp(file)
    .removeAlpha()
    .raw()
    .toBuffer({ resolveWithObject: true });
  return { data: new Uint8Array(data), width: info.width, height: info.height };
}

/**
 * Pairs each detection of `expected` with one of `actual` of the same class whose
 * box corners are within `boxPixels` and score within `score`. Detections whose
 * score is within `score` of `scoreThreshold` may be missing on either side (one
 * backend's rounding can put them under it). Returns what did not pair.
 */
export function unmatchedDetections(
  expected: readonly Detection[],
  actual: readonly Detection[],
  tolerance: { boxPixels: number; score: number; scoreThreshold: number },
): { missing: Detection[]; extra: Detection[] } {
  const close = (a: Detection, b: Detection): boolean =>
    a.classId === b.classId &&
    Math.abs(a.score - b.score) <= tolerance.score &&
    (['xMin', 'yMin', 'xMax', 'yMax'] as const).every(
      (k) => Math.abs(a.box[k] - b.box[k]) <= tolerance.boxPixels,
    );
  const used = new Set<number>();
  const missing: Detection[] = [];
  for (const e of expected) {
    const j = actual.findIndex((a, i) => !used.has(i) && close(e, a));
    if (j >= 0) used.add(j);
    else missing.push(e);
  }
  const edge = (d: Detection): boolean => d.score < tolerance.scoreThreshold + tolerance.score;
  return {
    missing: missing.filter((d) => !edge(d)),
    extra: actual.filter((d, i) => !used.has(i) && !edge(d)),
  };
}
