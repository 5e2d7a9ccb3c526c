import * as tfl from '@tensorflow/tfjs-layers';
import { numAnchorsPerLocation, validateAnchorConfig, type AnchorConfig } from '@ssd/anchors';
import { AtrousConv2D, BatchNorm, L2Normalization } from './layers';

/** Thrown for an impossible network configuration; names the option and the value. */
export class SsdConfigError extends Error {
  override readonly name = 'SsdConfigError';
  constructor(
    readonly option: string,
    message: string,
  ) {
    super(`createSsdVgg16 ${option}: ${message}`);
  }
}

export interface SsdVgg16Options {
  /** Number of classes including background (VOC: 21). */
  numClasses: number;
  /**
   * The anchor preset the heads are built for: its number of maps (6 → SSD300
   * extras, 7 → SSD512 extras) and its boxes per location. `SSD300_VOC`,
   * `SSD300_COCO` or `SSD512_VOC` from `@ssd/anchors`, or your own.
   */
  preset: AnchorConfig;
  /** Scales every convolution's channel count (not the heads' outputs); default 1. */
  widthMultiplier?: number;
  /** Side of the square input in pixels; default `preset.imageSize`. */
  inputSize?: number;
  /** Seed for the Glorot-uniform initialisers (layer i uses seed + i); default unseeded. */
  seed?: number;
  /**
   * A constant the (preprocessed) input is multiplied by before `block1_conv1`, as
   * a `Rescaling` layer named `input_scale`; default 1 (no layer, the paper's
   * network, what pretrained VGG16 weights expect). For training from scratch,
   * ~1/58 makes `preprocess`'s 0–255-minus-mean input unit-variance, so the
   * first layer's weights are not 58× smaller than the rest (which makes an
   * optimiser's absolute step far too large for them).
   */
  inputScale?: number;
  /**
   * `'batch'`: every backbone and extra convolution (not the heads) is followed by
   * batch normalisation and then its ReLU, and has no bias: conv → `<name>_bn`
   * (`BatchNorm` with the ReLU fused; PyTorch's defaults: ε 1e-5, running
   * statistics moved by 0.1 towards each training batch's). For training from scratch
   * (ScratchDet, Zhu et al. 2019): it trains at larger learning rates and in fewer
   * images. Default `'none'`: the paper's network.
   */
  normalization?: SsdNormalization;
}

/** Normalisation after the backbone and extra convolutions: none (the paper) or batch norm. */
export type SsdNormalization = 'none' | 'batch';

/** One extra stage: a 1×1 reduction, then a k×k conv with the given stride and padding. */
interface ExtraStage {
  name: string;
  reduce: number;
  out: number;
  kernel: number;
  stride: number;
  pad: number;
}

/** SSD300 extras, as the Caffe release and torchvision's `_vgg_extractor`. */
const EXTRAS_300: readonly ExtraStage[] = [
  { name: 'conv8', reduce: 256, out: 512, kernel: 3, stride: 2, pad: 1 },
  { name: 'conv9', reduce: 128, out: 256, kernel: 3, stride: 2, pad: 1 },
  { name: 'conv10', reduce: 128, out: 256, kernel: 3, stride: 1, pad: 0 },
  { name: 'conv11', reduce: 128, out: 256, kernel: 3, stride: 1, pad: 0 },
];

/** SSD512 extras, as the Caffe release (`ssd_pascal_512.py`): 32→16→8→4→2→1. */
const EXTRAS_512: readonly ExtraStage[] = [
  { name: 'conv8', reduce: 256, out: 512, kernel: 3, stride: 2, pad: 1 },
  { name: 'conv9', reduce: 128, out: 256, kernel: 3, stride: 2, pad: 1 },
  { name: 'conv10', reduce: 128, out: 256, kernel: 3, stride: 2, pad: 1 },
  { name: 'conv11', reduce: 128, out: 256, kernel: 3, stride: 2, pad: 1 },
  { name: 'conv12', reduce: 128, out: 256, kernel: 4, stride: 1, pad: 1 },
];

/** Keras VGG16 block widths (block1 … block5). */
const VGG_BLOCKS: readonly (readonly number[])[] = [
  [64, 64],
  [128, 128],
  [256, 256, 256],
  [512, 512, 512],
  [512, 512, 512],
];

const conv = (size: number, kernel: number, stride: number, pad: number) =>
  Math.floor((size + 2 * pad - kernel) / stride) + 1;

function extrasFor(preset: AnchorConfig): readonly ExtraStage[] {
  const maps = preset.featureMapSizes.length;
  if (maps === 6) return EXTRAS_300;
  if (maps === 7) return EXTRAS_512;
  throw new SsdConfigError('preset', `expected 6 feature maps (SSD300) or 7 (SSD512), got ${maps}`);
}

/**
 * The layer plan: every source's feature-map side and the padding each extra
 * stage really uses. A 3×3 pad-0 stage whose input is smaller than 3 (inputs
 * below 268 px on SSD300) uses pad 1 instead, so the 1×1 map survives; the
 * weights are unchanged, so a model trained at 300 loads into a smaller one.
 */
function plan(preset: AnchorConfig, inputSize: number) {
  const extras = extrasFor(preset);
  let size = inputSize;
  size = Math.floor(size / 2); // pool1
  size = Math.floor(size / 2); // pool2
  size = Math.ceil(size / 2); // pool3, ceil mode: 75 → 38
  const sizes = [size]; // conv4_3
  size = Math.floor(size / 2); // pool4; pool5 3×3/1 pad 1 and fc6/fc7 keep the size
  sizes.push(size); // fc7
  const pads: number[] = [];
  for (const stage of extras) {
    let pad = stage.pad;
    if (pad === 0 && size < stage.kernel) pad = 1;
    const next = conv(size, stage.kernel, stage.stride, pad);
    if (next < 1) {
      throw new SsdConfigError(
        'inputSize',
        `${inputSize} px is too small: ${stage.name}_2 would get a ${size}×${size} input`,
      );
    }
    pads.push(pad);
    sizes.push((size = next));
  }
  return { extras, pads, sizes };
}

/**
 * Side of each source feature map for a preset at an input size (SSD300 at 300:
 * 38, 19, 10, 5, 3, 1; at 150: 19, 9, 5, 3, 1, 1). Pure; `createSsdVgg16` builds
 * exactly these maps.
 */
export function ssdFeatureMapSizes(options: {
  preset: AnchorConfig;
  inputSize?: number;
}): number[] {
  return plan(options.preset, checkInputSize(options.inputSize ?? options.preset.imageSize)).sizes;
}

function checkInputSize(inputSize: number): number {
  if (!(Number.isInteger(inputSize) && inputSize >= 32)) {
    throw new SsdConfigError('inputSize', `expected an integer ≥ 32, got ${inputSize}`);
  }
  return inputSize;
}

/**
 * The anchor configuration that matches a network built from `preset` at
 * `inputSize`: the preset itself when the feature maps are the preset's, else
 * the preset's relative scales and aspect ratios on the real feature maps with
 * steps = inputSize / mapSize (torchvision's default). Heads and anchors then
 * always agree.
 */
export function anchorConfigForInputSize(preset: AnchorConfig, inputSize: number): AnchorConfig {
  validateAnchorConfig(preset);
  const sizes = ssdFeatureMapSizes({ preset, inputSize });
  return fitAnchors(preset, inputSize, sizes);
}

function fitAnchors(preset: AnchorConfig, inputSize: number, sizes: number[]): AnchorConfig {
  if (inputSize === preset.imageSize && sizes.every((s, k) => s === preset.featureMapSizes[k])) {
    return preset;
  }
  const ratio = inputSize / preset.imageSize;
  const config: AnchorConfig = {
    imageSize: inputSize,
    featureMapSizes: sizes,
    steps: sizes.map((s) => inputSize / s),
    minSizes: preset.minSizes.map((v) => v * ratio),
    maxSizes: preset.maxSizes.map((v) => v * ratio),
    aspectRatios: preset.aspectRatios.map((r) => [...r]),
    clip: preset.clip,
    offset: preset.offset,
  };
  validateAnchorConfig(config);
  return config;
}

/** Names of the head layers of source k (their outputs are `[B, H, W, A·4]` / `[B, H, W, A·C]`). */
export const headLayerNames = (k: number) => ({ loc: `loc_${k}`, conf: `conf_${k}` });

/**
 * The anchor configuration of a built model, with the feature-map sizes read
 * from the model's own head layers: use it (not a preset) for matching and
 * decoding, so a model built at any input size gets the anchors its heads
 * predict for. Checks the boxes per location against the heads' widths.
 */
export function anchorConfigForModel(model: tfl.LayersModel, preset: AnchorConfig): AnchorConfig {
  validateAnchorConfig(preset);
  const perLocation = numAnchorsPerLocation(preset);
  const inputShape = model.inputs[0]!.shape;
  const inputSize = inputShape[1];
  if (inputSize == null || inputShape[2] !== inputSize) {
    throw new SsdConfigError('model', `expected a square input, got ${JSON.stringify(inputShape)}`);
  }
  const sizes = perLocation.map((anchors, k) => {
    const layer = model.getLayer(headLayerNames(k).loc);
    const shape = layer.outputShape as (number | null)[];
    if (shape[1] == null || shape[1] !== shape[2] || shape[3] !== anchors * 4) {
      throw new SsdConfigError(
        'model',
        `${layer.name} has output ${JSON.stringify(shape)}; the preset wants ${anchors} boxes per location`,
      );
    }
    return shape[1];
  });
  return fitAnchors(preset, inputSize, sizes);
}

/**
 * SSD with a VGG16 backbone (Liu et al. 2016; the Caffe release and
 * torchvision's `ssd300_vgg16` are this network). Layer names follow Keras'
 * VGG16 (`block1_conv1` … `block5_conv3`), then `conv4_3_norm`, `fc6`, `fc7`,
 * `conv8_1` … and heads `loc_k` / `conf_k`. Glorot-uniform kernels, zero biases.
 *
 * Input `[batch, inputSize, inputSize, 3]`, preprocessed with `preprocess`.
 * Outputs, in this order: `locPred` `[batch, numAnchors, 4]` (encoded offsets)
 * and `logits` `[batch, numAnchors, numClasses]`, anchors in `generateAnchors`
 * order of `anchorConfigForModel(model, preset)`.
 *
 * A pure function of its options: the same options (and seed) build the same
 * layers, names and weight order, e.g. in worker threads.
 */
export function createSsdVgg16(options: SsdVgg16Options): tfl.LayersModel {
  const { numClasses, preset } = options;
  const widthMultiplier = options.widthMultiplier ?? 1;
  if (!(Number.isInteger(numClasses) && numClasses >= 2)) {
    throw new SsdConfigError(
      'numClasses',
      `expected an integer ≥ 2 (background included), got ${numClasses}`,
    );
  }
  if (!(Number.isFinite(widthMultiplier) && widthMultiplier > 0 && widthMultiplier <= 4)) {
    throw new SsdConfigError(
      'widthMultiplier',
      `expected a number in (0, 4], got ${widthMultiplier}`,
    );
  }
  validateAnchorConfig(preset);
  const inputSize = checkInputSize(options.inputSize ?? preset.imageSize);
  const { extras, pads } = plan(preset, inputSize);
  const perLocation = numAnchorsPerLocation(preset);
  const width = (channels: number) => Math.max(1, Math.round(channels * widthMultiplier));

  let layerIndex = 0;
  const init = () =>
    tfl.initializers.glorotUniform(
      options.seed === undefined ? {} : { seed: options.seed + layerIndex++ },
    );
  const normalization = options.normalization ?? 'none';
  if (normalization !== 'none' && normalization !== 'batch') {
    throw new SsdConfigError(
      'normalization',
      `expected 'none' or 'batch', got ${JSON.stringify(normalization)}`,
    );
  }
  const batchNorm = normalization === 'batch';
  const conv2d = (
    name: string,
    filters: number,
    kernelSize: number,
    extra: {
      strides?: number;
      activation?: 'relu' | 'linear';
      same?: boolean;
      useBias?: boolean;
    } = {},
  ) =>
    tfl.layers.conv2d({
      name,
      filters,
      kernelSize,
      strides: extra.strides ?? 1,
      // At stride 1, 'same' pads a 3×3 kernel by exactly 1 on every side, as Caffe's
      // pad 1, without a separate padding op (and its gradient) per layer.
      padding: extra.same ? 'same' : 'valid',
      activation: extra.activation ?? 'relu',
      useBias: extra.useBias ?? true,
      kernelInitializer: init(),
      biasInitializer: 'zeros',
    });
  /** A backbone or extra conv layer (ReLU after it), with batch norm between when asked. */
  const convBlock = (
    name: string,
    filters: number,
    kernelSize: number,
    extra: { strides?: number; same?: boolean } = {},
  ) =>
    batchNorm
      ? normalized(
          name,
          conv2d(name, filters, kernelSize, { ...extra, activation: 'linear', useBias: false }),
        )
      : conv2d(name, filters, kernelSize, extra);
  /** `layer` → batch norm with the ReLU fused (`<name>_bn`), as one applicable. */
  const normalized = (name: string, layer: { apply(x: tfl.SymbolicTensor): unknown }) => ({
    apply: (x: tfl.SymbolicTensor): tfl.SymbolicTensor =>
      new BatchNorm({ name: `${name}_bn`, momentum: 0.9, epsilon: 1e-5, activation: 'relu' }).apply(
        layer.apply(x) as tfl.SymbolicTensor,
      ) as tfl.SymbolicTensor,
  });
  // Explicit symmetric padding: TF's 'same' pads stride-2 convs only at the bottom/right.
  const padded = (x: tfl.SymbolicTensor, name: string, pad: number) =>
    pad === 0
      ? x
      : (tfl.layers
          .zeroPadding2d({ name: `${name}_pad`, padding: pad })
          .apply(x) as tfl.SymbolicTensor);

  const inputScale = options.inputScale ?? 1;
  if (!(Number.isFinite(inputScale) && inputScale > 0)) {
    throw new SsdConfigError('inputScale', `expected a positive number, got ${inputScale}`);
  }
  const input = tfl.input({ shape: [inputSize, inputSize, 3], name: 'image' });
  let x: tfl.SymbolicTensor =
    inputScale === 1
      ? input
      : (tfl.layers
          .rescaling({ name: 'input_scale', scale: inputScale })
          .apply(input) as tfl.SymbolicTensor);
  const sources: tfl.SymbolicTensor[] = [];
  VGG_BLOCKS.forEach((block, b) => {
    block.forEach((channels, c) => {
      const name = `block${b + 1}_conv${c + 1}`;
      x = convBlock(name, width(channels), 3, { same: true }).apply(x) as tfl.SymbolicTensor;
    });
    if (b === 3) {
      sources.push(
        new L2Normalization({ name: 'conv4_3_norm', scaleInit: 20 }).apply(x) as tfl.SymbolicTensor,
      );
    }
    if (b < 4) {
      x = tfl.layers
        .maxPooling2d({
          name: `block${b + 1}_pool`,
          poolSize: 2,
          strides: 2,
          // pool3 in ceil mode (75 → 38): TF 'same' adds the one missing row at the end,
          // and max pooling ignores it, exactly as Caffe/PyTorch ceil mode.
          padding: b === 2 ? 'same' : 'valid',
        })
        .apply(x) as tfl.SymbolicTensor;
    }
  });
  // pool5: 3×3, stride 1, pad 1 ('same' is symmetric at stride 1).
  x = tfl.layers
    .maxPooling2d({ name: 'block5_pool', poolSize: 3, strides: 1, padding: 'same' })
    .apply(x) as tfl.SymbolicTensor;
  const fc6 = new AtrousConv2D({
    name: 'fc6',
    filters: width(1024),
    kernelSize: 3,
    dilationRate: 6,
    activation: batchNorm ? 'linear' : 'relu',
    useBias: !batchNorm,
    kernelInitializer: init(),
  });
  x = (batchNorm ? normalized('fc6', fc6) : fc6).apply(x) as tfl.SymbolicTensor;
  x = convBlock('fc7', width(1024), 1).apply(x) as tfl.SymbolicTensor;
  sources.push(x);
  extras.forEach((stage, i) => {
    x = convBlock(`${stage.name}_1`, width(stage.reduce), 1).apply(x) as tfl.SymbolicTensor;
    const name = `${stage.name}_2`;
    const pad = pads[i]!;
    const same = stage.stride === 1 && pad === (stage.kernel - 1) / 2 && pad > 0;
    x = convBlock(name, width(stage.out), stage.kernel, { strides: stage.stride, same }).apply(
      same ? x : padded(x, name, pad),
    ) as tfl.SymbolicTensor;
    sources.push(x);
  });

  const locs: tfl.SymbolicTensor[] = [];
  const confs: tfl.SymbolicTensor[] = [];
  sources.forEach((source, k) => {
    const anchors = perLocation[k]!;
    const names = headLayerNames(k);
    const [, h, w] = source.shape as number[];
    const loc = conv2d(names.loc, anchors * 4, 3, { activation: 'linear', same: true }).apply(
      source,
    );
    const conf = conv2d(names.conf, anchors * numClasses, 3, {
      activation: 'linear',
      same: true,
    }).apply(source);
    // [B, H, W, A·4] → [B, H·W·A, 4]: y outer, x inner, anchor, coordinate — generateAnchors order.
    locs.push(
      tfl.layers
        .reshape({ name: `${names.loc}_flat`, targetShape: [h! * w! * anchors, 4] })
        .apply(loc) as tfl.SymbolicTensor,
    );
    confs.push(
      tfl.layers
        .reshape({ name: `${names.conf}_flat`, targetShape: [h! * w! * anchors, numClasses] })
        .apply(conf) as tfl.SymbolicTensor,
    );
  });
  const locPred = tfl.layers.concatenate({ name: 'loc_pred', axis: 1 }).apply(locs);
  const logits = tfl.layers.concatenate({ name: 'logits', axis: 1 }).apply(confs);
  return tfl.model({
    name: `ssd${inputSize}_vgg16`,
    inputs: input,
    outputs: [locPred as tfl.SymbolicTensor, logits as tfl.SymbolicTensor],
  });
}
