import * as tf from '@tensorflow/tfjs-core';
import { firstNonFinite, type CheckpointData, type CheckpointTensor } from './checkpoint';
import type { Optimizer, OptimizerKind } from './optimizer';

/** A model's weights as named variables (a tfjs-layers model: `model.weights.map(w => w.read())`). */
export interface NamedWeight {
  readonly name: string;
  readonly variable: tf.Variable;
}

export class StateMismatchError extends Error {
  override readonly name = 'StateMismatchError';
}

export interface SavedTrainingState<Extra> {
  optimizer: { kind: OptimizerKind; updates: number };
  extra: Extra;
}

/** Everything a checkpoint needs; refuses a state with a non-finite weight. */
export async function captureTrainingState<Extra>(
  weights: readonly NamedWeight[],
  optimizer: Optimizer,
  iteration: number,
  extra: Extra,
): Promise<CheckpointData<SavedTrainingState<Extra>>> {
  const model: CheckpointTensor[] = [];
  for (const w of weights) {
    const values = (await w.variable.data()) as Float32Array;
    if (firstNonFinite(values) >= 0) {
      throw new StateMismatchError(
        `weight ${w.name} holds a non-finite value at iteration ${iteration}: not writing a checkpoint`,
      );
    }
    model.push({ name: w.name, shape: [...w.variable.shape], values });
  }
  const o = await optimizer.getState();
  return {
    iteration,
    model,
    optimizer: o.slots.map((s) => ({ name: s.name, shape: s.shape, values: s.values })),
    state: { optimizer: { kind: o.kind, updates: o.updates }, extra },
  };
}

/** Loads weights (by position, checking names' shapes) and, when given, the optimizer state. */
export function restoreWeights(
  weights: readonly NamedWeight[],
  saved: readonly CheckpointTensor[],
): void {
  if (saved.length !== weights.length) {
    throw new StateMismatchError(
      `checkpoint has ${saved.length} weight tensors, the model has ${weights.length}: built with different settings?`,
    );
  }
  weights.forEach((w, i) => {
    const s = saved[i]!;
    if (s.shape.join(',') !== w.variable.shape.join(',')) {
      throw new StateMismatchError(
        `weight ${i} (${w.name}): checkpoint has ${s.name} [${s.shape}], model wants [${w.variable.shape}]`,
      );
    }
    tf.tidy(() => w.variable.assign(tf.tensor(s.values, w.variable.shape, 'float32')));
  });
}

export function restoreOptimizer<Extra>(
  optimizer: Optimizer,
  data: CheckpointData<SavedTrainingState<Extra>>,
): void {
  optimizer.setState({
    kind: data.state.optimizer.kind,
    updates: data.state.optimizer.updates,
    slots: data.optimizer.map((t) => ({ name: t.name, shape: [...t.shape], values: t.values })),
  });
}
