import * as tf from '@tensorflow/tfjs-core';
import type * as tfl from '@tensorflow/tfjs-layers';
import { generateAnchorsPacked, type AnchorConfig } from '@ssd/anchors';
import { loadSsdModel, preprocess, readSsdMetadata, type ModelLocation } from '@ssd/vgg-ssd';
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

export interface SsdDetector {
  readonly model: tfl.LayersModel;
  readonly anchorConfig: AnchorConfig;
  readonly labels: readonly string[] | undefined;
  /** Detections of one image (RGB, 0–255, any size), best first, in its pixels. */
  detect(image: DetectImage, options?: DetectOptions): Promise<Detection[]>;
  /** Detections of several images, run as one batch. */
  detectBatch(images: readonly DetectImage[], options?: DetectOptions): Promise<Detection[][]>;
  /** Frees the model when the detector loaded it; the anchors are plain arrays. */
  dispose(): void;
}

function toTensor(image: DetectImage, index: number): tf.Tensor3D {
  if (image instanceof tf.Tensor) {
    if (image.rank !== 3 || image.shape[2] !== 3) {
      throw new DetectInputError(
        `images[${index}]`,
        image.shape,
        'expected [height, width, 3] RGB',
      );
    }
    return image;
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
  return tf.tensor3d(data, [height, width, 3], 'int32');
}

/**
 * A detector around a model already in memory (e.g. the one being trained).
 * Never switches the backend; never calls `dataSync`. Dispose does not free a
 * model it did not load.
 */
export function createDetector(
  model: tfl.LayersModel,
  options: { anchorConfig: AnchorConfig; labels?: readonly string[]; ownsModel?: boolean },
): SsdDetector {
  const anchors = generateAnchorsPacked(options.anchorConfig);
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
    const [locPred, logits] = tf.tidy(() => {
      const batch = tf.stack(
        images.map((image, i) =>
          // torchvision resizes with bilinear, align_corners=False (half-pixel centres).
          tf.image.resizeBilinear(
            tf.cast(toTensor(image, i), 'float32'),
            [inputHeight, inputWidth],
            false,
            true,
          ),
        ),
      ) as tf.Tensor4D;
      return model.predict(preprocess(batch)) as tf.Tensor[];
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
 * current. The anchors and labels come from the saved metadata unless given.
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
  const metadata = readSsdMetadata(model);
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
    return createDetector(model, { anchorConfig, ...(labels ? { labels } : {}), ownsModel: true });
  } catch (error) {
    model.dispose();
    throw error;
  }
}
