import * as tf from '@tensorflow/tfjs-core';
import type * as tfl from '@tensorflow/tfjs-layers';
import { ssdEvalTransform } from '@ssd/augment';
import { generateAnchorsPacked, type AnchorConfig } from '@ssd/anchors';
import {
  DEFAULT_PREPROCESSING,
  loadSsdModel,
  preprocess,
  readSsdMetadata,
  type ModelLocation,
  type SsdPreprocessing,
} from '@ssd/vgg-ssd';
import { DetectInputError } from './errors';
import { postprocess, type Detection, type PostprocessOptions } from './postprocess';

/** Raw RGB pixels, row-major, 3 bytes per pixel (what `sharp(...).raw()` or @ssd/voc give). */
export interface RgbImage {
  data: Uint8Array;
  width: number;
  height: number;
}

export type DetectImage = tf.Tensor3D | RgbImage;
export type DetectOptions = Omit<PostprocessOptions, 'imageSizes' | 'labels'>;

/** What `createDetector` needs besides the model: `SsdMetadata`'s fields. */
export interface DetectorOptions {
  /** The anchors the heads predict for (`anchorConfigForModel(model, preset)`). */
  anchorConfig: AnchorConfig;
  /** Names of classes 1..C−1 (background excluded). */
  labels?: readonly string[];
  /** The input transform outside the graph; default `DEFAULT_PREPROCESSING` (VGG16's mean). */
  preprocessing?: SsdPreprocessing;
  /** `dispose()` frees the model too (what `loadSsd` sets). */
  ownsModel?: boolean;
}

export interface SsdDetector {
  readonly model: tfl.LayersModel;
  readonly anchorConfig: AnchorConfig;
  readonly labels: readonly string[] | undefined;
  readonly preprocessing: SsdPreprocessing;
  /** Detections of one image (RGB, 0–255, any size), best first, in its pixels. */
  detect(image: DetectImage, options?: DetectOptions): Promise<Detection[]>;
  /** Detections of several images, run as one batch. */
  detectBatch(images: readonly DetectImage[], options?: DetectOptions): Promise<Detection[][]>;
  /** Frees the model when the detector loaded it; the anchors are plain arrays. */
  dispose(): void;
}

function checkImage(image: DetectImage, index: number): void {
  if (image instanceof tf.Tensor) {
    if (image.rank !== 3 || image.shape[2] !== 3) {
      throw new DetectInputError(
        `images[${index}]`,
        image.shape,
        'expected [height, width, 3] RGB',
      );
    }
    return;
  }
  const { data, width, height } = image;
  if (!(Number.isInteger(width) && Number.isInteger(height) && width > 0 && height > 0)) {
    throw new DetectInputError(
      `images[${index}]`,
      { width, height },
      'expected positive integer width and height',
    );
  }
  if (data.length !== width * height * 3) {
    throw new DetectInputError(
      `images[${index}].data`,
      data.length,
      `expected ${width}×${height}×3 = ${width * height * 3} bytes`,
    );
  }
}

const NO_BOXES = new Float32Array(0);
const NO_LABELS = new Int32Array(0);
const NO_DIFFICULT = new Uint8Array(0);

/**
 * The one resize (`SsdPreprocessing.resize`, 'bilinear-half-pixel'): an image
 * stretched to `[height, width]` of the model input, RGB 0–255 rounded to 8 bits.
 * Raw pixels go through `@ssd/augment`'s `ssdEvalTransform` — the very code that
 * resizes training's images — on the CPU; a tensor stays on its backend with
 * `tf.image.resizeBilinear(…, halfPixelCenters = true)`, clamped and rounded
 * (half to even, as a `Uint8ClampedArray` store): the same arithmetic, equal to
 * within one level of 255 (tested).
 * @returns `[height, width, 3]` float32, owned by the caller.
 */
export function resizeToInput(
  image: DetectImage,
  size: { height: number; width: number },
): tf.Tensor3D {
  checkImage(image, 0);
  if (image instanceof tf.Tensor) {
    return tf.tidy(() =>
      tf.round(
        tf.clipByValue(
          tf.image.resizeBilinear(
            tf.cast(image, 'float32'),
            [size.height, size.width],
            false,
            true,
          ),
          0,
          255,
        ),
      ),
    );
  }
  const resized = ssdEvalTransform({ size })({
    id: '',
    image: image.data,
    width: image.width,
    height: image.height,
    boxes: NO_BOXES,
    labels: NO_LABELS,
    difficult: NO_DIFFICULT,
  });
  return tf.tensor3d(Float32Array.from(resized.image), [size.height, size.width, 3], 'float32');
}

/**
 * A detector around a model already in memory (e.g. the one being trained).
 * Never switches the backend; never calls `dataSync`. Dispose does not free a
 * model it did not load.
 */
export function createDetector(model: tfl.LayersModel, options: DetectorOptions): SsdDetector {
  const anchors = generateAnchorsPacked(options.anchorConfig);
  const preprocessing = options.preprocessing ?? DEFAULT_PREPROCESSING;
  const inputShape = model.inputs[0]!.shape;
  const inputHeight = inputShape[1]!;
  const inputWidth = inputShape[2]!;
  const numAnchors = model.outputs[0]!.shape[1];
  if (numAnchors !== anchors.length / 4) {
    throw new DetectInputError(
      'anchorConfig',
      anchors.length / 4,
      `gives ${anchors.length / 4} anchors but the model predicts ${numAnchors}`,
    );
  }
  const detectBatch = async (
    images: readonly DetectImage[],
    detectOptions: DetectOptions = {},
  ): Promise<Detection[][]> => {
    if (images.length === 0) return [];
    const imageSizes = images.map((image) =>
      image instanceof tf.Tensor
        ? { width: image.shape[1]!, height: image.shape[0]! }
        : { width: image.width, height: image.height },
    );
    images.forEach(checkImage);
    const [locPred, logits] = tf.tidy(() => {
      const batch = tf.stack(
        images.map((image) => resizeToInput(image, { height: inputHeight, width: inputWidth })),
      ) as tf.Tensor4D; // [batch, inputHeight, inputWidth, 3]
      return model.predict(preprocess(batch, { meanRgb: preprocessing.meanRgb })) as tf.Tensor[];
    });
    try {
      return await postprocess({ locPred: locPred!, logits: logits! }, anchors, {
        ...detectOptions,
        imageSizes,
        ...(options.labels ? { labels: options.labels } : {}),
      });
    } finally {
      tf.dispose([locPred!, logits!]);
    }
  };
  return {
    model,
    anchorConfig: options.anchorConfig,
    labels: options.labels,
    preprocessing,
    detectBatch,
    detect: async (image, detectOptions) => (await detectBatch([image], detectOptions))[0]!,
    dispose: () => {
      if (options.ownsModel) model.dispose();
    },
  };
}

/** Options of `loadSsd`: what the saved metadata does not give, or overrides. */
export interface LoadSsdOptions {
  anchorConfig?: AnchorConfig;
  labels?: readonly string[];
}

/**
 * Loads a model saved by `@ssd/vgg-ssd`'s `saveSsdModel(model, destination, metadata)`
 * and wraps it in a detector (the coco-ssd style `load()`), on whatever backend is
 * current. The anchors and labels come from the saved metadata unless given, the
 * preprocessing from the metadata (files without it: `DEFAULT_PREPROCESSING`); the
 * metadata's `inputScale` is applied by the graph itself (checked against it).
 *
 * `source` is the URL of its `model.json` (fetched with tfjs' `tf.io.http`, as
 * `browserHTTPRequest`) or any tfjs `IOHandler` — e.g. `tf.io.fromMemory(...)` over
 * bytes fetched some other way, `tf.io.browserFiles([...])`. `@ssd/detect/node`'s
 * `loadSsd` also takes the model's directory on disk.
 */
export async function loadSsd(
  source: ModelLocation,
  options: LoadSsdOptions = {},
): Promise<SsdDetector> {
  return detectorFromLoaded(await loadSsdModel(source), source, options);
}

/** Wraps a model that `loadSsd` loaded (and so owns) in a detector; disposes it on failure. */
export function detectorFromLoaded(
  model: tfl.LayersModel,
  source: ModelLocation,
  options: LoadSsdOptions,
): SsdDetector {
  let metadata: ReturnType<typeof readSsdMetadata>;
  try {
    metadata = readSsdMetadata(model);
  } catch (error) {
    model.dispose();
    throw error;
  }
  const anchorConfig = options.anchorConfig ?? metadata?.anchorConfig;
  if (!anchorConfig) {
    model.dispose();
    throw new DetectInputError(
      'anchorConfig',
      typeof source === 'string' ? source : 'IOHandler',
      'the saved model has no SSD metadata; pass options.anchorConfig (anchorConfigForModel(model, preset))',
    );
  }
  const labels = options.labels ?? metadata?.labels;
  try {
    return createDetector(model, {
      anchorConfig,
      ...(labels ? { labels } : {}),
      ...(metadata?.preprocessing ? { preprocessing: metadata.preprocessing } : {}),
      ownsModel: true,
    });
  } catch (error) {
    model.dispose();
    throw error;
  }
}
