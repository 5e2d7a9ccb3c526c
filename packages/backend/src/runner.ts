/**
 * One replica and its message handler: used by the worker thread (`worker.ts`)
 * and, for `workers: 0`, in the calling thread.
 */
import * as tf from '@tensorflow/tfjs-core';
import type {
  FromWorker,
  NamedWeight,
  ToWorker,
  TrainingBatch,
  VariableSpec,
  WorkerInit,
} from './protocol';
import type { CreateReplica, Replica } from './replica';
import { selectBackend, type BackendPreference } from './select-backend';
import { enableWasmThreads, wasmThreadsInUse } from './wasm-threads';

/** A reply and the buffers it may transfer. */
export interface Reply {
  message: FromWorker;
  transfer: ArrayBuffer[];
}

function specs(variables: tf.Variable[]): VariableSpec[] {
  return variables.map((v) => ({ name: v.name, shape: v.shape.slice(), size: v.size }));
}

function toTensors(batch: TrainingBatch): Record<string, tf.Tensor> {
  const out: Record<string, tf.Tensor> = {};
  for (const [name, { data, shape, dtype }] of Object.entries(batch)) {
    // tfjs converts an array of another type into the dtype's once (8-bit pixels
    // straight to float32), and takes a matching one as it is.
    out[name] = tf.tensor(
      data,
      shape,
      dtype ?? (data instanceof Float32Array ? 'float32' : 'int32'),
    );
  }
  return out;
}

async function scalarValue(t: number | tf.Tensor): Promise<number> {
  return typeof t === 'number' ? t : ((await t.data())[0] as number);
}

function setLearningRate(optimizer: tf.Optimizer, learningRate: number): void {
  const o = optimizer as tf.Optimizer & {
    setLearningRate?: (lr: number) => void;
    learningRate?: number;
  };
  if (typeof o.setLearningRate === 'function') o.setLearningRate(learningRate);
  else o.learningRate = learningRate;
}

/**
 * Builds the replica (selecting `init.backend` first unless it is `current`)
 * and returns its `ready` message and the handler of every later message.
 */
export async function createReplicaRunner(init: WorkerInit): Promise<{
  ready: FromWorker;
  handle: (message: ToWorker) => Promise<Reply>;
  dispose: () => void;
}> {
  if (init.backend === 'wasm' && (init.wasmThreads ?? 1) > 1) {
    await enableWasmThreads(init.wasmThreads);
  }
  const backend =
    init.backend === 'current'
      ? tf.getBackend()
      : (await selectBackend({ prefer: init.backend as BackendPreference })).backend;
  const threads = backend === 'wasm' ? await wasmThreadsInUse() : 1;
  const mod = (await import(/* @vite-ignore */ init.moduleUrl)) as {
    createReplica?: CreateReplica;
  };
  if (typeof mod.createReplica !== 'function') {
    throw new Error(`${init.moduleUrl} does not export a createReplica(options, context) function`);
  }
  const replica: Replica = await mod.createReplica(init.replicaOptions, {
    workerIndex: init.workerIndex,
    numWorkers: init.numWorkers,
    backend,
  });
  const trainable = replica.variables ?? replica.model?.trainableWeights.map((w) => w.read()) ?? [];
  const all = replica.model?.weights.map((w) => w.read()) ?? trainable;
  if (trainable.length === 0) {
    throw new Error('createReplica returned neither `model` nor a non-empty `variables` list');
  }
  const offsets: number[] = [];
  let total = 0;
  for (const v of trainable) {
    offsets.push(total);
    total += v.size;
  }

  let gradientSlot: Float32Array | null = null;
  let average: Float32Array | null = null;

  const apply = (learningRate: number | undefined) => {
    if (average == null) throw new Error('apply before buffers');
    if (replica.applyFlatGradients != null) {
      replica.applyFlatGradients(average, learningRate);
      return;
    }
    if (learningRate != null) setLearningRate(replica.optimizer, learningRate);
    const avg = average;
    tf.tidy(() => {
      const grads: tf.NamedTensorMap = {};
      trainable.forEach((v, i) => {
        const start = offsets[i] as number;
        grads[v.name] = tf.tensor(avg.slice(start, start + v.size), v.shape, 'float32');
      });
      replica.optimizer.applyGradients(grads);
    });
  };

  const step = async (batch: TrainingBatch): Promise<FromWorker> => {
    if (gradientSlot == null) throw new Error('step before buffers');
    let normalizer: number | tf.Scalar | null = null;
    let kept: tf.Scalar[] = [];
    let metricTensors: Record<string, tf.Scalar> = {};
    const inputs = toTensors(batch);
    const { value, grads } = tf.variableGrads(() => {
      const out = replica.loss(inputs);
      if (out instanceof tf.Tensor) return out as tf.Scalar;
      if (out.normalizer != null) {
        normalizer = typeof out.normalizer === 'number' ? out.normalizer : tf.keep(out.normalizer);
      }
      metricTensors = out.metrics ?? {};
      kept = Object.values(metricTensors).map((t) => tf.keep(t));
      if (typeof normalizer !== 'number' && normalizer != null) kept.push(normalizer);
      return out.loss;
    }, trainable);
    const slot = gradientSlot;
    for (let i = 0; i < trainable.length; i++) {
      const v = trainable[i] as tf.Variable;
      const g = grads[v.name];
      const start = offsets[i] as number;
      if (g == null) slot.fill(0, start, start + v.size);
      else slot.set((await g.data()) as Float32Array, start);
    }
    const metrics: Record<string, number> = {};
    for (const [name, t] of Object.entries(metricTensors)) metrics[name] = await scalarValue(t);
    const message: FromWorker = {
      type: 'stepped',
      loss: await scalarValue(value),
      normalizer: normalizer == null ? null : await scalarValue(normalizer),
      metrics,
    };
    tf.dispose([value, ...Object.values(grads), ...kept, ...Object.values(inputs)]);
    return message;
  };

  const weights = async (): Promise<NamedWeight[]> =>
    Promise.all(
      all.map(async (v) => ({
        name: v.name,
        shape: v.shape.slice(),
        data: (await v.data()) as Float32Array,
      })),
    );

  const done: Reply = { message: { type: 'done' }, transfer: [] };
  const handle = async (message: ToWorker): Promise<Reply> => {
    switch (message.type) {
      case 'buffers':
        gradientSlot = new Float32Array(message.gradients, init.workerIndex * total * 4, total);
        average = new Float32Array(message.average, 0, total);
        return done;
      case 'step':
        if (message.apply) apply(message.learningRate);
        return message.batch == null ? done : { message: await step(message.batch), transfer: [] };
      case 'apply':
        apply(message.learningRate);
        return done;
      case 'getWeights': {
        const list = await weights();
        return {
          message: { type: 'weights', weights: list },
          transfer: list.map((w) => w.data.buffer as ArrayBuffer),
        };
      }
      case 'setWeights':
        if (message.weights.length !== all.length) {
          throw new Error(
            `setWeights: expected ${all.length} weights, got ${message.weights.length}`,
          );
        }
        message.weights.forEach((w, i) => {
          const v = all[i] as tf.Variable;
          if (w.shape.join() !== v.shape.join()) {
            throw new Error(
              `setWeights: weight ${i} (${v.name}) has shape [${v.shape}], got [${w.shape}]`,
            );
          }
          tf.tidy(() => v.assign(tf.tensor(w.data, v.shape, 'float32')));
        });
        return done;
    }
  };

  return {
    ready: { type: 'ready', trainable: specs(trainable), all: specs(all), backend, threads },
    handle,
    dispose: () => {
      replica.optimizer.dispose();
      // tfjs's MomentumOptimizer.dispose forgets SGD's learning-rate scalar `c`.
      (replica.optimizer as { c?: tf.Tensor }).c?.dispose();
      const model = replica.model as { dispose?: () => unknown } | undefined;
      if (typeof model?.dispose === 'function') model.dispose();
      else tf.dispose(trainable);
    },
  };
}
