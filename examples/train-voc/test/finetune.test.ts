/**
 * Fine-tuning from a pretrained detector (`--weights`): a torchvision-format
 * `ssd300_vgg16` state_dict (PyTorch names, OIHW kernels) of a detector trained
 * for another class count, written as `.safetensors` at the tiny settings
 * (width 1/16, 96 px: the importer maps by name and takes the model's shapes),
 * then a short `train` run from it.
 */
import * as tf from '@tensorflow/tfjs-core';
import type * as tfl from '@tensorflow/tfjs-layers';
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { resolveTrainConfig } from '../src/config';
import { SHAPES_CLASSES } from '@ssd/make-shapes-voc';
import { UsageError, parseCommandLine } from '../src/flags';
import { buildNetwork, loadDetectorWeights } from '../src/network';
import { runTrain } from '../src/train-command';
import { makeTinyShapes, tinyTrainArgs } from './tiny-run';

let dir: string;

/** Our layer → torchvision `ssd300_vgg16` state_dict prefix, as torchvision names them. */
const TORCHVISION_NAMES: readonly [string, string][] = [
  ['block1_conv1', 'backbone.features.0'],
  ['block1_conv2', 'backbone.features.2'],
  ['block2_conv1', 'backbone.features.5'],
  ['block2_conv2', 'backbone.features.7'],
  ['block3_conv1', 'backbone.features.10'],
  ['block3_conv2', 'backbone.features.12'],
  ['block3_conv3', 'backbone.features.14'],
  ['block4_conv1', 'backbone.features.17'],
  ['block4_conv2', 'backbone.features.19'],
  ['block4_conv3', 'backbone.features.21'],
  ['block5_conv1', 'backbone.extra.0.1'],
  ['block5_conv2', 'backbone.extra.0.3'],
  ['block5_conv3', 'backbone.extra.0.5'],
  ['fc6', 'backbone.extra.0.7.1'],
  ['fc7', 'backbone.extra.0.7.3'],
  ['conv8_1', 'backbone.extra.1.0'],
  ['conv8_2', 'backbone.extra.1.2'],
  ['conv9_1', 'backbone.extra.2.0'],
  ['conv9_2', 'backbone.extra.2.2'],
  ['conv10_1', 'backbone.extra.3.0'],
  ['conv10_2', 'backbone.extra.3.2'],
  ['conv11_1', 'backbone.extra.4.0'],
  ['conv11_2', 'backbone.extra.4.2'],
  ...[0, 1, 2, 3, 4, 5].flatMap((k): [string, string][] => [
    [`loc_${k}`, `head.regression_head.module_list.${k}`],
    [`conf_${k}`, `head.classification_head.module_list.${k}`],
  ]),
];

/** `model`'s weights as torchvision's state_dict in a safetensors file (F32, little-endian). */
async function writeTorchvisionFile(model: tfl.LayersModel, file: string): Promise<void> {
  const tensors: [string, tf.Tensor][] = [];
  for (const [layer, prefix] of TORCHVISION_NAMES) {
    const [kernel, bias] = model.getLayer(layer).getWeights();
    tensors.push([`${prefix}.weight`, tf.transpose(kernel!, [3, 2, 0, 1])]); // HWIO → OIHW
    tensors.push([`${prefix}.bias`, tf.clone(bias!)]);
  }
  tensors.push([
    'backbone.scale_weight',
    tf.clone(model.getLayer('conv4_3_norm').getWeights()[0]!),
  ]);
  const header: Record<string, unknown> = { __metadata__: { format: 'pt' } };
  const chunks: Uint8Array[] = [];
  let offset = 0;
  for (const [name, t] of tensors) {
    const bytes = new Uint8Array((t.dataSync() as Float32Array).slice().buffer);
    header[name] = { dtype: 'F32', shape: t.shape, data_offsets: [offset, offset + bytes.length] };
    chunks.push(bytes);
    offset += bytes.length;
  }
  tf.dispose(tensors.map(([, t]) => t));
  const json = Buffer.from(JSON.stringify(header));
  const length = Buffer.alloc(8);
  length.writeBigUInt64LE(BigInt(json.length));
  await fs.writeFile(file, Buffer.concat([length, json, ...chunks]));
}

const kernelOf = (model: tfl.LayersModel, layer: string) =>
  Array.from(model.getLayer(layer).getWeights()[0]!.dataSync());

/** The app's network at the tiny settings, for `numClasses` (K+1). */
const tinyNetwork = (numClasses: number, seed: number) =>
  buildNetwork({
    preset: 'shapes',
    numClasses,
    inputSize: 96,
    widthMultiplier: 0.0625,
    inputScale: 1 / 58,
    normalization: 'none',
    seed,
    heInit: false,
  });

beforeAll(async () => {
  tf.env().set('IS_TEST', false); // as e2e.test.ts: the app trains on wasm
  dir = await makeTinyShapes('train-voc-finetune-', { count: 16, seed: 5 });
});

afterAll(async () => {
  await fs.rm(dir, { recursive: true, force: true });
});

describe('train --weights', () => {
  const fileClasses = SHAPES_CLASSES.length + 4;
  const runClasses = SHAPES_CLASSES.length + 1;

  it('fine-tunes from a torchvision-format detector with another class count', async () => {
    const pretrained = tinyNetwork(fileClasses, 11);
    const file = path.join(dir, 'pretrained.safetensors');
    await writeTorchvisionFile(pretrained.model, file);

    // What --weights loads: backbone, extras and box heads equal the file's;
    // the class heads keep this network's own initialisation, for its class count.
    const net = tinyNetwork(runClasses, 1);
    const heads = kernelOf(net.model, 'conf_0');
    const transfer = await loadDetectorWeights(net, file);
    expect(transfer.classHeads).toEqual({ from: fileClasses, to: runClasses });
    for (const layer of ['block1_conv1', 'block4_conv3', 'fc7', 'conv11_2', 'loc_0', 'loc_5']) {
      expect(kernelOf(net.model, layer)).toEqual(kernelOf(pretrained.model, layer));
    }
    expect(kernelOf(net.model, 'conv4_3_norm')).toEqual(kernelOf(pretrained.model, 'conv4_3_norm'));
    expect(kernelOf(net.model, 'conf_0')).toEqual(heads);
    const anchors = (net.model.getLayer('loc_0').getWeights()[0]!.shape[3] ?? 0) / 4;
    expect(net.model.getLayer('conf_0').getWeights()[0]!.shape[3]).toBe(anchors * runClasses);
    pretrained.dispose();
    net.dispose();

    // The run itself, saying what it did on its log.
    const out = path.join(dir, 'run');
    const args = tinyTrainArgs(dir, out, {
      weights: file,
      iterations: '2',
      'batch-size': '4',
      'eval-every': '2',
      draw: '0',
    });
    const config = resolveTrainConfig(parseCommandLine(args).flags);
    const logs: string[] = [];
    const trained = await runTrain(config, {}, { log: (m) => logs.push(m), evalLimit: 4 });
    expect(trained.iteration).toBe(2);
    expect(logs).toContain(
      `Weights: 30 layers from ${file} (class heads re-initialised: ${fileClasses} → ${runClasses} classes)`,
    );
    expect(logs.some((m) => m.includes('LSUV'))).toBe(false);

    // The run's saved model/ is itself a --weights source (class heads again re-initialised).
    const next = tinyNetwork(fileClasses, 2);
    const again = await loadDetectorWeights(next, path.join(out, 'model'));
    expect(again.classHeads).toEqual({ from: runClasses, to: fileClasses });
    expect(again.skipped).toHaveLength(6);
    next.dispose();
  }, 120_000);

  it('refuses --weights together with --backbone-weights', () => {
    const args = tinyTrainArgs(dir, path.join(dir, 'both'), {
      weights: 'a.safetensors',
      'backbone-weights': 'b.safetensors',
    });
    expect(() => resolveTrainConfig(parseCommandLine(args).flags)).toThrow(UsageError);
  });
});
