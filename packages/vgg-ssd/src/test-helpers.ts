/** Fixtures shared by this package's tests (not exported from the package). */
import { SSD300_VOC } from '@ssd/anchors';
import * as tf from '@tensorflow/tfjs-core';
import type * as tfl from '@tensorflow/tfjs-layers';
import { saveSsdModel } from './io';
import type { SsdMetadata } from './metadata';
import { createSsdVgg16, type SsdVgg16Options } from './model';

/**
 * A narrow SSD300 that builds and runs fast: 3 classes (K = 2 and background),
 * 64 px input, width 1/16; `options` override any of these.
 */
export function narrowSsd(
  options: Partial<SsdVgg16Options> = {},
): ReturnType<typeof createSsdVgg16> {
  return createSsdVgg16({
    numClasses: 3,
    preset: SSD300_VOC,
    inputSize: 64,
    widthMultiplier: 1 / 16,
    ...options,
  });
}

/** What `saveSsdModel` writes for `model`, kept in memory (`tf.io.fromMemory` loads it back). */
export async function saveToMemory(
  model: tfl.LayersModel,
  metadata?: SsdMetadata,
): Promise<tf.io.ModelArtifacts> {
  let saved: tf.io.ModelArtifacts | undefined;
  await saveSsdModel(
    model,
    tf.io.withSaveHandler(async (artifacts) => {
      saved = artifacts;
      return { modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: 'JSON' } };
    }),
    metadata,
  );
  return saved!;
}
