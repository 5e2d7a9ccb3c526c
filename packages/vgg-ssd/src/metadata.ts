import type * as tfl from '@tensorflow/tfjs-layers';
import { validateAnchorConfig, type AnchorConfig } from '@ssd/anchors';
import { WeightsFileError } from './errors';
import { PREPROCESS_MEAN_RGB } from './preprocess';

/**
 * How an image becomes the network's input, outside the graph. The one resize of
 * this project: bilinear with half-pixel centres and clamped edges (torchvision's
 * `interpolate(…, mode='bilinear', align_corners=False)`, `tf.image.resizeBilinear(…,
 * halfPixelCenters=true)`), stretched to the square input, rounded to 8 bits as
 * training's images are (`@ssd/augment`'s `ssdEvalTransform`); then `meanRgb` is
 * subtracted per channel from the 0–255 RGB values (`preprocess`).
 */
export interface SsdPreprocessing {
  readonly resize: 'bilinear-half-pixel';
  /** Subtracted from RGB 0–255 after the resize; `PREPROCESS_MEAN_RGB` for VGG16. */
  readonly meanRgb: readonly [number, number, number];
}

/** What `saveSsdModel` records beside the weights so a loader needs nothing else. */
export interface SsdMetadata {
  /** The anchors the heads predict for (`anchorConfigForModel(model, preset)`). */
  anchorConfig: AnchorConfig;
  /** Class names for labels 1..C−1 (background excluded), e.g. `VOC_CLASSES`. */
  labels?: readonly string[];
  /** Side of the square input in pixels (the model's input shape). Files before 0.2: absent. */
  inputSize?: number;
  /** The input transform outside the graph. Files before 0.2: absent (the default). */
  preprocessing?: SsdPreprocessing;
  /**
   * The constant the preprocessed input is multiplied by INSIDE the graph
   * (`createSsdVgg16`'s `inputScale`, the `input_scale` layer; 1 = no layer).
   * Recorded for readers that do not run the tfjs graph; a detector applies nothing
   * for it. Files before 0.2: absent.
   */
  inputScale?: number;
}

/** The preprocessing every model of this package expects unless its metadata says otherwise. */
export const DEFAULT_PREPROCESSING: SsdPreprocessing = Object.freeze({
  resize: 'bilinear-half-pixel',
  meanRgb: PREPROCESS_MEAN_RGB,
});

/** `userDefinedMetadata` key of the SSD metadata in `model.json`. */
export const SSD_METADATA_KEY = 'ssd';

/** The `inputScale` the graph applies: the `input_scale` layer's, or 1 without one. */
export function modelInputScale(model: tfl.LayersModel): number {
  const layer = model.layers.find((l) => l.name === 'input_scale');
  if (layer === undefined) return 1;
  return Number((layer.getConfig() as { scale?: unknown }).scale);
}

function modelInputSize(model: tfl.LayersModel): { height: number; width: number } {
  const shape = model.inputs[0]?.shape ?? [];
  return { height: shape[1] ?? NaN, width: shape[2] ?? NaN };
}

/**
 * Checks `metadata` against itself and against `model`; throws `WeightsFileError`
 * naming `source` and the field (`metadata.labels`, `metadata.inputScale`, …).
 */
export function validateSsdMetadata(
  metadata: SsdMetadata,
  model: tfl.LayersModel,
  source: string,
): void {
  const fail = (field: string, message: string): never => {
    throw new WeightsFileError(source, `metadata.${field}`, message);
  };
  if (metadata === null || typeof metadata !== 'object') fail('', 'expected an object');
  try {
    validateAnchorConfig(metadata.anchorConfig);
  } catch (error) {
    fail('anchorConfig', (error as Error).message);
  }
  const { labels, inputSize, preprocessing, inputScale } = metadata;
  if (labels !== undefined) {
    if (!Array.isArray(labels) || !labels.every((l) => typeof l === 'string')) {
      fail('labels', `expected an array of class names, got ${JSON.stringify(labels)}`);
    }
    const numClasses = model.outputs[1]?.shape[2];
    if (numClasses != null && labels.length !== numClasses - 1) {
      fail(
        'labels',
        `expected ${numClasses - 1} names (classes 1..${numClasses - 1}), got ${labels.length}`,
      );
    }
  }
  if (inputSize !== undefined) {
    const size = modelInputSize(model);
    if (!(Number.isInteger(inputSize) && inputSize > 0)) {
      fail('inputSize', `expected a positive integer, got ${JSON.stringify(inputSize)}`);
    }
    if (size.height !== inputSize || size.width !== inputSize) {
      fail('inputSize', `${inputSize} but the model's input is ${size.height}×${size.width}`);
    }
  }
  if (preprocessing !== undefined) {
    if (preprocessing === null || preprocessing.resize !== 'bilinear-half-pixel') {
      fail(
        'preprocessing.resize',
        `expected 'bilinear-half-pixel', got ${JSON.stringify(preprocessing?.resize)}`,
      );
    }
    const mean = preprocessing.meanRgb;
    if (!Array.isArray(mean) || mean.length !== 3 || !mean.every((m) => Number.isFinite(m))) {
      fail('preprocessing.meanRgb', `expected 3 finite numbers, got ${JSON.stringify(mean)}`);
    }
  }
  if (inputScale !== undefined) {
    if (!(typeof inputScale === 'number' && Number.isFinite(inputScale) && inputScale > 0)) {
      fail('inputScale', `expected a positive number, got ${JSON.stringify(inputScale)}`);
    }
    const graph = modelInputScale(model);
    if (Math.abs(graph - inputScale) > 1e-6 * graph) {
      fail('inputScale', `${inputScale} but the graph's input_scale is ${graph}`);
    }
  }
}

/**
 * Validates `metadata` against `model`, completes what the model itself tells
 * (`inputSize`, `inputScale`, `preprocessing` = `DEFAULT_PREPROCESSING`) and puts
 * a copy into `model`'s `userDefinedMetadata.ssd`, where `model.save(…)` writes it
 * into `model.json` and `readSsdMetadata` finds it.
 */
export function setSsdMetadata(
  model: tfl.LayersModel,
  metadata: SsdMetadata,
  source: string,
): SsdMetadata {
  const size = modelInputSize(model);
  const complete: SsdMetadata = {
    ...metadata,
    ...(metadata.inputSize === undefined && size.height === size.width
      ? { inputSize: size.height }
      : {}),
    preprocessing: metadata.preprocessing ?? DEFAULT_PREPROCESSING,
    inputScale: metadata.inputScale ?? modelInputScale(model),
  };
  validateSsdMetadata(complete, model, source);
  const previous = (model.getUserDefinedMetadata() ?? {}) as Record<string, unknown>;
  const copy = JSON.parse(JSON.stringify(complete)) as SsdMetadata;
  model.setUserDefinedMetadata({ ...previous, [SSD_METADATA_KEY]: copy });
  return copy;
}

/**
 * The `SsdMetadata` saved with a model, or `undefined` when it has none; every
 * field present is validated against the model (`WeightsFileError` naming
 * `source`, default `model.json`, and the field).
 */
export function readSsdMetadata(
  model: tfl.LayersModel,
  source = 'model.json',
): SsdMetadata | undefined {
  const all = model.getUserDefinedMetadata() as Record<string, unknown> | undefined;
  const ssd = all?.[SSD_METADATA_KEY] as SsdMetadata | undefined;
  if (ssd === undefined) return undefined;
  validateSsdMetadata(ssd, model, source);
  return ssd;
}
