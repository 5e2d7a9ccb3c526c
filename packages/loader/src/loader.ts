import { createRng, mixSeed, permutation } from '@ssd/random';
import { assembleBatch, batchToTensors, type EncodedSample } from './batch';
import { mapGroups } from './concurrency';
import { LoaderError } from './errors';
import type {
  HostBatch,
  Loader,
  LoaderOptions,
  LoaderSample,
  LoaderSource,
  PreparedSample,
  StepRange,
  TensorBatch,
} from './types';

function checkPositiveInteger(name: string, value: number): void {
  if (!(Number.isInteger(value) && value > 0)) {
    throw new LoaderError(`${name} must be a positive integer, got ${value}`);
  }
}

/** One sample of one epoch. */
interface Draw {
  epoch: number;
  index: number;
}

/**
 * Batches a data set for training. Each epoch draws a permutation from
 * `(seed, epoch)`; each sample's augmentation draws from `(seed, epoch, index)`, so
 * results do not depend on `concurrency`, timing, or the step iteration starts at.
 * Up to `concurrency` samples are loaded and prepared at once (sharp decodes off
 * the main thread), and at most `prefetch` batches are kept ready ahead of the
 * consumer.
 *
 * Ownership: each yielded {@link TensorBatch}'s tensors belong to the caller, who
 * disposes them (`disposeBatch`) when done; the loader keeps no tensors and
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
 * // or, from a resumed step on: for await (const batch of loader.batches({ fromStep })) …
 * ```
 */
export function createLoader(
  source: LoaderSource,
  options: LoaderOptions & { output: 'arrays' },
): Loader<HostBatch>;
export function createLoader(
  source: LoaderSource,
  options: LoaderOptions & { output?: 'tensors' },
): Loader<TensorBatch>;
export function createLoader(
  source: LoaderSource,
  options: LoaderOptions,
): Loader<TensorBatch | HostBatch> {
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
    cacheMaxSide,
  } = options;
  checkPositiveInteger('batchSize', batchSize);
  checkPositiveInteger('prefetch', prefetch);
  checkPositiveInteger('concurrency', concurrency);
  if (cacheMaxSide !== undefined) {
    checkPositiveInteger('cacheMaxSide', cacheMaxSide);
    if (!cache) throw new LoaderError('cacheMaxSide applies to the cache: set cache: true');
  }
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
  /** Samples used per epoch: all, or those of the full batches with `dropLast`. */
  const perEpoch = batchesPerEpoch === 0 ? 0 : Math.min(size, batchesPerEpoch * batchSize);
  const decoded = new Map<number, LoaderSample>();
  let nextEpoch = 0;
  let numAnchors = -1;

  /** The order of epoch `epoch`'s samples. */
  function orderOf(epoch: number): number[] {
    return shuffle
      ? Array.from(permutation(size, createRng(mixSeed(seed, epoch)))) // two parts: no sample's stream
      : Array.from({ length: size }, (_, i) => i);
  }

  /** The samples of each step in `[fromStep, endStep)`, one array a batch. */
  function* drawsOf(fromStep: number, endStep: number): Generator<Draw[]> {
    let epoch = -1;
    let order: number[] = [];
    for (let step = fromStep; step < endStep; step++) {
      const e = Math.floor(step / batchesPerEpoch);
      if (e !== epoch) {
        epoch = e;
        order = orderOf(e);
      }
      const start = (step - e * batchesPerEpoch) * batchSize;
      const end = Math.min(perEpoch, start + batchSize);
      yield order.slice(start, end).map((index) => ({ epoch: e, index }));
    }
  }

  async function prepare({ epoch, index }: Draw): Promise<EncodedSample> {
    let sample = cache ? decoded.get(index) : undefined;
    if (!sample) {
      if (cacheMaxSide === undefined) {
        sample = await source.load(index);
      } else {
        sample = await source.load(index, { maxSide: cacheMaxSide });
        if (Math.max(sample.width, sample.height) > cacheMaxSide) {
          throw new LoaderError(
            `sample ${sample.id}: ${sample.width}×${sample.height} exceeds cacheMaxSide ${cacheMaxSide}; ` +
              'the source must downscale in load(index, { maxSide }) (as @ssd/voc does)',
          );
        }
      }
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

  async function* run(fromStep: number, endStep: number): AsyncGenerator<TensorBatch | HostBatch> {
    if (batchesPerEpoch === 0) return;
    let step = fromStep;
    for await (const samples of mapGroups(drawsOf(fromStep, endStep), prepare, {
      concurrency,
      ahead: prefetch,
    })) {
      const host = assembleBatch(samples, step++, numAnchors);
      yield output === 'arrays' ? host : batchToTensors(host, preprocess);
    }
  }

  const epochRun = (epoch: number) => run(epoch * batchesPerEpoch, (epoch + 1) * batchesPerEpoch);

  return {
    batchesPerEpoch,
    get nextEpoch() {
      return nextEpoch;
    },
    epoch(epoch: number) {
      if (!(Number.isInteger(epoch) && epoch >= 0)) {
        throw new LoaderError(`epoch must be a non-negative integer, got ${epoch}`);
      }
      return epochRun(epoch);
    },
    batches({ fromStep = 0, endStep = Infinity }: StepRange = {}) {
      if (!(Number.isInteger(fromStep) && fromStep >= 0)) {
        throw new LoaderError(`fromStep must be a non-negative integer, got ${fromStep}`);
      }
      if (!((Number.isInteger(endStep) && endStep >= 0) || endStep === Infinity)) {
        throw new LoaderError(`endStep must be a non-negative integer or Infinity, got ${endStep}`);
      }
      return run(fromStep, endStep);
    },
    [Symbol.asyncIterator]() {
      return epochRun(nextEpoch++);
    },
  };
}
