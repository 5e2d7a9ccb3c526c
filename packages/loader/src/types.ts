import type { RgbPixels, Sample, TrainingSample } from '@ssd/geometry';
import type { RandomSource } from '@ssd/random';
import type * as tf from '@tensorflow/tfjs-core';

/**
 * A decoded sample as a source gives it: `@ssd/geometry`'s `Sample` (RGB
 * `[height * width * 3]`, boxes `[numObjects * 4]` xyxy ABSOLUTE 0-based pixels,
 * labels 1..K), 8-bit or float pixels. `@ssd/voc`'s `VocDataset` loads these.
 */
export type LoaderSample = Sample<'absolute', RgbPixels>;

/**
 * A sample ready for batching: `@ssd/geometry`'s `TrainingSample`, the image at
 * the model's input size and boxes xyxy RELATIVE (0..1) to it. What an
 * augmentation pipeline (`@ssd/augment`) returns; the loader does not read
 * `difficult`, so it may be left out.
 */
export type PreparedSample = Omit<TrainingSample<RgbPixels>, 'difficult'> &
  Partial<Pick<TrainingSample<RgbPixels>, 'difficult'>>;

/** Where the loader draws samples from; `@ssd/voc`'s `VocDataset` is one. */
export interface LoaderSource {
  readonly size: number;
  id(index: number): string;
  /**
   * Sample `index`. `options.maxSide` (passed only with the loader's `cacheMaxSide`):
   * give an image larger than that on a side downscaled to fit it, boxes scaled with
   * it, as `@ssd/voc`'s `VocDataset.load` does.
   */
  load(index: number, options?: { maxSide?: number }): Promise<LoaderSample>;
}

/** A uniform [0, 1) random source (`@ssd/random`'s `RandomSource`). */
export type Rng = RandomSource;

/** Encodes one image's ground truth against the anchors (`@ssd/matcher`'s `encodeTargets` with the anchors bound). */
export type EncodeTargets = (
  boxesRelXyxy: Float32Array,
  labels: Int32Array,
) => { locTargets: Float32Array; labels: Int32Array };

/** Options of `createLoader`. */
export interface LoaderOptions {
  /** Images per batch. */
  batchSize: number;
  /**
   * Per-sample transform from the decoded sample to the model input size with relative
   * boxes, given a RNG seeded from (seed, epoch, sample index) — e.g. `@ssd/augment`'s
   * `ssdTrainAugmentation({ size })` or `ssdEvalTransform({ size })`. Without it, every
   * image must already have one size, and boxes are divided by it.
   */
  augment?: (sample: LoaderSample, rng: Rng) => PreparedSample | Promise<PreparedSample>;
  /**
   * Ground truth → per-anchor targets, e.g.
   * `createTargetEncoder(SSD300_VOC)` from `@ssd/matcher`.
   * Injected so the loader does not depend on a matcher.
   */
  encodeTargets: EncodeTargets;
  /**
   * Applied to each batch of images (`[B, H, W, 3]` RGB 0..255 float32) inside
   * `tf.tidy`, e.g. `@ssd/vgg-ssd`'s `preprocess`. Tensor output only.
   */
  preprocess?: (images: tf.Tensor4D) => tf.Tensor4D;
  /** Shuffle each epoch (a fresh permutation per epoch). Default true. */
  shuffle?: boolean;
  /**
   * Seeds the shuffles and every augmentation (an integer; mixed with the epoch and
   * sample index by `@ssd/random`'s `mixSeed`). Default 0.
   */
  seed?: number;
  /** Batches prepared ahead of the consumer, at most. Default 2. */
  prefetch?: number;
  /** Samples being loaded (decoded) and augmented at once. Default 2. */
  concurrency?: number;
  /** Drop the last batch when it is short. Default false (as PyTorch's DataLoader). */
  dropLast?: boolean;
  /**
   * `'tensors'` (default): batches of tfjs tensors the caller owns. `'arrays'`: plain
   * typed arrays ({@link HostBatch}; no tfjs involved, e.g. to post to worker threads).
   */
  output?: 'tensors' | 'arrays';
  /**
   * Keep decoded samples in memory after their first load, so later epochs only
   * augment (small data sets: ~`width × height × 3` bytes an image). Default false.
   */
  cache?: boolean;
  /**
   * With `cache`, keep images downscaled so that neither side exceeds this many
   * pixels (aspect kept; the source decodes them so, `load(index, { maxSide })`),
   * e.g. twice the network input: the cache then holds ~`cacheMaxSide² × 3` bytes an
   * image at most. This changes the pixels training sees (the augmentation resamples
   * the smaller image), so runs with and without it differ. Default: full size.
   */
  cacheMaxSide?: number;
}

/** A batch as tensors, owned by the caller: dispose it with `disposeBatch`. */
export interface TensorBatch {
  /** The global step: epoch × batchesPerEpoch + the batch's place in its epoch. */
  step: number;
  /** `[B, H, W, 3]` float32, preprocessed when `preprocess` was given, else RGB 0..255. */
  images: tf.Tensor4D;
  /** `[B, numAnchors, 4]` float32. */
  locTargets: tf.Tensor3D;
  /** `[B, numAnchors]` int32: 0 background, 1..K, −1 ignored. */
  labels: tf.Tensor2D;
  /** The B image ids, in batch order. */
  ids: string[];
  /** The B sample indices in the source, in batch order (e.g. for `dataset.annotation(i)`). */
  indices: number[];
}

/**
 * A batch on the host as plain typed arrays (`output: 'arrays'`): what a training
 * step takes, in this thread or posted to worker threads.
 */
export interface HostBatch {
  /** The global step: epoch × batchesPerEpoch + the batch's place in its epoch. */
  step: number;
  /**
   * `[B * H * W * 3]` RGB 0..255, not preprocessed: a Uint8Array when every prepared
   * image is 8-bit (as `@ssd/augment`'s pipelines give), else a Float32Array.
   */
  images: RgbPixels;
  /** `[B * numAnchors * 4]` encoded offsets. */
  locTargets: Float32Array;
  /** `[B * numAnchors]` 0 background, 1..K, −1 ignored. */
  labels: Int32Array;
  /** The B image ids, in batch order. */
  ids: string[];
  /** The B sample indices in the source, in batch order. */
  indices: number[];
  batchSize: number;
  height: number;
  width: number;
  numAnchors: number;
}

/** Which global steps {@link Loader.batches} yields. */
export interface StepRange {
  /** The first step (default 0): batch `fromStep % batchesPerEpoch` of epoch `⌊fromStep / batchesPerEpoch⌋`. */
  fromStep?: number;
  /** The step to stop before (exclusive, as `slice`'s end: none at or after `fromStep` gives nothing; default: no end, epoch after epoch). */
  endStep?: number;
}

/** A batch loader; iterate it once per epoch, or over global steps with {@link Loader.batches}. */
export interface Loader<B> extends AsyncIterable<B> {
  /** Batches in one epoch. */
  readonly batchesPerEpoch: number;
  /** The epoch the next plain iteration (`for await (… of loader)`) runs; starts at 0. */
  readonly nextEpoch: number;
  /** The batches of epoch `epoch` (its own shuffle and augmentation draws). */
  epoch(epoch: number): AsyncIterableIterator<B>;
  /**
   * The batches of global steps `fromStep`, `fromStep + 1`, … across epochs: exactly
   * the batches the epoch iterations give (the same shuffles and augmentation draws),
   * so a resumed run starts at its step without preparing the skipped batches.
   * Prefetching runs on across epoch boundaries.
   */
  batches(range?: StepRange): AsyncIterableIterator<B>;
}
