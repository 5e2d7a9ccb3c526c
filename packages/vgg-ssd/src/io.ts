import type * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { validateAnchorConfig, type AnchorConfig } from '@ssd/anchors';
import './layers'; // registers the custom layers before any load

/** A model or weights file that cannot be read as what it claims to be; names the file and the field. */
export class WeightsFileError extends Error {
  override readonly name = 'WeightsFileError';
  constructor(
    readonly file: string,
    readonly field: string,
    message: string,
  ) {
    super(`${file}: ${field}: ${message}`);
  }
}

/**
 * Where a model is saved to or loaded from: any tfjs `IOHandler` (e.g.
 * `tf.io.fromMemory(...)`, `tf.io.browserFiles([...])`), or a tfjs URL string —
 * `https://…/model.json` (`tf.io.http`), `indexeddb://name`, `localstorage://name`,
 * `downloads://name`. `@ssd/vgg-ssd/node` also takes a directory on disk.
 */
export type ModelLocation = string | tf.io.IOHandler;

/** The name of a location in errors. */
export function locationName(location: ModelLocation): string {
  return typeof location === 'string' ? location : 'IOHandler';
}

/** What `saveSsdModel` records beside the weights so a loader needs nothing else. */
export interface SsdMetadata {
  /** The anchors the heads predict for (`anchorConfigForModel(model, preset)`). */
  anchorConfig: AnchorConfig;
  /** Class names for labels 1..C−1 (background excluded), e.g. `VOC_CLASSES`. */
  labels?: readonly string[];
}

const METADATA_KEY = 'ssd';

/**
 * Saves `model` to `destination` (any tfjs `IOHandler` or URL string; see
 * {@link ModelLocation}). With `metadata`, the anchor configuration and class
 * names go into `model.json`'s `userDefinedMetadata.ssd`, where `readSsdMetadata`
 * (and `@ssd/detect`'s `loadSsd`) find them. Runs anywhere tfjs runs; for an
 * atomic save to a directory use `saveSsdModel` from `@ssd/vgg-ssd/node`.
 */
export async function saveSsdModel(
  model: tfl.LayersModel,
  destination: ModelLocation,
  metadata?: SsdMetadata,
): Promise<tf.io.SaveResult> {
  return saveSsdModelAs(model, destination, metadata, locationName(destination));
}

/** `saveSsdModel` with the name errors give the destination (the Node entry passes the directory). */
export async function saveSsdModelAs(
  model: tfl.LayersModel,
  destination: ModelLocation,
  metadata: SsdMetadata | undefined,
  name: string,
): Promise<tf.io.SaveResult> {
  if (metadata) {
    const numClasses = model.outputs[1]?.shape[2];
    if (metadata.labels && numClasses != null && metadata.labels.length !== numClasses - 1) {
      throw new WeightsFileError(
        name,
        'metadata.labels',
        `expected ${numClasses - 1} names (classes 1..${numClasses - 1}), got ${metadata.labels.length}`,
      );
    }
    const previous = (model.getUserDefinedMetadata() ?? {}) as Record<string, unknown>;
    model.setUserDefinedMetadata({
      ...previous,
      [METADATA_KEY]: JSON.parse(JSON.stringify(metadata)) as object,
    });
  }
  return model.save(destination);
}

/** The `SsdMetadata` saved with a model, or `undefined` when it has none. */
export function readSsdMetadata(model: tfl.LayersModel): SsdMetadata | undefined {
  const all = model.getUserDefinedMetadata() as Record<string, unknown> | undefined;
  const ssd = all?.[METADATA_KEY] as SsdMetadata | undefined;
  if (ssd === undefined) return undefined;
  validateAnchorConfig(ssd.anchorConfig);
  return ssd;
}

/**
 * Loads a model saved by `saveSsdModel` (or any layers model) with
 * `tf.loadLayersModel` from an `IOHandler` or a tfjs URL (`https://…/model.json`
 * is fetched with `tf.io.http`); the custom SSD layers are registered by this
 * package. For a directory on disk use `loadSsdModel` from `@ssd/vgg-ssd/node`.
 */
export async function loadSsdModel(source: ModelLocation): Promise<tfl.LayersModel> {
  return tfl.loadLayersModel(source);
}
