import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { WeightsFileError } from './errors';
import { describeNonFinite, firstNonFinite } from './finite';
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

/** The `IOHandler` tfjs would load `source` with: a URL through its routers, else `tf.io.http`. */
export function loadHandlerFor(source: ModelLocation): tf.io.IOHandler {
  return typeof source === 'string'
    ? (tf.io.getLoadHandlers(source)[0] ?? tf.io.http(source))
    : source;
}

/**
 * Loads a model saved by `saveSsdModel` (or any layers model) from an `IOHandler`
 * or a tfjs URL (`https://…/model.json` is fetched with `tf.io.http`); the custom
 * SSD layers are registered by this package. Before any weight is set, every
 * weight of the manifest is checked against the model's variable of that name
 * (present, same shape) and for NaN/±Infinity: a mismatch or a non-finite value
 * is a `WeightsFileError` naming the weight. For a directory on disk use
 * `loadSsdModel` from `@ssd/vgg-ssd/node`.
 */
export async function loadSsdModel(source: ModelLocation): Promise<tfl.LayersModel> {
  return loadSsdModelAs(loadHandlerFor(source), locationName(source));
}

/** `loadSsdModel` with the name errors give the source (the Node entry passes the directory). */
export async function loadSsdModelAs(
  handler: tf.io.IOHandler,
  name: string,
): Promise<tfl.LayersModel> {
  if (handler.load == null) {
    throw new WeightsFileError(name, 'IOHandler', 'the handler cannot load (no load method)');
  }
  const artifacts = await handler.load();
  const { weightData, weightSpecs, ...topology } = artifacts;
  const fromTopology = tf.io.fromMemory(topology);
  if (weightData == null && weightSpecs == null) return tfl.loadLayersModel(fromTopology);
  if (weightData == null || weightSpecs == null) {
    throw new WeightsFileError(
      name,
      'weightsManifest',
      'weights without a manifest, or a manifest without weights',
    );
  }
  const named = await decodeChecked(weightData, weightSpecs, name);
  try {
    // Built without weights (strict: false), so that the manifest is checked against the
    // model's variables here, by name, rather than by tfjs' bare `Shape mismatch`.
    const model = await tfl.loadLayersModel(fromTopology, { strict: false });
    try {
      const modelSpecs = weightSpecs.filter((spec) => spec.group !== 'optimizer');
      checkManifestAgainstModel(model, modelSpecs, name);
      model.loadWeights(Object.fromEntries(modelSpecs.map((s) => [s.name, named[s.name]!])), true);
      const optimizerWeights = weightSpecs
        .filter((spec) => spec.group === 'optimizer')
        .map((spec) => ({ name: spec.name, tensor: named[spec.name]! }));
      if (model.optimizer != null && optimizerWeights.length > 0) {
        await model.optimizer.setWeights(optimizerWeights);
      }
      return model;
    } catch (error) {
      model.dispose();
      throw error;
    }
  } finally {
    tf.dispose(Object.values(named));
  }
}

/** The manifest's weights as tensors, each float one checked for NaN/±Infinity. */
async function decodeChecked(
  weightData: tf.io.WeightData,
  specs: readonly tf.io.WeightsManifestEntry[],
  name: string,
): Promise<tf.NamedTensorMap> {
  let named: tf.NamedTensorMap;
  try {
    named = tf.io.decodeWeights(weightData, specs as tf.io.WeightsManifestEntry[]);
  } catch (error) {
    throw new WeightsFileError(
      name,
      'weightData',
      `does not match the manifest (${(error as Error).message})`,
    );
  }
  try {
    for (const spec of specs) {
      const tensor = named[spec.name];
      if (tensor === undefined || tensor.dtype !== 'float32') continue;
      const values = (await tensor.data()) as Float32Array;
      const bad = firstNonFinite(values);
      if (bad >= 0) {
        throw new WeightsFileError(name, `weight ${spec.name}`, describeNonFinite(values, bad));
      }
    }
  } catch (error) {
    tf.dispose(Object.values(named));
    throw error;
  }
  return named;
}

/**
 * Every model-group weight of the manifest names a variable of `model` (tfjs'
 * rule: its full name, or without the inner cell scope) of the same shape, and
 * every variable is named once.
 */
function checkManifestAgainstModel(
  model: tfl.LayersModel,
  specs: readonly tf.io.WeightsManifestEntry[],
  name: string,
): void {
  const unset = new Map(model.weights.map((w) => [w.originalName, w.shape]));
  for (const spec of specs) {
    const scopeless = [...spec.name.split('/').slice(0, -2), spec.name.split('/').pop()].join('/');
    const key = unset.has(spec.name) ? spec.name : scopeless;
    const expected = unset.get(key);
    const field = `weightsManifest weight ${spec.name}`;
    if (expected === undefined) {
      throw new WeightsFileError(
        name,
        field,
        'the model has no variable of that name (or it is named twice)',
      );
    }
    if (expected.length !== spec.shape.length || expected.some((d, i) => d !== spec.shape[i])) {
      throw new WeightsFileError(
        name,
        `${field}.shape`,
        `the model's variable is [${expected.join(', ')}], the manifest gives [${spec.shape.join(', ')}]`,
      );
    }
    unset.delete(key);
  }
  if (unset.size > 0) {
    const missing = [...unset.keys()];
    throw new WeightsFileError(
      name,
      'weightsManifest',
      `${missing.length} of the model's ${model.weights.length} weights are missing: ${missing.slice(0, 5).join(', ')}${missing.length > 5 ? ', …' : ''}`,
    );
  }
}
