import * as tf from '@tensorflow/tfjs-core';

/** One trainable tensor and whether weight decay applies to it. */
export interface TrainableParam {
  readonly name: string;
  readonly variable: tf.Variable;
  /** Weight decay applies to weights (conv kernels), not to biases or the L2Norm scale. */
  readonly decay: boolean;
}

/** Serialised optimizer state: slot tensors in a fixed order, plus scalars. */
export interface OptimizerState {
  readonly kind: OptimizerKind;
  /** Number of updates applied so far. */
  readonly updates: number;
  /** One entry per slot, named `<param>/<slot>`. */
  readonly slots: { name: string; shape: number[]; values: Float32Array }[];
}

export type OptimizerKind = 'sgd' | 'adam';

export interface SgdOptions {
  /** Momentum μ (the paper: 0.9). */
  momentum: number;
  /** L2 weight decay λ on weights only (the paper: 5e-4). */
  weightDecay: number;
}

export interface AdamOptions {
  beta1: number;
  beta2: number;
  epsilon: number;
  /** L2 weight decay on weights only, added to the gradient (as `torch.optim.Adam`). */
  weightDecay: number;
}

export class OptimizerStateError extends Error {
  override readonly name = 'OptimizerStateError';
}

/** A first-order optimizer whose state can be saved and restored bit for bit. */
export interface Optimizer {
  readonly kind: OptimizerKind;
  /** Applies `grads` (one per param, in param order) at learning rate `lr`. Does not dispose `grads`. */
  apply(grads: readonly tf.Tensor[], lr: number): void;
  getState(): Promise<OptimizerState>;
  setState(state: OptimizerState): void;
  dispose(): void;
}

/** Marks conv kernels (rank ≥ 2) for weight decay; biases and per-channel scales are exempt. */
export function paramsFromVariables(variables: readonly tf.Variable[]): TrainableParam[] {
  return variables.map((variable) => ({
    name: variable.name,
    variable,
    decay: variable.shape.length >= 2,
  }));
}

function zerosLike(param: TrainableParam, slot: string): tf.Variable {
  // tidy frees the zeros the variable was copied from (variables survive tidy).
  return tf.tidy(() =>
    tf.variable(tf.zeros(param.variable.shape), false, `${param.name}/${slot}/${uid()}`),
  );
}

let counter = 0;
function uid(): number {
  return counter++;
}

abstract class SlotOptimizer implements Optimizer {
  abstract readonly kind: OptimizerKind;
  /** Updates applied so far (Adam's bias correction uses it). */
  updates = 0;
  protected readonly slots: tf.Variable[][];

  constructor(
    protected readonly params: readonly TrainableParam[],
    protected readonly slotNames: readonly string[],
  ) {
    this.slots = slotNames.map((slot) => params.map((p) => zerosLike(p, slot)));
  }

  abstract apply(grads: readonly tf.Tensor[], lr: number): void;

  protected check(grads: readonly tf.Tensor[]): void {
    if (grads.length !== this.params.length) {
      throw new OptimizerStateError(
        `expected ${this.params.length} gradients (one per parameter), got ${grads.length}`,
      );
    }
  }

  async getState(): Promise<OptimizerState> {
    const slots: OptimizerState['slots'] = [];
    for (let s = 0; s < this.slotNames.length; s++) {
      for (let i = 0; i < this.params.length; i++) {
        const v = this.slots[s]![i]!;
        slots.push({
          name: `${this.params[i]!.name}/${this.slotNames[s]}`,
          shape: [...v.shape],
          values: (await v.data()) as Float32Array,
        });
      }
    }
    return { kind: this.kind, updates: this.updates, slots };
  }

  setState(state: OptimizerState): void {
    if (state.kind !== this.kind) {
      throw new OptimizerStateError(
        `checkpoint holds a '${state.kind}' optimizer but this run uses '${this.kind}'`,
      );
    }
    const expected = this.slotNames.length * this.params.length;
    if (state.slots.length !== expected) {
      throw new OptimizerStateError(`expected ${expected} slot tensors, got ${state.slots.length}`);
    }
    let k = 0;
    for (let s = 0; s < this.slotNames.length; s++) {
      for (let i = 0; i < this.params.length; i++) {
        const slot = state.slots[k++]!;
        const v = this.slots[s]![i]!;
        if (slot.shape.join(',') !== v.shape.join(',')) {
          throw new OptimizerStateError(
            `slot ${slot.name}: shape [${slot.shape}] does not match parameter shape [${v.shape}]`,
          );
        }
        tf.tidy(() => v.assign(tf.tensor(slot.values, v.shape, 'float32')));
      }
    }
    this.updates = state.updates;
  }

  dispose(): void {
    for (const group of this.slots) for (const v of group) v.dispose();
  }
}

/**
 * SGD with momentum as in PyTorch (and the paper's Caffe solver up to where
 * the learning rate enters): v ← μ·v + (g + λ·w·[decay]); w ← w − lr·v.
 */
export class SgdMomentum extends SlotOptimizer {
  readonly kind = 'sgd' as const;

  constructor(
    params: readonly TrainableParam[],
    private readonly options: SgdOptions,
  ) {
    super(params, ['momentum']);
  }

  apply(grads: readonly tf.Tensor[], lr: number): void {
    this.check(grads);
    const { momentum, weightDecay } = this.options;
    tf.tidy(() => {
      this.params.forEach((p, i) => {
        const v = this.slots[0]![i]!;
        let g = grads[i]!;
        if (p.decay && weightDecay > 0) g = tf.add(g, tf.mul(p.variable, weightDecay));
        const next = tf.add(tf.mul(v, momentum), g);
        v.assign(next);
        p.variable.assign(tf.sub(p.variable, tf.mul(next, lr)));
      });
    });
    this.updates++;
  }
}

/** Adam (Kingma & Ba) with bias correction and L2 weight decay on weights only. */
export class Adam extends SlotOptimizer {
  readonly kind = 'adam' as const;

  constructor(
    params: readonly TrainableParam[],
    private readonly options: AdamOptions,
  ) {
    super(params, ['m', 'v']);
  }

  apply(grads: readonly tf.Tensor[], lr: number): void {
    this.check(grads);
    const { beta1, beta2, epsilon, weightDecay } = this.options;
    const t = this.updates + 1;
    const stepSize = (lr * Math.sqrt(1 - beta2 ** t)) / (1 - beta1 ** t);
    tf.tidy(() => {
      this.params.forEach((p, i) => {
        const m = this.slots[0]![i]!;
        const v = this.slots[1]![i]!;
        let g = grads[i]!;
        if (p.decay && weightDecay > 0) g = tf.add(g, tf.mul(p.variable, weightDecay));
        const mNext = tf.add(tf.mul(m, beta1), tf.mul(g, 1 - beta1));
        const vNext = tf.add(tf.mul(v, beta2), tf.mul(tf.square(g), 1 - beta2));
        m.assign(mNext);
        v.assign(vNext);
        const update = tf.div(tf.mul(mNext, stepSize), tf.add(tf.sqrt(vNext), epsilon));
        p.variable.assign(tf.sub(p.variable, update));
      });
    });
    this.updates = t;
  }
}

export function createOptimizer(
  kind: OptimizerKind,
  params: readonly TrainableParam[],
  options: { momentum: number; weightDecay: number },
): Optimizer {
  if (kind === 'sgd') return new SgdMomentum(params, options);
  return new Adam(params, {
    beta1: 0.9,
    beta2: 0.999,
    epsilon: 1e-8,
    weightDecay: options.weightDecay,
  });
}
