import type * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { WeightsFileError } from './errors';
import { readSsdMetadata, setSsdMetadata, type SsdMetadata } from './metadata';
import './layers'; // registers the custom layers before any load

export { WeightsFileError };

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

export { readSsdMetadata };
export type { SsdMetadata };

/**
 * Saves `model` to `destination` (any tfjs `IOHandler` or URL string; see
 * {@link ModelLocation}). With `metadata` (validated and completed from the model
 * by `setSsdMetadata`: input size, input scale, preprocessing), it goes into
 * `model.json`'s `userDefinedMetadata.ssd`, where `readSsdMetadata` (and
 * `@ssd/detect`'s `loadSsd`) find it. Runs anywhere tfjs runs; for an atomic save
 * to a directory use `saveSsdModel` from `@ssd/vgg-ssd/node`.
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
  if (metadata) setSsdMetadata(model, metadata, name);
  return model.save(destination);
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
