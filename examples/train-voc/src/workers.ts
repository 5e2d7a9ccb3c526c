import { createDataParallelTrainer, type DataParallelTrainer } from '@ssd/backend/node';
import * as tf from '@tensorflow/tfjs-core';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { BackendChoice } from './backend';
import type { RunConfig } from './config';
import type { Network } from './network';
import type { Optimizer } from './optimizer';
import type { GradientEngine } from './trainer';

/**
 * Data-parallel training on worker threads (`@ssd/backend`): each worker holds a
 * replica (dist/replica.js) and computes the gradient of its slice of the batch;
 * the averaged gradient is applied by every replica's optimizer. The main thread's
 * network and optimizer are synchronised from worker 0 before a checkpoint or an
 * evaluation (`pull`) and pushed to the workers after a resume (`push`).
 */
export interface WorkerEngine extends GradientEngine {
  readonly appliesUpdates: true;
  pull(): Promise<void>;
  push(): Promise<void>;
}

export async function createWorkerEngine(options: {
  config: RunConfig;
  classes: readonly string[];
  backend: BackendChoice;
  net: Network;
  optimizer: Optimizer;
}): Promise<WorkerEngine> {
  const { config, net, optimizer } = options;
  // Beside this module in dist/; from the TypeScript sources (tests) the built copy.
  let replicaModule = fileURLToPath(new URL('./replica.js', import.meta.url));
  if (!existsSync(replicaModule)) {
    replicaModule = fileURLToPath(new URL('../dist/replica.js', import.meta.url));
  }
  const trainer: DataParallelTrainer = await createDataParallelTrainer({
    replicaModule,
    replicaOptions: { config, numClasses: options.classes.length + 1 },
    workers: options.backend.workers,
    backend: options.backend.name === 'cpu' ? 'cpu' : 'wasm',
  });
  const modelCount = net.weights.length;
  const engine: WorkerEngine = {
    appliesUpdates: true,
    async compute(batch, learningRate) {
      const { batchSize: b, height, width } = batch;
      const result = await trainer.step(
        {
          // 8-bit pixels travel as they are and become float32 once, in the worker.
          images: { data: batch.images, shape: [b, height, width, 3], dtype: 'float32' },
          locTargets: { data: batch.locTargets, shape: [batch.batchSize, batch.numAnchors, 4] },
          labels: { data: batch.labels, shape: [batch.batchSize, batch.numAnchors] },
        },
        learningRate === undefined ? {} : { learningRate },
      );
      return {
        loss: {
          total: result.loss,
          localization: result.metrics.localization ?? NaN,
          confidence: result.metrics.confidence ?? NaN,
        },
        grads: [],
      };
    },
    async pull() {
      const weights = await trainer.getWeights();
      tf.tidy(() => {
        net.weights.forEach((w, i) => {
          const src = weights[i]!;
          w.variable.assign(tf.tensor(src.data, w.variable.shape, 'float32'));
        });
      });
      // The replicas expose the optimizer's flat slot buffers after the model's weights.
      tf.tidy(() => {
        optimizer.slotVariables().forEach((v, k) => {
          v.assign(tf.tensor(weights[modelCount + k]!.data, v.shape, 'float32'));
        });
      });
      optimizer.updates = weights[weights.length - 1]!.data[0]!;
    },
    async push() {
      const slots = await Promise.all(
        optimizer.slotVariables().map(async (v) => (await v.data()) as Float32Array),
      );
      const model = await Promise.all(
        net.weights.map(async (w) => ({
          name: w.name,
          shape: [...w.variable.shape],
          data: (await w.variable.data()) as Float32Array,
        })),
      );
      const current = await trainer.getWeights();
      await trainer.setWeights([
        ...model.map((m, i) => ({ ...current[i]!, data: m.data })),
        ...slots.map((data, k) => ({ ...current[modelCount + k]!, data })),
        { ...current[current.length - 1]!, data: Float32Array.of(optimizer.updates) },
      ]);
    },
    async dispose() {
      await trainer.dispose();
    },
  };
  return engine;
}
