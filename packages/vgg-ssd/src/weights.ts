import * as tf from '@tensorflow/tfjs-core';
import type * as tfl from '@tensorflow/tfjs-layers';
import { describeNonFinite, firstNonFinite } from './finite';
import { loadHandlerFor, locationName, type ModelLocation } from './io';
import { BatchNorm } from './layers';

/** A weight that cannot be imported; names the source, the tensor and what was wrong. */
export class WeightImportError extends Error {
  override readonly name = 'WeightImportError';
  constructor(
    readonly source: string,
    readonly tensor: string,
    message: string,
  ) {
    super(`${source}: ${tensor}: ${message}`);
  }
}

/** One tensor of a safetensors file; `values()` converts it to float32 on demand. */
export interface SafetensorsEntry {
  readonly dtype: string;
  readonly shape: readonly number[];
  values(): Float32Array;
}

/** The safetensors header (JSON) may not exceed this (the format's own limit is 100 MB). */
export const MAX_SAFETENSORS_HEADER_BYTES = 100 * 1024 * 1024;

const DTYPE_BYTES: Record<string, number> = {
  F64: 8,
  F32: 4,
  F16: 2,
  BF16: 2,
  I64: 8,
  I32: 4,
  I16: 2,
  I8: 1,
  U8: 1,
  BOOL: 1,
};

function halfToFloat(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exponent = (h >> 10) & 0x1f;
  const fraction = h & 0x3ff;
  if (exponent === 0) return sign * 2 ** -14 * (fraction / 1024);
  if (exponent === 31) return fraction ? NaN : sign * Infinity;
  return sign * 2 ** (exponent - 15) * (1 + fraction / 1024);
}

function toFloat32(dtype: string, bytes: Uint8Array, count: number, source: string, name: string) {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const out = new Float32Array(count);
  switch (dtype) {
    case 'F32':
      for (let i = 0; i < count; i++) out[i] = view.getFloat32(i * 4, true);
      return out;
    case 'F64':
      for (let i = 0; i < count; i++) out[i] = view.getFloat64(i * 8, true);
      return out;
    case 'F16':
      for (let i = 0; i < count; i++) out[i] = halfToFloat(view.getUint16(i * 2, true));
      return out;
    case 'BF16': {
      const bits = new Uint32Array(out.buffer);
      for (let i = 0; i < count; i++) bits[i] = view.getUint16(i * 2, true) << 16;
      return out;
    }
    default:
      throw new WeightImportError(source, name, `dtype ${dtype} is not a floating-point weight`);
  }
}

/**
 * Parses a safetensors buffer (8-byte little-endian header length, JSON header,
 * raw data) without executing anything. Validates the header size against
 * `maxHeaderBytes` and the buffer before reading it, and every tensor's dtype,
 * shape and byte range (inside the data, the size its shape and dtype need,
 * no overlaps) before returning; values are converted to float32 when asked.
 */
export function parseSafetensors(
  bytes: Uint8Array,
  options: { source?: string; maxHeaderBytes?: number } = {},
): Map<string, SafetensorsEntry> {
  const source = options.source ?? 'safetensors';
  const maxHeader = options.maxHeaderBytes ?? MAX_SAFETENSORS_HEADER_BYTES;
  if (bytes.byteLength < 8) {
    throw new WeightImportError(
      source,
      'header',
      `file is ${bytes.byteLength} bytes, too short for a header`,
    );
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const headerLength = Number(view.getBigUint64(0, true));
  if (headerLength > maxHeader) {
    throw new WeightImportError(
      source,
      'header',
      `header of ${headerLength} bytes exceeds the limit of ${maxHeader}`,
    );
  }
  if (8 + headerLength > bytes.byteLength) {
    throw new WeightImportError(
      source,
      'header',
      `header of ${headerLength} bytes runs past the end of the ${bytes.byteLength}-byte file (truncated?)`,
    );
  }
  let header: Record<string, unknown>;
  try {
    header = JSON.parse(
      new TextDecoder('utf-8', { fatal: true }).decode(bytes.subarray(8, 8 + headerLength)),
    );
  } catch (error) {
    throw new WeightImportError(source, 'header', `not valid JSON: ${(error as Error).message}`);
  }
  if (header === null || typeof header !== 'object' || Array.isArray(header)) {
    throw new WeightImportError(source, 'header', 'expected a JSON object');
  }
  const data = bytes.subarray(8 + headerLength);
  const entries = new Map<string, SafetensorsEntry>();
  const ranges: [number, number, string][] = [];
  for (const [name, raw] of Object.entries(header)) {
    if (name === '__metadata__') continue;
    const info = raw as { dtype?: unknown; shape?: unknown; data_offsets?: unknown };
    const dtype = info?.dtype;
    if (typeof dtype !== 'string' || !(dtype in DTYPE_BYTES)) {
      throw new WeightImportError(source, name, `unknown dtype ${JSON.stringify(dtype)}`);
    }
    const shape = info.shape;
    if (!Array.isArray(shape) || !shape.every((d) => Number.isSafeInteger(d) && d >= 0)) {
      throw new WeightImportError(source, name, `invalid shape ${JSON.stringify(shape)}`);
    }
    const offsets = info.data_offsets;
    if (
      !Array.isArray(offsets) ||
      offsets.length !== 2 ||
      !offsets.every((o) => Number.isSafeInteger(o) && o >= 0) ||
      offsets[0] > offsets[1] ||
      offsets[1] > data.byteLength
    ) {
      throw new WeightImportError(
        source,
        name,
        `data_offsets ${JSON.stringify(offsets)} outside the ${data.byteLength} data bytes (truncated?)`,
      );
    }
    const count = (shape as number[]).reduce((a, b) => a * b, 1);
    const [begin, end] = offsets as [number, number];
    if (end - begin !== count * DTYPE_BYTES[dtype]!) {
      throw new WeightImportError(
        source,
        name,
        `${dtype} ${JSON.stringify(shape)} needs ${count * DTYPE_BYTES[dtype]!} bytes, data_offsets give ${end - begin}`,
      );
    }
    ranges.push([begin, end, name]);
    entries.set(name, {
      dtype,
      shape: Object.freeze([...(shape as number[])]),
      values: () => toFloat32(dtype, data.subarray(begin, end), count, source, name),
    });
  }
  ranges.sort((a, b) => a[0] - b[0]);
  for (let i = 1; i < ranges.length; i++) {
    if (ranges[i]![0] < ranges[i - 1]![1]) {
      throw new WeightImportError(source, ranges[i]![2], `overlaps ${ranges[i - 1]![2]}`);
    }
  }
  return entries;
}

/** A tensor in PyTorch layout: what `parseSafetensors` returns, or anything shaped like it. */
export type TorchTensors = ReadonlyMap<string, SafetensorsEntry>;

/** PyTorch `[out, in, kh, kw]` → tfjs `[kh, kw, in, out]`. */
function oihwToHwio(values: Float32Array, [o, i, h, w]: readonly number[]): Float32Array {
  const out = new Float32Array(values.length);
  for (let a = 0; a < o!; a++) {
    for (let b = 0; b < i!; b++) {
      for (let y = 0; y < h!; y++) {
        for (let x = 0; x < w!; x++) {
          out[((y * w! + x) * i! + b) * o! + a] = values[((a * i! + b) * h! + y) * w! + x]!;
        }
      }
    }
  }
  return out;
}

/** VGG16 conv layers and their index in torchvision's `vgg16().features`. */
const VGG_FEATURES: readonly [string, number][] = [
  ['block1_conv1', 0],
  ['block1_conv2', 2],
  ['block2_conv1', 5],
  ['block2_conv2', 7],
  ['block3_conv1', 10],
  ['block3_conv2', 12],
  ['block3_conv3', 14],
  ['block4_conv1', 17],
  ['block4_conv2', 19],
  ['block4_conv3', 21],
  ['block5_conv1', 24],
  ['block5_conv2', 26],
  ['block5_conv3', 28],
];

/** Our layer → torchvision `ssd300_vgg16` state_dict prefix. */
function ssd300Mapping(numSources: number): [string, string][] {
  const map: [string, string][] = VGG_FEATURES.slice(0, 10).map(([layer, i]) => [
    layer,
    `backbone.features.${i}`,
  ]);
  map.push(['block5_conv1', 'backbone.extra.0.1'], ['block5_conv2', 'backbone.extra.0.3']);
  map.push(['block5_conv3', 'backbone.extra.0.5'], ['fc6', 'backbone.extra.0.7.1']);
  map.push(['fc7', 'backbone.extra.0.7.3']);
  ['conv8', 'conv9', 'conv10', 'conv11'].forEach((stage, s) => {
    map.push(
      [`${stage}_1`, `backbone.extra.${s + 1}.0`],
      [`${stage}_2`, `backbone.extra.${s + 1}.2`],
    );
  });
  for (let k = 0; k < numSources; k++) {
    map.push([`loc_${k}`, `head.regression_head.module_list.${k}`]);
    map.push([`conf_${k}`, `head.classification_head.module_list.${k}`]);
  }
  return map;
}

export interface TorchvisionImportOptions {
  /** Names the file in errors. */
  source?: string;
  /**
   * For a torchvision ImageNet `vgg16` (trained on (x/255 − mean)/std input):
   * fold that normalisation into block1_conv1 so the weights see what they were
   * trained on after our `preprocess`. Exact except in the one-pixel zero border.
   * Not for `ssd300_vgg16` checkpoints, whose VGG already takes 0–255 minus mean.
   */
  imagenetNormalized?: boolean;
  /**
   * `'exact'` (default): every tensor must fit. `'skip-if-mismatch'`: an
   * `ssd300_vgg16` classification head trained for another class count is left
   * out (the model keeps its own initialisation of `conf_*`); any other
   * mismatch is still an error.
   */
  classHeads?: ClassHeadPolicy;
}

/** What to do with class heads (`conf_*`) whose class count differs from the model's. */
export type ClassHeadPolicy = 'exact' | 'skip-if-mismatch';

/** What a whole-detector weight transfer did. */
export interface WeightTransfer {
  /** Layers whose weights were set. */
  readonly layers: string[];
  /** Source tensors (or layers) left out: class heads of another class count. */
  readonly skipped: string[];
  /** The class counts (K+1) when the class heads were left out, else null. */
  readonly classHeads: { readonly from: number; readonly to: number } | null;
}

/** Anchors per cell of head `k`: the `loc_k` layer's output channels / 4. */
function anchorsPerCell(model: tfl.LayersModel, k: string): number {
  const kernel = model.getLayer(`loc_${k}`).getWeights()[0]!;
  return kernel.shape[3]! / 4;
}

/**
 * The class count (K+1) a class head of `channels` output channels was trained
 * for, given `anchors` per cell; throws naming `tensor` when it does not divide.
 */
function classesOfHead(channels: number, anchors: number, source: string, tensor: string): number {
  const classes = channels / anchors;
  if (!Number.isInteger(classes) || classes < 2) {
    throw new WeightImportError(
      source,
      tensor,
      `${channels} output channels are not a whole class count (≥ 2) for ${anchors} anchors per cell`,
    );
  }
  return classes;
}

/** Records a class head's two class counts; all heads must agree. */
function noteClassHeads(
  seen: { from: number; to: number } | null,
  next: { from: number; to: number },
  source: string,
  tensor: string,
): { from: number; to: number } {
  if (seen && seen.from !== next.from) {
    throw new WeightImportError(
      source,
      tensor,
      `trained for ${next.from} classes where another class head has ${seen.from}`,
    );
  }
  return next;
}

/** Pretrained VGG16 weights have conv biases and no batch norm: a batch-norm model cannot take them. */
function refuseBatchNorm(model: tfl.LayersModel, source: string, what: string): void {
  const batchNorm = model.layers.find((l) => l instanceof BatchNorm);
  if (batchNorm) {
    throw new WeightImportError(
      source,
      batchNorm.name,
      `${what} have no batch norm; build the model with normalization: 'none'`,
    );
  }
}

/**
 * Copies torchvision weights into a model built by `createSsdVgg16`, by tensor
 * name, validating every name, dtype and shape (errors name the tensor):
 *
 * - a full `ssd300_vgg16` `state_dict` (`backbone.*`, `head.*`): every layer,
 *   for an SSD300 model with the same `numClasses` and width; or
 * - a `vgg16` `features` `state_dict` (`features.N.*`; `classifier.*` is
 *   ignored): block1_conv1 … block5_conv3 only, for SSD300 or SSD512.
 *
 * Tensors come from `parseSafetensors` (or `readSafetensorsFile` of `@ssd/vgg-ssd/node`; export in Python:
 * `safetensors.torch.save_file(model.state_dict(), "ssd300.safetensors")`).
 * @returns the names of the layers that were set.
 */
export function loadTorchvisionWeights(
  model: tfl.LayersModel,
  tensors: TorchTensors,
  options: TorchvisionImportOptions = {},
): string[] {
  return loadTorchvisionDetector(model, tensors, options).layers;
}

/**
 * `loadTorchvisionWeights`, reporting what it left out: with
 * `classHeads: 'skip-if-mismatch'`, an `ssd300_vgg16` of another class count
 * (e.g. COCO's 91) fine-tunes into this model — backbone, extras and box
 * heads imported, class heads kept as initialised.
 */
export function loadTorchvisionDetector(
  model: tfl.LayersModel,
  tensors: TorchTensors,
  options: TorchvisionImportOptions = {},
): WeightTransfer {
  const source = options.source ?? 'torchvision weights';
  refuseBatchNorm(model, source, "torchvision's vgg16 and ssd300_vgg16");
  const full = tensors.has('backbone.features.0.weight');
  let mapping: [string, string][];
  if (full) {
    const numSources = model.layers.filter((l) => /^loc_\d+$/.test(l.name)).length;
    if (numSources !== 6) {
      throw new WeightImportError(
        source,
        'backbone.*',
        `an ssd300_vgg16 state_dict fits an SSD300 model (6 sources); this model has ${numSources}`,
      );
    }
    mapping = ssd300Mapping(numSources);
  } else if (tensors.has('features.0.weight')) {
    mapping = VGG_FEATURES.map(([layer, i]) => [layer, `features.${i}`]);
  } else {
    throw new WeightImportError(
      source,
      'backbone.features.0.weight',
      'neither an ssd300_vgg16 state_dict (backbone.*, head.*) nor a vgg16 one (features.*)',
    );
  }
  const expected = new Set<string>(
    mapping.flatMap(([, prefix]) => [`${prefix}.weight`, `${prefix}.bias`]),
  );
  if (full) expected.add('backbone.scale_weight');
  for (const name of tensors.keys()) {
    if (!expected.has(name) && !(!full && name.startsWith('classifier.'))) {
      throw new WeightImportError(source, name, 'unexpected tensor: not part of this network');
    }
  }
  const take = (name: string, shape: readonly number[]): Float32Array => {
    const entry = tensors.get(name);
    if (!entry) throw new WeightImportError(source, name, 'missing');
    if (entry.shape.length !== shape.length || entry.shape.some((d, i) => d !== shape[i])) {
      throw new WeightImportError(
        source,
        name,
        `shape [${entry.shape.join(', ')}] does not fit the model, which needs [${shape.join(', ')}]`,
      );
    }
    const values = entry.values();
    const bad = firstNonFinite(values);
    if (bad >= 0) throw new WeightImportError(source, name, describeNonFinite(values, bad));
    return values;
  };

  const updates: [tfl.layers.Layer, tf.Tensor[]][] = [];
  const skipped: string[] = [];
  let classHeads: { from: number; to: number } | null = null;
  try {
    for (const [layerName, prefix] of mapping) {
      const layer = model.getLayer(layerName);
      const [kernel, bias] = layer.getWeights();
      const [kh, kw, inC, outC] = kernel!.shape as number[];
      const torchShape = [outC!, inC!, kh!, kw!];
      const head = /^conf_(\d+)$/.exec(layerName);
      const given = tensors.get(`${prefix}.weight`)?.shape;
      if (
        head &&
        options.classHeads === 'skip-if-mismatch' &&
        given?.length === 4 &&
        given[0] !== outC &&
        given.slice(1).every((d, i) => d === torchShape[i + 1])
      ) {
        const anchors = anchorsPerCell(model, head[1]!);
        const from = classesOfHead(given[0]!, anchors, source, `${prefix}.weight`);
        const biasShape = tensors.get(`${prefix}.bias`)?.shape;
        if (biasShape?.length !== 1 || biasShape[0] !== given[0]) {
          throw new WeightImportError(
            source,
            `${prefix}.bias`,
            `shape [${biasShape?.join(', ') ?? ''}] does not fit its weight's ${given[0]} output channels`,
          );
        }
        classHeads = noteClassHeads(classHeads, { from, to: outC! / anchors }, source, prefix);
        skipped.push(`${prefix}.weight`, `${prefix}.bias`);
        continue;
      }
      let values = oihwToHwio(take(`${prefix}.weight`, torchShape), torchShape);
      let biasValues = take(`${prefix}.bias`, [outC!]);
      if (layerName === 'block1_conv1' && options.imagenetNormalized) {
        ({ values, biasValues } = foldImagenetNormalization(values, biasValues, outC!));
      }
      updates.push([layer, [tf.tensor(values, kernel!.shape), tf.tensor(biasValues, bias!.shape)]]);
    }
    if (full) {
      const norm = model.getLayer('conv4_3_norm');
      const [gamma] = norm.getWeights();
      updates.push([norm, [tf.tensor(take('backbone.scale_weight', gamma!.shape), gamma!.shape)]]);
    }
    // Nothing is written until every tensor has been validated.
    for (const [layer, weights] of updates) layer.setWeights(weights);
  } finally {
    for (const [, weights] of updates) tf.dispose(weights);
  }
  return { layers: updates.map(([layer]) => layer.name), skipped, classHeads };
}

/**
 * Copies every weight of `from` (e.g. a detector saved by this project and read
 * with `loadSsdModel`) into the layer of the same name in `to`, validating that
 * both have the same layers and every shape matches (errors name the layer and
 * weight). With `classHeads: 'skip-if-mismatch'`, class heads (`conf_*`) whose
 * output channels (class count) differ are left as `to` has them.
 * Nothing is written unless everything else fits. Reads `from`'s values
 * synchronously, which webgpu in Node cannot do: there, use
 * {@link copyDetectorWeightsAsync}.
 */
export function copyDetectorWeights(
  from: tfl.LayersModel,
  to: tfl.LayersModel,
  options: CopyDetectorWeightsOptions = {},
): WeightTransfer {
  return copyValidated(from, to, options, (tensor) => tensor.dataSync());
}

/**
 * {@link copyDetectorWeights} that reads `from`'s values with `await data()`
 * first, so it runs on every backend (webgpu included).
 */
export async function copyDetectorWeightsAsync(
  from: tfl.LayersModel,
  to: tfl.LayersModel,
  options: CopyDetectorWeightsOptions = {},
): Promise<WeightTransfer> {
  // A layer's `getWeights()` returns its variables themselves, so their ids key the values.
  const read = await Promise.all(
    from.weights.map(async (w) => {
      const tensor = w.read();
      return [tensor.id, await tensor.data()] as const;
    }),
  );
  const values = new Map<number, tf.TypedArray>(read);
  return copyValidated(from, to, options, (tensor) => values.get(tensor.id)!);
}

export interface CopyDetectorWeightsOptions {
  /** Names the source in errors (default `model`). */
  source?: string;
  classHeads?: ClassHeadPolicy;
}

function copyValidated(
  from: tfl.LayersModel,
  to: tfl.LayersModel,
  options: CopyDetectorWeightsOptions,
  valuesOf: (tensor: tf.Tensor) => tf.TypedArray,
): WeightTransfer {
  const source = options.source ?? 'model';
  const withWeights = (m: tfl.LayersModel) => m.layers.filter((l) => l.weights.length > 0);
  const targetNames = new Set(withWeights(to).map((l) => l.name));
  for (const layer of withWeights(from)) {
    if (!targetNames.has(layer.name)) {
      throw new WeightImportError(source, layer.name, 'unexpected layer: not part of this network');
    }
  }
  const sourceLayers = new Map(withWeights(from).map((l) => [l.name, l]));
  const updates: [tfl.layers.Layer, tf.Tensor[]][] = [];
  const skipped: string[] = [];
  let classHeads: { from: number; to: number } | null = null;
  try {
    for (const layer of withWeights(to)) {
      const given = sourceLayers.get(layer.name);
      if (!given) throw new WeightImportError(source, layer.name, 'missing');
      const want = layer.getWeights();
      const have = given.getWeights();
      if (have.length !== want.length) {
        throw new WeightImportError(
          source,
          layer.name,
          `${have.length} weights where the model has ${want.length}`,
        );
      }
      const head = /^conf_(\d+)$/.exec(layer.name);
      const differs = (i: number) => have[i]!.shape.join() !== want[i]!.shape.join();
      if (head && options.classHeads === 'skip-if-mismatch' && differs(0)) {
        const [k, kw] = [want[0]!.shape, have[0]!.shape];
        const sameButOut = kw.length === 4 && kw.slice(0, 3).join() === k.slice(0, 3).join();
        if (sameButOut && have[1]?.shape.join() === `${kw[3]}`) {
          const anchors = anchorsPerCell(to, head[1]!);
          const next = {
            from: classesOfHead(kw[3]!, anchors, source, layer.name),
            to: k[3]! / anchors,
          };
          classHeads = noteClassHeads(classHeads, next, source, layer.name);
          skipped.push(layer.name);
          continue;
        }
      }
      // Every weight of the layer is checked before any is copied, so a failure leaves
      // no half-made copies behind.
      have.forEach((tensor, i) => {
        const name = `${layer.name}/${layer.weights[i]!.originalName.split('/').pop()}`;
        if (differs(i)) {
          throw new WeightImportError(
            source,
            name,
            `shape [${tensor.shape.join(', ')}] does not fit the model, which needs [${want[i]!.shape.join(', ')}]`,
          );
        }
        const values = valuesOf(tensor);
        const bad = firstNonFinite(values);
        if (bad >= 0) throw new WeightImportError(source, name, describeNonFinite(values, bad));
      });
      updates.push([layer, have.map((tensor) => tf.clone(tensor))]);
    }
    for (const [layer, weights] of updates) layer.setWeights(weights);
  } finally {
    for (const [, weights] of updates) tf.dispose(weights);
  }
  return { layers: updates.map(([layer]) => layer.name), skipped, classHeads };
}

const IMAGENET_MEAN = [0.485, 0.456, 0.406];
const IMAGENET_STD = [0.229, 0.224, 0.225];
const OUR_MEAN = [123, 117, 104];

/**
 * torchvision sees t = (x/255 − m)/s; we feed p = x − M. So t = (p + M − 255m)/(255s):
 * kernel[.., c, ..] /= 255·s_c, and the constant (M − 255m)/(255s) goes into the bias.
 */
function foldImagenetNormalization(hwio: Float32Array, bias: Float32Array, outC: number) {
  const values = new Float32Array(hwio.length);
  const biasValues = Float32Array.from(bias);
  const positions = hwio.length / (3 * outC);
  for (let p = 0; p < positions; p++) {
    for (let c = 0; c < 3; c++) {
      const scale = 1 / (255 * IMAGENET_STD[c]!);
      const shift = (OUR_MEAN[c]! - 255 * IMAGENET_MEAN[c]!) * scale;
      for (let o = 0; o < outC; o++) {
        const i = (p * 3 + c) * outC + o;
        values[i] = hwio[i]! * scale;
        biasValues[o] = biasValues[o]! + hwio[i]! * shift;
      }
    }
  }
  return { values, biasValues };
}

/**
 * Copies a Keras `VGG16` (ImageNet, `include_top` either way) converted by
 * `tensorflowjs_converter --input_format keras` into block1_conv1 … block5_conv3,
 * by layer name (`block1_conv1/kernel`, optionally scoped `vgg16/…`, `:0`
 * suffixes allowed). Keras' VGG16 was trained on BGR input ('caffe' mode), so the
 * input channels of block1_conv1 are reversed to take our RGB `preprocess`; the
 * means differ by under one grey level (BGR 103.939, 116.779, 123.68 vs 104, 117, 123).
 * @param source the converter's output: an `IOHandler` or a URL of its `model.json`
 *   (`@ssd/vgg-ssd/node`'s `loadKerasVgg16Weights` also takes its directory).
 * @returns the names of the layers that were set.
 */
export async function loadKerasVgg16Weights(
  model: tfl.LayersModel,
  source: ModelLocation,
): Promise<string[]> {
  return importKerasVgg16Weights(model, loadHandlerFor(source), locationName(source));
}

/** `loadKerasVgg16Weights` from a handler, with the name errors give it (the Node entry passes the directory). */
export async function importKerasVgg16Weights(
  model: tfl.LayersModel,
  handler: tf.io.IOHandler,
  dir: string,
): Promise<string[]> {
  refuseBatchNorm(model, dir, 'Keras VGG16 weights');
  if (handler.load == null) {
    throw new WeightImportError(dir, 'IOHandler', 'the handler cannot load (no load method)');
  }
  const artifacts = await handler.load();
  const named = tf.io.decodeWeights(artifacts.weightData!, artifacts.weightSpecs!);
  const byName = new Map<string, tf.Tensor>();
  for (const [name, tensor] of Object.entries(named)) {
    const parts = name.replace(/:\d+$/, '').split('/');
    byName.set(parts.slice(-2).join('/'), tensor);
  }
  const updates: [tfl.layers.Layer, tf.Tensor[]][] = [];
  try {
    for (const [layerName] of VGG_FEATURES) {
      const layer = model.getLayer(layerName);
      const current = layer.getWeights();
      const weights: tf.Tensor[] = [];
      // Listed before they are made, so a failure frees the copies already made.
      updates.push([layer, weights]);
      for (const [i, kind] of ['kernel', 'bias'].entries()) {
        const key = `${layerName}/${kind}`;
        const tensor = byName.get(key);
        if (!tensor) throw new WeightImportError(dir, key, 'missing');
        const shape = current[i]!.shape;
        if (tensor.dtype !== 'float32') {
          throw new WeightImportError(dir, key, `dtype ${tensor.dtype}, expected float32`);
        }
        if (tensor.shape.join() !== shape.join()) {
          throw new WeightImportError(
            dir,
            key,
            `shape [${tensor.shape.join(', ')}] does not fit the model, which needs [${shape.join(', ')}]`,
          );
        }
        const values = await tensor.data();
        const bad = firstNonFinite(values);
        if (bad >= 0) throw new WeightImportError(dir, key, describeNonFinite(values, bad));
        weights.push(
          layerName === 'block1_conv1' && kind === 'kernel'
            ? tf.reverse(tensor, 2)
            : tf.clone(tensor),
        );
      }
    }
    for (const [layer, weights] of updates) layer.setWeights(weights);
  } finally {
    for (const [, weights] of updates) tf.dispose(weights);
    tf.dispose(Object.values(named));
  }
  return updates.map(([layer]) => layer.name);
}
