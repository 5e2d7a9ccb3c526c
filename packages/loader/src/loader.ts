import { createRng, mixSeed, permutation, type RandomSource } from '@ssd/random';
import * as tf from '@tensorflow/tfjs-core';

/**
 * A decoded sample as `@ssd/voc` produces it (`Sample`): RGB `[height * width * 3]`,
 * boxes `[numObjects * 4]` xyxy ABSOLUTE 0-based pixels, labels 1..C.
 */
export interface LoaderSample {
  id: string;
  image: Uint8Array | Float32Array;
  width: number;
  height: number;
  boxes: Float32Array;
  labels: Int32Array;
  difficult?: Uint8Array;
}

/**
 * A sample ready for batching: the image at the model's input size, boxes xyxy
 * RELATIVE (0..1) to it. What an augmentation pipeline (`@ssd/augment`) returns.
 */
export interface PreparedSample {
  id: string;
  image: Uint8Array | Float32Array;
  width: number;
  height: number;
  /** `[numObjects * 4]` xyxy, relative. */
  boxes: Float32Array;
  labels: Int32Array;
}

/** Where the loader draws samples from; `@ssd/voc`'s `VocDataset` is one. */
export interface LoaderSource {
  readonly size: number;
  id(index: number): string;
  load(index: number): Promise<LoaderSample>;
}

/** A uniform [0, 1) random source (`@ssd/random`'s `RandomSource`). */
export type Rng = RandomSource;

/** Encodes one image's ground truth against the anchors (`@ssd/matcher`'s `encodeTargets` with the anchors bound). */
export type EncodeTargets = (
  boxesRelXyxy: Float32Array,
  labels: Int32Array,
) => { locTargets: Float32Array; labels: Int32Array };

/** Options of {@link createLoader}. */
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
   * typed arrays (no tfjs involved, e.g. to post to worker threads).
   */
  output?: 'tensors' | 'arrays';
  /**
   * Keep decoded samples in memory after their first load, so later epochs only
   * augment (small data sets: ~`width × height × 3` bytes an image). Default false.
   */
  cache?: boolean;
}

/** A batch as tensors, owned by the caller: dispose it with {@link disposeBatch}. */
export interface TensorBatch {
  /** `[B, H, W, 3]` float32, preprocessed when `preprocess` was given, else RGB 0..255. */
  images: tf.Tensor4D;
  /** `[B, numAnchors, 4]` float32. */
  locTargets: tf.Tensor3D;
  /** `[B, numAnchors]` int32: 0 background, 1..C, −1 ignored. */
  labels: tf.Tensor2D;
  /** The B image ids, in batch order. */
  ids: string[];
  /** The B sample indices in the source, in batch order (e.g. for `dataset.annotation(i)`). */
  indices: number[];
}

/** A batch as plain arrays (`output: 'arrays'`). */
export interface ArrayBatch {
  /**
   * `[B * H * W * 3]` RGB 0..255, not preprocessed: a Uint8Array when every prepared
   * image is 8-bit (as `@ssd/augment`'s pipelines give), else a Float32Array.
   */
  images: Uint8Array | Float32Array;
  /** `[B * numAnchors * 4]`. */
  locTargets: Float32Array;
  /** `[B * numAnchors]`. */
  labels: Int32Array;
  ids: string[];
  /** The B sample indices in the source, in batch order. */
  indices: number[];
  batchSize: number;
  height: number;
  width: number;
  numAnchors: number;
}

/** A wrong loader option, or a sample that does not fit the batch. */
export class LoaderError extends Error {
  override readonly name = 'LoaderError';
}

/** Disposes every tensor of a batch. */
export function disposeBatch(batch: TensorBatch): void {
  tf.dispose([batch.images, batch.locTargets, batch.labels]);
}

interface Encoded {
  index: number;
  id: string;
  image: Uint8Array | Float32Array;
  width: number;
  height: number;
  locTargets: Float32Array;
  labels: Int32Array;
}

/** A batch loader; iterate it once per epoch. */
export interface Loader<B> extends AsyncIterable<B> {
  /** Batches in one epoch. */
  readonly batchesPerEpoch: number;
  /** The epoch the next plain iteration (`for await (… of loader)`) runs; starts at 0. */
  readonly nextEpoch: number;
  /** The batches of epoch `epoch` (its own shuffle and augmentation draws). */
  epoch(epoch: number): AsyncIterableIterator<B>;
}

function checkPositiveInteger(name: string, value: number): void {
  if (!(Number.isInteger(value) && value > 0)) {
    throw new LoaderError(`${name} must be a positive integer, got ${value}`);
  }
}

/**
 * Batches a data set for training. Each epoch draws a permutation from
 * `(seed, epoch)`; each sample's augmentation draws from `(seed, epoch, index)`, so
 * results do not depend on `concurrency` or timing. Up to `concurrency` samples are
 * loaded and prepared at once (sharp decodes off the main thread), and at most
 * `prefetch` batches are kept ready ahead of the consumer.
 *
 * Ownership: each yielded {@link TensorBatch}'s tensors belong to the caller, who
 * disposes them ({@link disposeBatch}) when done; the loader keeps no tensors and
 * creates a batch's tensors only when it hands the batch over, so stopping early
 * (`break`) leaks nothing.
 *
 * ```ts
 * const loader = createLoader(dataset, {
 *   batchSize: 32, seed: 1, dropLast: true,
 *   augment: ssdTrainAugmentation({ size: 300 }),
 *   encodeTargets: createTargetEncoder(SSD300_VOC), // @ssd/matcher
 *   preprocess,
 * });
 * for (let epoch = 0; epoch < 10; epoch++) {
 *   for await (const batch of loader) { ...; disposeBatch(batch); }
 * }
 * ```
 */
export function createLoader(
  source: LoaderSource,
  options: LoaderOptions & { output: 'arrays' },
): Loader<ArrayBatch>;
export function createLoader(
  source: LoaderSource,
  options: LoaderOptions & { output?: 'tensors' },
): Loader<TensorBatch>;
export function createLoader(
  source: LoaderSource,
  options: LoaderOptions,
): Loader<TensorBatch | ArrayBatch> {
  const {
    batchSize,
    augment,
    encodeTargets,
    preprocess,
    shuffle = true,
    seed = 0,
    prefetch = 2,
    concurrency = 2,
    dropLast = false,
    output = 'tensors',
    cache = false,
  } = options;
  checkPositiveInteger('batchSize', batchSize);
  checkPositiveInteger('prefetch', prefetch);
  checkPositiveInteger('concurrency', concurrency);
  if (typeof encodeTargets !== 'function') {
    throw new LoaderError(
      'encodeTargets must be a function (boxes, labels) => { locTargets, labels }',
    );
  }
  if (output !== 'tensors' && output !== 'arrays') {
    throw new LoaderError(`output must be 'tensors' or 'arrays', got ${String(output)}`);
  }
  if (!Number.isInteger(seed)) {
    throw new LoaderError(`seed must be an integer, got ${seed}`);
  }
  if (preprocess && output === 'arrays') {
    throw new LoaderError(
      "preprocess applies to tensors; with output: 'arrays' apply it where the tensors are made",
    );
  }
  const size = source.size;
  const batchesPerEpoch = dropLast ? Math.floor(size / batchSize) : Math.ceil(size / batchSize);
  const decoded = new Map<number, LoaderSample>();
  let nextEpoch = 0;
  let numAnchors = -1;

  async function prepare(index: number, epoch: number): Promise<Encoded> {
    let sample = cache ? decoded.get(index) : undefined;
    if (!sample) {
      sample = await source.load(index);
      if (cache) decoded.set(index, sample);
    }
    let prepared: PreparedSample;
    if (augment) {
      prepared = await augment(sample, createRng(mixSeed(seed, epoch, index)));
    } else {
      const boxes = new Float32Array(sample.boxes.length);
      for (let k = 0; k < boxes.length; k += 4) {
        boxes[k] = sample.boxes[k]! / sample.width;
        boxes[k + 1] = sample.boxes[k + 1]! / sample.height;
        boxes[k + 2] = sample.boxes[k + 2]! / sample.width;
        boxes[k + 3] = sample.boxes[k + 3]! / sample.height;
      }
      prepared = { ...sample, boxes };
    }
    if (prepared.image.length !== prepared.width * prepared.height * 3) {
      throw new LoaderError(
        `sample ${prepared.id}: image has ${prepared.image.length} values, expected ${prepared.width}×${prepared.height}×3`,
      );
    }
    const targets = encodeTargets(prepared.boxes, prepared.labels);
    const p = targets.labels.length;
    if (targets.locTargets.length !== p * 4) {
      throw new LoaderError(
        `encodeTargets for ${prepared.id}: locTargets has ${targets.locTargets.length} values, expected 4 × ${p}`,
      );
    }
    if (numAnchors < 0) numAnchors = p;
    if (p !== numAnchors) {
      throw new LoaderError(
        `encodeTargets for ${prepared.id}: ${p} anchors, earlier samples had ${numAnchors}`,
      );
    }
    return {
      index,
      id: prepared.id,
      image: prepared.image,
      width: prepared.width,
      height: prepared.height,
      locTargets: targets.locTargets,
      labels: targets.labels,
    };
  }

  function assemble(samples: Encoded[]): ArrayBatch {
    const first = samples[0]!;
    const { width, height } = first;
    const pixels = width * height * 3;
    const b = samples.length;
    // 8-bit batches stay 8-bit: a quarter of the memory, and no 35 MB float buffer to
    // fault in per batch (that alone was a fifth of the loader's time in the benchmark).
    const eightBit = samples.every((s) => s.image instanceof Uint8Array);
    const images = eightBit ? new Uint8Array(b * pixels) : new Float32Array(b * pixels);
    const locTargets = new Float32Array(b * numAnchors * 4);
    const labels = new Int32Array(b * numAnchors);
    samples.forEach((s, i) => {
      if (s.width !== width || s.height !== height) {
        throw new LoaderError(
          `sample ${s.id} is ${s.width}×${s.height}, but ${first.id} in the same batch is ${width}×${height}: give an augment that resizes to the model input`,
        );
      }
      images.set(s.image, i * pixels);
      locTargets.set(s.locTargets, i * numAnchors * 4);
      labels.set(s.labels, i * numAnchors);
    });
    const ids = samples.map((s) => s.id);
    const indices = samples.map((s) => s.index);
    return { images, locTargets, labels, ids, indices, batchSize: b, height, width, numAnchors };
  }

  function toTensors(batch: ArrayBatch): TensorBatch {
    const { batchSize: b, height, width, numAnchors: p } = batch;
    return tf.tidy(() => {
      const values =
        batch.images instanceof Float32Array ? batch.images : new Float32Array(batch.images);
      const raw = tf.tensor4d(values, [b, height, width, 3], 'float32');
      return {
        images: preprocess ? preprocess(raw) : raw,
        locTargets: tf.tensor3d(batch.locTargets, [b, p, 4], 'float32'),
        labels: tf.tensor2d(batch.labels, [b, p], 'int32'),
        ids: batch.ids,
        indices: batch.indices,
      };
    });
  }

  async function* run(epoch: number): AsyncGenerator<TensorBatch | ArrayBatch> {
    const order = shuffle
      ? Array.from(permutation(size, createRng(mixSeed(seed, epoch)))) // two parts: no sample's stream
      : Array.from({ length: size }, (_, i) => i);
    const total = batchesPerEpoch === 0 ? 0 : Math.min(size, batchesPerEpoch * batchSize);
    const results: (Encoded | undefined)[] = new Array(total);
    const remaining = Array.from({ length: batchesPerEpoch }, (_, k) =>
      Math.min(batchSize, total - k * batchSize),
    );
    const ready: { promise: Promise<void>; resolve: () => void; reject: (e: unknown) => void }[] =
      remaining.map(() => {
        let resolve!: () => void;
        let reject!: (e: unknown) => void;
        const promise = new Promise<void>((res, rej) => {
          resolve = res;
          reject = rej;
        });
        promise.catch(() => undefined); // surfaced when the consumer reaches the batch
        return { promise, resolve, reject };
      });
    let nextPosition = 0;
    let consumed = 0;
    let stopped = false;
    let wake: (() => void)[] = [];
    const windowMoved = () => {
      const w = wake;
      wake = [];
      for (const f of w) f();
    };
    const worker = async () => {
      while (!stopped && nextPosition < total) {
        const position = nextPosition;
        const batch = Math.floor(position / batchSize);
        if (batch >= consumed + prefetch) {
          await new Promise<void>((res) => wake.push(res));
          continue;
        }
        nextPosition++;
        try {
          results[position] = await prepare(order[position]!, epoch);
          if (--remaining[batch]! === 0) ready[batch]!.resolve();
        } catch (error) {
          ready[batch]!.reject(error);
          stopped = true;
          windowMoved();
        }
      }
    };
    const workers = Array.from({ length: concurrency }, worker);
    try {
      for (let k = 0; k < batchesPerEpoch; k++) {
        await ready[k]!.promise;
        const start = k * batchSize;
        const end = Math.min(total, start + batchSize);
        const samples = results.slice(start, end) as Encoded[];
        results.fill(undefined, start, end);
        consumed = k + 1;
        windowMoved();
        const arrays = assemble(samples);
        yield output === 'arrays' ? arrays : toTensors(arrays);
      }
    } finally {
      stopped = true;
      windowMoved();
      await Promise.allSettled(workers);
    }
  }

  return {
    batchesPerEpoch,
    get nextEpoch() {
      return nextEpoch;
    },
    epoch(epoch: number) {
      if (!(Number.isInteger(epoch) && epoch >= 0)) {
        throw new LoaderError(`epoch must be a non-negative integer, got ${epoch}`);
      }
      return run(epoch);
    },
    [Symbol.asyncIterator]() {
      return run(nextEpoch++);
    },
  };
}
