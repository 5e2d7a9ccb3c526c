import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { afterAll, describe, expect, it } from 'vitest';
import { expectArrayClose } from '@ssd/testing';
import { SSD300_VOC, SSD512_VOC } from '@ssd/anchors';
import {
  WeightImportError,
  copyDetectorWeights,
  copyDetectorWeightsAsync,
  loadTorchvisionDetector,
  loadTorchvisionWeights,
  parseSafetensors,
  type SafetensorsEntry,
} from './index';
import { fileSystemHandler, loadKerasVgg16Weights, readSafetensorsFile } from './node';
import { narrowSsd } from './test-helpers';

const root = mkdtempSync(join(tmpdir(), 'vgg-ssd-weights-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

/** A safetensors file per the format: u64 LE header length, JSON header, data. */
function safetensors(
  tensors: { name: string; dtype: string; shape: number[]; bytes: Uint8Array }[],
  patch: (header: Record<string, unknown>) => void = () => {},
): Uint8Array {
  const header: Record<string, unknown> = { __metadata__: { format: 'pt' } };
  let offset = 0;
  for (const t of tensors) {
    header[t.name] = {
      dtype: t.dtype,
      shape: t.shape,
      data_offsets: [offset, offset + t.bytes.length],
    };
    offset += t.bytes.length;
  }
  patch(header);
  const json = new TextEncoder().encode(JSON.stringify(header));
  const out = new Uint8Array(8 + json.length + offset);
  new DataView(out.buffer).setBigUint64(0, BigInt(json.length), true);
  out.set(json, 8);
  let o = 8 + json.length;
  for (const t of tensors) {
    out.set(t.bytes, o);
    o += t.bytes.length;
  }
  return out;
}

const f32bytes = (values: number[]) => new Uint8Array(Float32Array.from(values).buffer);

describe('parseSafetensors', () => {
  it('reads F32, F16 and BF16 tensors', () => {
    const f16 = new Uint8Array(new Uint16Array([0x3c00, 0xc000, 0x3555]).buffer); // 1, −2, ≈1/3
    const bf16 = new Uint8Array(new Uint16Array([0x3f80, 0x4049]).buffer); // 1, 3.140625
    const parsed = parseSafetensors(
      safetensors([
        { name: 'a', dtype: 'F32', shape: [2, 2], bytes: f32bytes([1, 2, 3, 4]) },
        { name: 'b', dtype: 'F16', shape: [3], bytes: f16 },
        { name: 'c', dtype: 'BF16', shape: [2], bytes: bf16 },
      ]),
    );
    expect([...parsed.keys()]).toEqual(['a', 'b', 'c']);
    expect(parsed.get('a')!.shape).toEqual([2, 2]);
    expect(Array.from(parsed.get('a')!.values())).toEqual([1, 2, 3, 4]);
    expectArrayClose(parsed.get('b')!.values(), [1, -2, 0.33325195], { atol: 1e-6 });
    expect(Array.from(parsed.get('c')!.values())).toEqual([1, 3.140625]);
  });

  const valid = () => [
    { name: 'w', dtype: 'F32', shape: [2, 3], bytes: f32bytes([1, 2, 3, 4, 5, 6]) },
  ];

  it('a truncated file names the tensor', () => {
    const bytes = safetensors(valid());
    expect(() =>
      parseSafetensors(bytes.subarray(0, bytes.length - 4), { source: 'm.safetensors' }),
    ).toThrow(/^m\.safetensors: w: data_offsets \[0,24\] outside the 20 data bytes/);
    expect(() => parseSafetensors(bytes.subarray(0, 20))).toThrow('runs past the end');
    expect(() => parseSafetensors(bytes.subarray(0, 5))).toThrow('too short for a header');
  });

  it('an oversized header is refused before anything is read', () => {
    const bytes = safetensors(valid());
    new DataView(bytes.buffer).setBigUint64(0, 2n ** 50n, true);
    expect(() => parseSafetensors(bytes)).toThrow(
      /header of 1125899906842624 bytes exceeds the limit/,
    );
  });

  it('a wrong dtype or a shape that does not match the bytes', () => {
    expect(() =>
      parseSafetensors(safetensors(valid(), (h) => ((h.w as { dtype: string }).dtype = 'F8'))),
    ).toThrow('w: unknown dtype "F8"');
    expect(() =>
      parseSafetensors(safetensors(valid(), (h) => ((h.w as { shape: number[] }).shape = [3, 3]))),
    ).toThrow('w: F32 [3,3] needs 36 bytes, data_offsets give 24');
    const ints = parseSafetensors(
      safetensors([{ name: 'n', dtype: 'I64', shape: [1], bytes: new Uint8Array(8) }]),
    );
    expect(() => ints.get('n')!.values()).toThrow('n: dtype I64 is not a floating-point weight');
  });

  it('overlapping tensors and invalid JSON', () => {
    const two = [...valid(), { name: 'v', dtype: 'F32', shape: [1], bytes: f32bytes([7]) }];
    expect(() =>
      parseSafetensors(
        safetensors(two, (h) => ((h.v as { data_offsets: number[] }).data_offsets = [20, 24])),
      ),
    ).toThrow('v: overlaps w');
    const broken = safetensors(valid());
    broken[8] = 0x7b + 1;
    expect(() => parseSafetensors(broken)).toThrow('header: not valid JSON');
  });

  it('reads a file from disk', async () => {
    const file = join(root, 'w.safetensors');
    writeFileSync(file, safetensors(valid()));
    expect((await readSafetensorsFile(file)).get('w')!.shape).toEqual([2, 3]);
    await expect(readSafetensorsFile(join(root, 'none.safetensors'))).rejects.toThrow('not found');
  });
});

const tiny = (preset = SSD300_VOC, seed = 1) =>
  narrowSsd({ preset, inputSize: preset.imageSize, seed });

/** torchvision `vgg16().features` tensors (PyTorch layout) from a model's own VGG weights. */
function torchFeaturesOf(model: tfl.LayersModel): Map<string, SafetensorsEntry> {
  const indices = [0, 2, 5, 7, 10, 12, 14, 17, 19, 21, 24, 26, 28];
  const names = [1, 2]
    .map((c) => `block1_conv${c}`)
    .concat(
      [1, 2].map((c) => `block2_conv${c}`),
      [3, 4, 5].flatMap((b) => [1, 2, 3].map((c) => `block${b}_conv${c}`)),
    );
  const map = new Map<string, SafetensorsEntry>();
  names.forEach((layer, n) => {
    const [kernel, bias] = model.getLayer(layer).getWeights();
    const oihw = tf.transpose(kernel!, [3, 2, 0, 1]);
    const w = oihw.dataSync() as Float32Array;
    map.set(`features.${indices[n]}.weight`, { dtype: 'F32', shape: oihw.shape, values: () => w });
    const b = bias!.dataSync() as Float32Array;
    map.set(`features.${indices[n]}.bias`, { dtype: 'F32', shape: bias!.shape, values: () => b });
    oihw.dispose();
  });
  map.set('classifier.0.weight', { dtype: 'F32', shape: [1], values: () => new Float32Array(1) });
  return map;
}

describe('loadTorchvisionWeights', () => {
  it('imports a vgg16 features state_dict into SSD300 and SSD512 by name', () => {
    const source = tiny(SSD300_VOC, 1);
    const tensors = torchFeaturesOf(source);
    for (const preset of [SSD300_VOC, SSD512_VOC]) {
      const target = tiny(preset, 2);
      const set = loadTorchvisionWeights(target, tensors);
      expect(set).toHaveLength(13);
      for (const layer of ['block1_conv1', 'block3_conv2', 'block5_conv3']) {
        const [a, b] = [source, target].map((m) => m.getLayer(layer).getWeights()[0]!.dataSync());
        expect(Array.from(b!)).toEqual(Array.from(a!));
      }
      target.dispose();
    }
    source.dispose();
  });

  it('names the tensor that is missing, unexpected or of the wrong shape — and changes nothing', () => {
    const source = tiny(SSD300_VOC, 1);
    const target = tiny(SSD300_VOC, 2);
    const before = target.getLayer('block1_conv1').getWeights()[0]!.dataSync().slice();
    const missing = torchFeaturesOf(source);
    missing.delete('features.28.bias');
    expect(() => loadTorchvisionWeights(target, missing, { source: 'vgg.safetensors' })).toThrow(
      'vgg.safetensors: features.28.bias: missing',
    );
    const extra = torchFeaturesOf(source);
    extra.set('features.30.weight', extra.get('features.0.weight')!);
    expect(() => loadTorchvisionWeights(target, extra)).toThrow(
      'features.30.weight: unexpected tensor',
    );
    const wide = torchFeaturesOf(tiny(SSD300_VOC, 3));
    wide.set('features.5.weight', {
      dtype: 'F32',
      shape: [9, 4, 3, 3],
      values: () => new Float32Array(324),
    });
    expect(() => loadTorchvisionWeights(target, wide)).toThrow(
      'features.5.weight: shape [9, 4, 3, 3] does not fit the model, which needs [8, 4, 3, 3]',
    );
    expect(Array.from(target.getLayer('block1_conv1').getWeights()[0]!.dataSync())).toEqual(
      Array.from(before),
    );
    expect(() => loadTorchvisionWeights(target, new Map())).toThrow(
      'neither an ssd300_vgg16 state_dict',
    );
    source.dispose();
    target.dispose();
  });

  it('names a tensor holding NaN or Infinity — and changes nothing', () => {
    const source = tiny(SSD300_VOC, 1);
    const target = tiny(SSD300_VOC, 2);
    const before = target.getLayer('block3_conv1').getWeights()[0]!.dataSync().slice();
    for (const bad of [NaN, -Infinity]) {
      const tensors = torchFeaturesOf(source);
      const entry = tensors.get('features.17.bias')!;
      tensors.set('features.17.bias', {
        ...entry,
        values: () => {
          const values = entry.values();
          values[3] = bad;
          return values;
        },
      });
      expect(() => loadTorchvisionWeights(target, tensors, { source: 'vgg.safetensors' })).toThrow(
        `vgg.safetensors: features.17.bias: holds ${bad} at index 3 of `,
      );
    }
    expect(Array.from(target.getLayer('block3_conv1').getWeights()[0]!.dataSync())).toEqual(
      Array.from(before),
    );
    source.dispose();
    target.dispose();
  });

  it('imagenetNormalized folds (x/255 − mean)/std into block1_conv1', async () => {
    const source = tiny(SSD300_VOC, 1);
    const plain = tiny(SSD300_VOC, 2);
    const folded = tiny(SSD300_VOC, 2);
    const tensors = torchFeaturesOf(source);
    loadTorchvisionWeights(plain, tensors);
    loadTorchvisionWeights(folded, tensors, { imagenetNormalized: true });
    // One interior pixel: conv1_1(folded)(x − M) = conv1_1(plain)((x/255 − m)/s).
    const x = tf.add(tf.zeros([1, 3, 3, 3]), tf.tensor1d([200, 50, 90])) as tf.Tensor4D;
    const conv = (m: tfl.LayersModel, input: tf.Tensor4D) => {
      const [k, b] = m.getLayer('block1_conv1').getWeights();
      return tf.add(tf.conv2d(input, k as tf.Tensor4D, 1, 'valid'), b!);
    };
    const ours = conv(folded, tf.sub(x, tf.tensor1d([123, 117, 104])) as tf.Tensor4D);
    const torch = conv(
      plain,
      tf.div(
        tf.sub(tf.div(x, 255), tf.tensor1d([0.485, 0.456, 0.406])),
        tf.tensor1d([0.229, 0.224, 0.225]),
      ) as tf.Tensor4D,
    );
    expectArrayClose(await ours.data(), await torch.data(), { atol: 1e-4 });
    [source, plain, folded].forEach((m) => m.dispose());
  });
});

describe('loadKerasVgg16Weights', () => {
  /** A stand-in for `tensorflowjs_converter` output of keras.applications.VGG16. */
  async function kerasVgg16(dir: string, widths: number[][]): Promise<tfl.LayersModel> {
    const input = tfl.input({ shape: [32, 32, 3] });
    let x = input;
    let inChannels = 3;
    widths.forEach((block, b) =>
      block.forEach((filters, c) => {
        x = tfl.layers
          .conv2d({ name: `block${b + 1}_conv${c + 1}`, filters, kernelSize: 3, padding: 'same' })
          .apply(x) as tfl.SymbolicTensor;
        inChannels = filters;
      }),
    );
    expect(inChannels).toBeGreaterThan(0);
    const keras = tfl.model({ name: 'vgg16', inputs: input, outputs: x });
    await keras.save(fileSystemHandler(dir));
    return keras;
  }

  it('loads by layer name, reversing block1_conv1 from BGR to RGB', async () => {
    const widths = [
      [4, 4],
      [8, 8],
      [16, 16, 16],
      [32, 32, 32],
      [32, 32, 32],
    ];
    const keras = await kerasVgg16(join(root, 'keras'), widths);
    const target = tiny(SSD300_VOC, 5);
    expect(await loadKerasVgg16Weights(target, join(root, 'keras'))).toHaveLength(13);
    const [k0] = keras.getLayer('block1_conv1').getWeights();
    const reversed = tf.reverse(k0!, 2);
    expect(Array.from(target.getLayer('block1_conv1').getWeights()[0]!.dataSync())).toEqual(
      Array.from(reversed.dataSync()),
    );
    expect(Array.from(target.getLayer('block4_conv2').getWeights()[1]!.dataSync())).toEqual(
      Array.from(keras.getLayer('block4_conv2').getWeights()[1]!.dataSync()),
    );
    const wrong = await kerasVgg16(join(root, 'keras-wide'), [
      [4, 4],
      [8, 8],
      [16, 16, 16],
      [32, 32, 32],
      [32, 32, 64],
    ]);
    await expect(loadKerasVgg16Weights(target, join(root, 'keras-wide'))).rejects.toThrow(
      WeightImportError,
    );
    await expect(loadKerasVgg16Weights(target, join(root, 'keras-wide'))).rejects.toThrow(
      'block5_conv3/kernel: shape [3, 3, 32, 64] does not fit the model, which needs [3, 3, 32, 32]',
    );
    const nan = await kerasVgg16(join(root, 'keras-nan'), widths);
    const layer = nan.getLayer('block2_conv1');
    const [kernel, bias] = layer.getWeights();
    layer.setWeights([kernel!, tf.fill(bias!.shape, NaN)]);
    await nan.save(fileSystemHandler(join(root, 'keras-nan')));
    await expect(loadKerasVgg16Weights(target, join(root, 'keras-nan'))).rejects.toThrow(
      `${join(root, 'keras-nan')}: block2_conv1/bias: holds NaN at index 0 of 8`,
    );
    [keras, wrong, nan, target].forEach((m) => m.dispose());
    reversed.dispose();
  });
});

/** A torchvision `ssd300_vgg16` state_dict (PyTorch names and OIHW layout) from a model's weights. */
function torchDetectorOf(model: tfl.LayersModel): Map<string, SafetensorsEntry> {
  const prefixes: [string, string][] = [
    ...['1_conv1', '1_conv2', '2_conv1', '2_conv2', '3_conv1', '3_conv2', '3_conv3']
      .concat(['4_conv1', '4_conv2', '4_conv3'])
      .map((l, n): [string, string] => [
        `block${l}`,
        `backbone.features.${[0, 2, 5, 7, 10, 12, 14, 17, 19, 21][n]}`,
      ]),
    ['block5_conv1', 'backbone.extra.0.1'],
    ['block5_conv2', 'backbone.extra.0.3'],
    ['block5_conv3', 'backbone.extra.0.5'],
    ['fc6', 'backbone.extra.0.7.1'],
    ['fc7', 'backbone.extra.0.7.3'],
    ...[8, 9, 10, 11].flatMap((c, s): [string, string][] => [
      [`conv${c}_1`, `backbone.extra.${s + 1}.0`],
      [`conv${c}_2`, `backbone.extra.${s + 1}.2`],
    ]),
    ...[0, 1, 2, 3, 4, 5].flatMap((k): [string, string][] => [
      [`loc_${k}`, `head.regression_head.module_list.${k}`],
      [`conf_${k}`, `head.classification_head.module_list.${k}`],
    ]),
  ];
  const map = new Map<string, SafetensorsEntry>();
  const put = (name: string, t: tf.Tensor) => {
    const values = t.dataSync() as Float32Array;
    map.set(name, { dtype: 'F32', shape: t.shape, values: () => values });
  };
  for (const [layer, prefix] of prefixes) {
    const [kernel, bias] = model.getLayer(layer).getWeights();
    const oihw = tf.transpose(kernel!, [3, 2, 0, 1]);
    put(`${prefix}.weight`, oihw);
    put(`${prefix}.bias`, bias!);
    oihw.dispose();
  }
  put('backbone.scale_weight', model.getLayer('conv4_3_norm').getWeights()[0]!);
  return map;
}

const kernelOf = (model: tfl.LayersModel, layer: string) =>
  Array.from(model.getLayer(layer).getWeights()[0]!.dataSync());

describe('loadTorchvisionDetector', () => {
  const coco = narrowSsd({ preset: SSD300_VOC, inputSize: 300, numClasses: 5, seed: 1 });
  const tensors = torchDetectorOf(coco);

  it('imports an ssd300_vgg16 of another class count, leaving the class heads as initialised', () => {
    const target = narrowSsd({ preset: SSD300_VOC, inputSize: 300, numClasses: 3, seed: 2 });
    const heads = kernelOf(target, 'conf_2');
    const before = tf.memory().numTensors;
    const result = loadTorchvisionDetector(target, tensors, {
      source: 'coco.safetensors',
      classHeads: 'skip-if-mismatch',
    });
    expect(tf.memory().numTensors).toBe(before); // the imported values replace the old ones
    expect(result.classHeads).toEqual({ from: 5, to: 3 });
    expect(result.skipped).toHaveLength(12);
    expect(result.skipped).toContain('head.classification_head.module_list.0.weight');
    expect(result.layers).toHaveLength(13 + 2 + 8 + 6 + 1);
    for (const layer of ['block1_conv1', 'fc7', 'conv11_2', 'loc_0', 'loc_5', 'conv4_3_norm']) {
      expect(kernelOf(target, layer)).toEqual(kernelOf(coco, layer));
    }
    expect(kernelOf(target, 'conf_2')).toEqual(heads);
    target.dispose();
  });

  it('still rejects the class heads by default, and any other mismatch with the tensor named', () => {
    const target = narrowSsd({ preset: SSD300_VOC, inputSize: 300, numClasses: 3, seed: 2 });
    expect(() => loadTorchvisionDetector(target, tensors, { source: 'coco.safetensors' })).toThrow(
      /^coco\.safetensors: head\.classification_head\.module_list\.0\.weight: shape/,
    );
    const wider = narrowSsd({
      preset: SSD300_VOC,
      inputSize: 300,
      numClasses: 3,
      widthMultiplier: 1 / 8,
    });
    expect(() =>
      loadTorchvisionDetector(wider, tensors, { classHeads: 'skip-if-mismatch' }),
    ).toThrow(WeightImportError);
    expect(() =>
      loadTorchvisionDetector(wider, tensors, { classHeads: 'skip-if-mismatch' }),
    ).toThrow(/backbone\.features\.0\.weight: shape/);
    target.dispose();
    wider.dispose();
  });
});

describe('copyDetectorWeights', () => {
  it('copies a saved detector by layer name, skipping class heads of another class count', () => {
    const from = narrowSsd({ numClasses: 5, seed: 1 });
    const to = narrowSsd({ numClasses: 3, seed: 2 });
    const heads = kernelOf(to, 'conf_0');
    const before = tf.memory().numTensors;
    const result = copyDetectorWeights(from, to, {
      source: 'model/',
      classHeads: 'skip-if-mismatch',
    });
    expect(tf.memory().numTensors).toBe(before); // the copies replace the old values
    expect(result.classHeads).toEqual({ from: 5, to: 3 });
    expect(result.skipped).toEqual(['conf_0', 'conf_1', 'conf_2', 'conf_3', 'conf_4', 'conf_5']);
    for (const layer of ['block1_conv1', 'fc6', 'loc_3', 'conv4_3_norm']) {
      expect(kernelOf(to, layer)).toEqual(kernelOf(from, layer));
    }
    expect(kernelOf(to, 'conf_0')).toEqual(heads);
    expect(() => copyDetectorWeights(from, to, { source: 'model/' })).toThrow(
      /^model\/: conf_0\/kernel: shape \[3, 3, \d+, 20\] does not fit/,
    );
    expect(tf.memory().numTensors).toBe(before); // a refused copy leaves nothing behind
    const wider = narrowSsd({ numClasses: 5, widthMultiplier: 1 / 8 });
    expect(() => copyDetectorWeights(wider, to, { classHeads: 'skip-if-mismatch' })).toThrow(
      WeightImportError,
    );
    [from, to, wider].forEach((m) => m.dispose());
  });
});

describe('copyDetectorWeightsAsync', () => {
  it('copies as copyDetectorWeights does, reading the values asynchronously, and refuses a non-finite weight', async () => {
    const from = narrowSsd({ numClasses: 5, seed: 1 });
    const sync = narrowSsd({ numClasses: 3, seed: 2 });
    const to = narrowSsd({ numClasses: 3, seed: 2 });
    const options = { source: 'model/', classHeads: 'skip-if-mismatch' } as const;
    const before = tf.memory().numTensors;
    const result = await copyDetectorWeightsAsync(from, to, options);
    expect(tf.memory().numTensors).toBe(before);
    expect(result).toEqual(copyDetectorWeights(from, sync, options));
    for (const layer of ['block1_conv1', 'fc6', 'loc_3', 'conv4_3_norm', 'conf_0']) {
      expect(kernelOf(to, layer)).toEqual(kernelOf(sync, layer));
    }
    expect(kernelOf(to, 'fc6')).toEqual(kernelOf(from, 'fc6'));
    await expect(copyDetectorWeightsAsync(from, to, { source: 'model/' })).rejects.toThrow(
      /^model\/: conf_0\/kernel: shape \[3, 3, \d+, 20\] does not fit/,
    );
    const layer = from.getLayer('block2_conv1');
    const [kernel, bias] = layer.getWeights();
    tf.tidy(() => layer.setWeights([kernel!, tf.fill(bias!.shape, NaN)]));
    const untouched = kernelOf(to, 'block1_conv1');
    await expect(copyDetectorWeightsAsync(from, to, options)).rejects.toThrow(
      /^model\/: block2_conv1\/bias: holds NaN at index 0 of/,
    );
    expect(kernelOf(to, 'block1_conv1')).toEqual(untouched); // nothing written
    expect(tf.memory().numTensors).toBe(before);
    [from, sync, to].forEach((m) => m.dispose());
  });
});
