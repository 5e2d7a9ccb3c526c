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
  /** Updates applied so far (Adam's bias correction counts them). */
  updates: number;
  /** Applies `grads` (one per param, in param order) at learning rate `lr`. Does not dispose `grads`. */
  apply(grads: readonly tf.Tensor[], lr: number): void;
  /**
   * Applies one flat gradient at learning rate `lr`.
   * @param gradient `[numParameters]`: every param's gradient end to end, in param
   *   order (the data-parallel trainer's averaged gradient); not kept.
   */
  applyFlat(gradient: Float32Array, lr: number): void;
  /**
   * The slot buffers, one flat variable per slot and parameter group (weights
   * with decay, then those without), in a fixed order: what a worker replica
   * exposes so that the trainer can copy them between threads.
   */
  slotVariables(): readonly tf.Variable[];
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

let counter = 0;
function uid(): number {
  return counter++;
}

/**
 * One update rule for every parameter of a group, applied to the group as one
 * flat vector: a handful of tensor ops per step instead of a dozen per
 * parameter. Every element sees the same float32 operations in the same order
 * as a per-parameter update would apply (the rules are elementwise), so the
 * weights are bit-identical to updating each parameter on its own.
 */
class ParamGroup {
  /** Indices into the optimizer's parameter list, in order. */
  readonly indices: number[];
  /** Element count of each member. */
  readonly sizes: number[];
  /** Element count of the group. */
  readonly size: number;

  constructor(
    readonly params: readonly TrainableParam[],
    readonly decay: boolean,
  ) {
    this.indices = params.flatMap((p, i) => (p.decay === decay ? [i] : []));
    this.sizes = this.indices.map((i) => params[i]!.variable.size);
    this.size = this.sizes.reduce((a, n) => a + n, 0);
  }

  /** The members' tensors (one per parameter, any shape) end to end: `[size]`. */
  concat(tensors: readonly tf.Tensor[]): tf.Tensor1D {
    const parts = this.indices.map((i) => tf.reshape(tensors[i]!, [-1]));
    return (parts.length === 1 ? parts[0]! : tf.concat(parts)) as tf.Tensor1D;
  }

  /** The members' values: the group's elements of `all` (every parameter's, end to end). */
  gather(all: Float32Array, offsets: readonly number[]): tf.Tensor1D {
    const out = new Float32Array(this.size);
    let at = 0;
    this.indices.forEach((i, k) => {
      const n = this.sizes[k]!;
      out.set(all.subarray(offsets[i]!, offsets[i]! + n), at);
      at += n;
    });
    return tf.tensor1d(out, 'float32');
  }

  /** Assigns `[size]` values to the member variables. */
  assign(values: tf.Tensor1D): void {
    const parts = this.indices.length === 1 ? [values] : tf.split(values, this.sizes);
    this.indices.forEach((i, k) => {
      const v = this.params[i]!.variable;
      v.assign(tf.reshape(parts[k]!, v.shape));
    });
  }

  /** The members' weights end to end: `[size]`. */
  weights(): tf.Tensor1D {
    return this.concat(this.params.map((p) => p.variable));
  }
}

abstract class SlotOptimizer implements Optimizer {
  abstract readonly kind: OptimizerKind;
  updates = 0;
  /** Parameters with weight decay, then those without (empty groups left out). */
  protected readonly groups: ParamGroup[];
  /** `slots[slot][group]`: `[group.size]`. */
  protected readonly slots: tf.Variable[][];
  /** Where each param starts in a flat gradient (param order). */
  private readonly offsets: number[];
  private readonly numParameters: number;

  constructor(
    protected readonly params: readonly TrainableParam[],
    protected readonly slotNames: readonly string[],
  ) {
    this.groups = [new ParamGroup(params, true), new ParamGroup(params, false)].filter(
      (g) => g.size > 0,
    );
    this.slots = slotNames.map((slot) =>
      this.groups.map((g) =>
        // tidy frees the zeros the variable was copied from (variables survive tidy).
        tf.tidy(() =>
          tf.variable(tf.zeros([g.size]), false, `${slot}/${g.decay ? 'decay' : 'other'}/${uid()}`),
        ),
      ),
    );
    this.offsets = [];
    let total = 0;
    for (const p of params) {
      this.offsets.push(total);
      total += p.variable.size;
    }
    this.numParameters = total;
  }

  /** Updates every group from its `[group.size]` gradient (inside a tidy). */
  protected abstract update(grads: readonly tf.Tensor1D[], lr: number): void;

  apply(grads: readonly tf.Tensor[], lr: number): void {
    if (grads.length !== this.params.length) {
      throw new OptimizerStateError(
        `expected ${this.params.length} gradients (one per parameter), got ${grads.length}`,
      );
    }
    tf.tidy(() =>
      this.update(
        this.groups.map((g) => g.concat(grads)),
        lr,
      ),
    );
  }

  applyFlat(gradient: Float32Array, lr: number): void {
    if (gradient.length !== this.numParameters) {
      throw new OptimizerStateError(
        `expected a flat gradient of ${this.numParameters} values, got ${gradient.length}`,
      );
    }
    tf.tidy(() =>
      this.update(
        this.groups.map((g) => g.gather(gradient, this.offsets)),
        lr,
      ),
    );
  }

  slotVariables(): readonly tf.Variable[] {
    return this.slots.flat();
  }

  /** For each param: its group and where it starts in the group. */
  private locate(): { group: number; at: number }[] {
    const where: { group: number; at: number }[] = [];
    this.groups.forEach((g, k) => {
      let at = 0;
      g.indices.forEach((i, j) => {
        where[i] = { group: k, at };
        at += g.sizes[j]!;
      });
    });
    return where;
  }

  async getState(): Promise<OptimizerState> {
    const where = this.locate();
    const slots: OptimizerState['slots'] = [];
    for (let s = 0; s < this.slotNames.length; s++) {
      const flat = await Promise.all(this.slots[s]!.map((v) => v.data() as Promise<Float32Array>));
      this.params.forEach((p, i) => {
        const { group, at } = where[i]!;
        slots.push({
          name: `${p.name}/${this.slotNames[s]}`,
          shape: [...p.variable.shape],
          values: flat[group]!.slice(at, at + p.variable.size),
        });
      });
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
    const where = this.locate();
    const flat = this.slotNames.map(() => this.groups.map((g) => new Float32Array(g.size)));
    let k = 0;
    for (let s = 0; s < this.slotNames.length; s++) {
      this.params.forEach((p, i) => {
        const slot = state.slots[k++]!;
        const shape = p.variable.shape;
        if (slot.shape.join(',') !== shape.join(',')) {
          throw new OptimizerStateError(
            `slot ${slot.name}: shape [${slot.shape}] does not match parameter shape [${shape}]`,
          );
        }
        const { group, at } = where[i]!;
        flat[s]![group]!.set(slot.values, at);
      });
    }
    tf.tidy(() =>
      this.slots.forEach((group, s) =>
        group.forEach((v, g) => v.assign(tf.tensor1d(flat[s]![g]!, 'float32'))),
      ),
    );
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

  protected update(grads: readonly tf.Tensor1D[], lr: number): void {
    const { momentum, weightDecay } = this.options;
    this.groups.forEach((group, k) => {
      const v = this.slots[0]![k]!;
      const w = group.weights();
      let g: tf.Tensor = grads[k]!;
      if (group.decay && weightDecay > 0) g = tf.add(g, tf.mul(w, weightDecay));
      const next = tf.add(tf.mul(v, momentum), g);
      v.assign(next);
      group.assign(tf.sub(w, tf.mul(next, lr)));
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

  protected update(grads: readonly tf.Tensor1D[], lr: number): void {
    const { beta1, beta2, epsilon, weightDecay } = this.options;
    const t = this.updates + 1;
    const stepSize = (lr * Math.sqrt(1 - beta2 ** t)) / (1 - beta1 ** t);
    this.groups.forEach((group, k) => {
      const m = this.slots[0]![k]!;
      const v = this.slots[1]![k]!;
      const w = group.weights();
      let g: tf.Tensor = grads[k]!;
      if (group.decay && weightDecay > 0) g = tf.add(g, tf.mul(w, weightDecay));
      const mNext = tf.add(tf.mul(m, beta1), tf.mul(g, 1 - beta1));
      const vNext = tf.add(tf.mul(v, beta2), tf.mul(tf.square(g), 1 - beta2));
      m.assign(mNext);
      v.assign(vNext);
      const update = tf.div(tf.mul(mNext, stepSize), tf.add(tf.sqrt(vNext), epsilon));
      group.assign(tf.sub(w, update));
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
