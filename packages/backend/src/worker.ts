/**
 * Worker-thread side of the data-parallel trainer: builds one replica, computes
 * gradients on its slice of each batch into its slot of a shared buffer, and
 * applies the averaged gradients the main thread leaves in another.
 */
import * as tf from '@tensorflow/tfjs-core';
import { parentPort, workerData } from 'node:worker_threads';
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

const port = parentPort;
if (port == null) throw new Error('@ssd/backend worker: must run in a worker thread');
const init = workerData as WorkerInit;

function send(message: FromWorker): void {
  port!.postMessage(message);
}

function specs(variables: tf.Variable[]): VariableSpec[] {
  return variables.map((v) => ({ name: v.name, shape: v.shape.slice(), size: v.size }));
}

function toTensors(batch: TrainingBatch): Record<string, tf.Tensor> {
  const out: Record<string, tf.Tensor> = {};
  for (const [name, { data, shape }] of Object.entries(batch)) {
    out[name] =
      data instanceof Float32Array
        ? tf.tensor(data, shape, 'float32')
        : tf.tensor(data instanceof Int32Array ? data : Int32Array.from(data), shape, 'int32');
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

async function main(): Promise<void> {
  const selection = await selectBackend({ prefer: init.backend as BackendPreference });
  const mod = (await import(/* @vite-ignore */ init.moduleUrl)) as {
    createReplica?: CreateReplica;
  };
  if (typeof mod.createReplica !== 'function') {
    throw new Error(`${init.moduleUrl} does not export a createReplica(options, context) function`);
  }
  const replica: Replica = await mod.createReplica(init.replicaOptions, {
    workerIndex: init.workerIndex,
    numWorkers: init.numWorkers,
    backend: selection.backend,
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

  const step = async (batch: TrainingBatch) => {
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
    send(message);
  };

  const weights = async (): Promise<NamedWeight[]> =>
    Promise.all(
      all.map(async (v) => ({
        name: v.name,
        shape: v.shape.slice(),
        data: (await v.data()) as Float32Array,
      })),
    );

  port!.on('message', (message: ToWorker) => {
    void (async () => {
      try {
        switch (message.type) {
          case 'buffers':
            gradientSlot = new Float32Array(message.gradients, init.workerIndex * total * 4, total);
            average = new Float32Array(message.average, 0, total);
            send({ type: 'done' });
            break;
          case 'step':
            if (message.apply) apply(message.learningRate);
            if (message.batch == null) send({ type: 'done' });
            else await step(message.batch);
            break;
          case 'apply':
            apply(message.learningRate);
            send({ type: 'done' });
            break;
          case 'getWeights': {
            const list = await weights();
            port!.postMessage(
              { type: 'weights', weights: list } satisfies FromWorker,
              list.map((w) => w.data.buffer as ArrayBuffer),
            );
            break;
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
            send({ type: 'done' });
            break;
        }
      } catch (error) {
        const e = error as Error;
        send({ type: 'error', message: e?.message ?? String(error), stack: e?.stack });
      }
    })();
  });

  send({
    type: 'ready',
    trainable: specs(trainable),
    all: specs(all),
    backend: selection.backend,
  });
}

main().catch((error: unknown) => {
  const e = error as Error;
  send({ type: 'error', message: e?.message ?? String(error), stack: e?.stack });
});
