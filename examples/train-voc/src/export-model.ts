import * as path from 'node:path';
import type { SsdMetadata } from '@ssd/vgg-ssd';
import { saveSsdModel } from '@ssd/vgg-ssd/node';
import type { RunConfig } from './config';
import type { Network } from './network';

/** Where `train` puts the model in a run folder. */
export function modelDir(out: string): string {
  return path.join(out, 'model');
}

/**
 * What a detector needs beside the weights: the anchors, the class names, the
 * input size, the input scale inside the graph and the preprocessing (the
 * default: VGG16's mean, the one bilinear resize).
 */
export function runMetadata(
  net: Pick<Network, 'anchors'>,
  config: Pick<RunConfig, 'inputSize' | 'inputScale'>,
  classes: readonly string[],
): SsdMetadata {
  return {
    anchorConfig: net.anchors,
    labels: classes,
    inputSize: config.inputSize,
    inputScale: config.inputScale,
  };
}

/**
 * Writes the network as `<out>/model/` with `@ssd/vgg-ssd`'s `saveSsdModel`
 * (`model.json` with the metadata, one weights file; atomic), which `@ssd/detect`'s
 * `loadSsd` loads. Returns the folder.
 */
export async function exportModel(
  net: Pick<Network, 'model' | 'anchors'>,
  config: Pick<RunConfig, 'inputSize' | 'inputScale'>,
  classes: readonly string[],
  out: string,
): Promise<string> {
  const dir = modelDir(out);
  await saveSsdModel(net.model, dir, runMetadata(net, config, classes));
  return dir;
}
