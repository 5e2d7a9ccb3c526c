import type * as tf from '@tensorflow/tfjs-core';
import type * as tfl from '@tensorflow/tfjs-layers';
import * as path from 'node:path';
import { fileSystemHandler } from './fs-handler';
import {
  loadHandlerFor,
  loadSsdModelAs,
  locationName,
  saveSsdModelAs,
  type ModelLocation,
  type SsdMetadata,
} from './io';
import { importKerasVgg16Weights, loadKerasVgg16Weights as loadKerasFrom } from './weights';

const URL_SCHEME = /^[a-z][a-z0-9+.-]*:\/\//i;

/**
 * A directory on disk (or the path of its `model.json`) becomes `fileSystemHandler`;
 * URLs (`https://…`, `indexeddb://…`) and `IOHandler`s pass through to tfjs.
 */
export function resolveLocation(location: ModelLocation): ModelLocation {
  if (typeof location !== 'string' || URL_SCHEME.test(location)) return location;
  const dir = path.basename(location) === 'model.json' ? path.dirname(location) : location;
  return fileSystemHandler(dir);
}

/**
 * Saves `model` to a directory (atomic; see `fileSystemHandler`) or any other
 * {@link ModelLocation}, with the `SsdMetadata` that `loadSsdModel` and
 * `@ssd/detect`'s `loadSsd` read back.
 */
export async function saveSsdModel(
  model: tfl.LayersModel,
  destination: ModelLocation,
  metadata?: SsdMetadata,
): Promise<tf.io.SaveResult> {
  return saveSsdModelAs(model, resolveLocation(destination), metadata, locationName(destination));
}

/**
 * Loads a model saved by `saveSsdModel` from its directory (or the path of its
 * `model.json`), validating the manifest against the files before allocating;
 * URLs and `IOHandler`s load as in the main entry; either way each weight is
 * checked against the model and for NaN/±Infinity before it is set.
 */
export async function loadSsdModel(source: ModelLocation): Promise<tfl.LayersModel> {
  return loadSsdModelAs(loadHandlerFor(resolveLocation(source)), locationName(source));
}

/**
 * The main entry's `loadKerasVgg16Weights`, also taking the directory
 * `tensorflowjs_converter --input_format keras` wrote.
 */
export async function loadKerasVgg16Weights(
  model: tfl.LayersModel,
  source: ModelLocation,
): Promise<string[]> {
  const resolved = resolveLocation(source);
  return typeof resolved === 'string'
    ? loadKerasFrom(model, resolved)
    : importKerasVgg16Weights(model, resolved, locationName(source));
}
