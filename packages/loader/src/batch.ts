import * as tf from '@tensorflow/tfjs-core';
import { LoaderError } from './errors';
import type { HostBatch, TensorBatch } from './types';

/** One sample at the model input with its per-anchor targets. */
export interface EncodedSample {
  /** The sample's index in the source. */
  index: number;
  id: string;
  /** `[height * width * 3]` RGB 0..255. */
  image: Uint8Array | Float32Array;
  width: number;
  height: number;
  /** `[numAnchors * 4]`. */
  locTargets: Float32Array;
  /** `[numAnchors]`. */
  labels: Int32Array;
}

/** Packs encoded samples, all `width × height`, into one host batch. */
export function assembleBatch(
  samples: readonly EncodedSample[],
  step: number,
  numAnchors: number,
): HostBatch {
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
  return {
    step,
    images,
    locTargets,
    labels,
    ids,
    indices,
    batchSize: b,
    height,
    width,
    numAnchors,
  };
}

/** The host batch as tensors (images preprocessed when `preprocess` is given); the caller owns them. */
export function batchToTensors(
  batch: HostBatch,
  preprocess?: (images: tf.Tensor4D) => tf.Tensor4D,
): TensorBatch {
  const { batchSize: b, height, width, numAnchors: p } = batch;
  return tf.tidy(() => {
    const values =
      batch.images instanceof Float32Array ? batch.images : new Float32Array(batch.images);
    const raw = tf.tensor4d(values, [b, height, width, 3], 'float32');
    return {
      step: batch.step,
      images: preprocess ? preprocess(raw) : raw,
      locTargets: tf.tensor3d(batch.locTargets, [b, p, 4], 'float32'),
      labels: tf.tensor2d(batch.labels, [b, p], 'int32'),
      ids: batch.ids,
      indices: batch.indices,
    };
  });
}

/** Disposes every tensor of a batch. */
export function disposeBatch(batch: TensorBatch): void {
  tf.dispose([batch.images, batch.locTargets, batch.labels]);
}
