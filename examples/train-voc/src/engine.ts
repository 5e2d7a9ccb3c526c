import type { HostBatch } from '@ssd/loader';
import * as tf from '@tensorflow/tfjs-core';
import type { TrainableParam } from './optimizer';
import type { GradientEngine, LossParts } from './trainer';

/** The MultiBox loss as `@ssd/loss` computes it (scalars). */
export type LossFunction = (
  predictions: { locPred: tf.Tensor3D; logits: tf.Tensor3D },
  targets: { locTargets: tf.Tensor3D; labels: tf.Tensor2D },
) => { total: tf.Scalar; localization: tf.Scalar; confidence: tf.Scalar };

export interface LocalEngineOptions {
  readonly params: readonly TrainableParam[];
  /** The network in training mode: preprocessed images → `[locPred, logits]`. */
  readonly forward: (images: tf.Tensor4D) => [tf.Tensor3D, tf.Tensor3D];
  /** RGB 0–255 → network input (`@ssd/vgg-ssd`'s `preprocess`). */
  readonly preprocess: (images: tf.Tensor4D) => tf.Tensor4D;
  readonly loss: LossFunction;
}

/** Tensors of a host batch; the caller owns them. */
export function batchTensors(batch: HostBatch): {
  images: tf.Tensor4D;
  locTargets: tf.Tensor3D;
  labels: tf.Tensor2D;
} {
  const { batchSize: b, height, width, numAnchors: p } = batch;
  return {
    images: tf.tensor4d(
      batch.images instanceof Float32Array ? batch.images : Float32Array.from(batch.images),
      [b, height, width, 3],
      'float32',
    ),
    locTargets: tf.tensor3d(batch.locTargets, [b, p, 4], 'float32'),
    labels: tf.tensor2d(batch.labels, [b, p], 'int32'),
  };
}

/** Gradients on the current backend, in this thread. */
export function createLocalEngine(o: LocalEngineOptions): GradientEngine {
  const variables = o.params.map((p) => p.variable);
  return {
    async compute(batch) {
      const out = tf.tidy(() => {
        const t = batchTensors(batch);
        const x = o.preprocess(t.images);
        let localization: tf.Scalar | undefined;
        let confidence: tf.Scalar | undefined;
        const { value, grads } = tf.variableGrads(() => {
          const [locPred, logits] = o.forward(x);
          const l = o.loss({ locPred, logits }, { locTargets: t.locTargets, labels: t.labels });
          localization = tf.keep(l.localization);
          confidence = tf.keep(l.confidence);
          return l.total;
        }, variables);
        const list = variables.map((v) => grads[v.name]!);
        return {
          value,
          localization: localization!,
          confidence: confidence!,
          // A left fold of adds, not tf.addN: webgpu's AddN binds every input as a
          // storage buffer, and WebGPU allows 8 per shader stage (the pipeline fails
          // with the ~70 parameters). Same order, so the same sum as addN on cpu/wasm.
          gradNormSq: list
            .map((g) => tf.sum(tf.square(g)))
            .reduce((sum, s) => tf.add(sum, s)) as tf.Scalar,
          grads: list,
        };
      });
      const [total, localization, confidence, gradNormSq] = await Promise.all([
        out.value.data(),
        out.localization.data(),
        out.confidence.data(),
        out.gradNormSq.data(),
      ]);
      tf.dispose([out.value, out.localization, out.confidence, out.gradNormSq]);
      const loss: LossParts = {
        total: total[0]!,
        localization: localization[0]!,
        confidence: confidence[0]!,
        gradNorm: Math.sqrt(gradNormSq[0]!),
      };
      return { loss, grads: out.grads };
    },
    dispose() {},
  };
}
