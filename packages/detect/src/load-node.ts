import { loadSsdModel } from '@ssd/vgg-ssd/node';
import type { ModelLocation } from '@ssd/vgg-ssd';
import { detectorFromLoaded, type LoadSsdOptions, type SsdDetector } from './load';

/**
 * The main entry's `loadSsd`, also taking the directory `saveSsdModel` wrote (or
 * the path of its `model.json`): `await loadSsd('runs/voc/model')`. The files are
 * checked against their manifest before anything is allocated.
 */
export async function loadSsd(
  source: ModelLocation,
  options: LoadSsdOptions = {},
): Promise<SsdDetector> {
  return detectorFromLoaded(await loadSsdModel(source), source, options);
}
