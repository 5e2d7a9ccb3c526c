/**
 * The replica module of the data-parallel trainer (`@ssd/backend`'s
 * `createDataParallelTrainer`): every worker thread imports this file (built to
 * `dist/replica.js`) and builds the same network, the app's optimizer and the
 * MultiBox loss. The optimizer's slot variables are listed after the model's
 * weights in `model.weights`, so `getWeights`/`setWeights` carry them too and a
 * checkpoint taken from the workers resumes exactly.
 */
import { multiboxLoss } from '@ssd/loss';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-layers';
import type { RunConfig } from './config';
import { buildNetwork, networkOptions, preprocess } from './network';
import { createOptimizer, type Optimizer } from './optimizer';

export interface ReplicaOptions {
  config: RunConfig;
  numClasses: number;
}

/** A `tf.Optimizer` face for the app's optimizer; a non-finite gradient skips the update. */
class AppOptimizer extends tf.Optimizer {
  static get className(): string {
    return 'SsdTrainVocOptimizer';
  }
  learningRate = 0;
  skipped = 0;

  constructor(
    private readonly inner: Optimizer,
    private readonly variables: readonly tf.Variable[],
    /** Scalar copy of `inner.updates`, exposed as a weight so it is saved and restored. */
    readonly counter: tf.Variable,
  ) {
    super();
  }

  override applyGradients(grads: tf.NamedTensorMap | { name: string; tensor: tf.Tensor }[]): void {
    const byName = Array.isArray(grads)
      ? Object.fromEntries(grads.map((g) => [g.name, g.tensor]))
      : grads;
    const list = this.variables.map((v) => byName[v.name]!);
    const finite = tf.tidy(
      () => tf.all(tf.stack(list.map((g) => tf.all(tf.isFinite(g))))).dataSync()[0] === 1,
    );
    if (!finite) {
      this.skipped++;
      return;
    }
    this.inner.updates = this.counter.dataSync()[0]!;
    this.inner.apply(list, this.learningRate);
    this.counter.assign(tf.scalar(this.inner.updates));
  }

  /** The trainer's averaged gradient, every variable's end to end: a few flat ops. */
  applyFlat(gradient: Float32Array): void {
    if (!allFinite(gradient)) {
      this.skipped++;
      return;
    }
    this.inner.updates = this.counter.dataSync()[0]!;
    this.inner.applyFlat(gradient, this.learningRate);
    tf.tidy(() => this.counter.assign(tf.scalar(this.inner.updates)));
  }

  override getConfig(): tf.serialization.ConfigDict {
    return {};
  }
}

export async function createReplica(options: ReplicaOptions) {
  const { config } = options;
  const net = buildNetwork(networkOptions(config, options.numClasses));
  const inner = createOptimizer(config.optimizer, net.params, config);
  const slots = inner.slotVariables();
  const counter = tf.variable(tf.scalar(0), false, 'ssd_train_voc_updates');
  const optimizer = new AppOptimizer(
    inner,
    net.params.map((p) => p.variable),
    counter,
  );
  return {
    model: {
      trainableWeights: net.model.trainableWeights,
      weights: [
        ...net.model.weights,
        ...slots.map((v) => ({ read: () => v })),
        { read: () => counter },
      ],
    },
    optimizer,
    applyFlatGradients(gradient: Float32Array, learningRate: number | undefined) {
      if (learningRate != null) optimizer.learningRate = learningRate;
      optimizer.applyFlat(gradient);
    },
    /** `batch.images` `[rows, H, W, 3]` float32 RGB 0–255 (workers.ts sends it so). */
    loss(batch: Record<string, tf.Tensor>) {
      const x = preprocess(batch.images! as tf.Tensor4D);
      const [locPred, logits] = net.forward(x);
      // Sums over this slice and its positives: the trainer divides once, by the
      // positives of the whole batch, which gives the whole batch's mean loss.
      const l = multiboxLoss(
        { locPred, logits },
        { locTargets: batch.locTargets! as tf.Tensor3D, labels: batch.labels! as tf.Tensor2D },
        { reduction: 'sum' },
      );
      return {
        loss: l.total,
        normalizer: l.numPositives,
        metrics: { localization: l.localization, confidence: l.confidence },
      };
    },
  };
}

/** Whether every value is finite (x·0 is NaN for ±∞ and NaN, else ±0). */
function allFinite(values: Float32Array): boolean {
  let probe = 0;
  for (let i = 0; i < values.length; i++) probe += values[i]! * 0;
  return probe === 0;
}
