import * as tf from '@tensorflow/tfjs-core';
import { expectArrayClose, expectNoTensorLeak } from '@ssd/testing';
import { describe, expect, it } from 'vitest';
import {
  Adam,
  OptimizerStateError,
  SgdMomentum,
  paramsFromVariables,
  type TrainableParam,
} from './optimizer';

let serial = 0;
const uniq = (p: string): string => `${p}${serial++}`;

function setup() {
  const kernel = tf.variable(tf.tensor2d([[1, -2]]), true, uniq('k'));
  const bias = tf.variable(tf.tensor1d([0.5]), true, uniq('b'));
  return { kernel, bias, params: paramsFromVariables([kernel, bias]) };
}

describe('SgdMomentum', () => {
  it('decays weights only and follows v ← μv + g + λw, w ← w − lr·v', async () => {
    const { kernel, bias, params } = setup();
    expect(params.map((p) => p.decay)).toEqual([true, false]);
    const opt = new SgdMomentum(params, { momentum: 0.9, weightDecay: 0.1 });
    const gk = tf.tensor2d([[1, 1]]);
    const gb = tf.tensor1d([2]);
    opt.apply([gk, gb], 0.5);
    // v_k = [1 + 0.1, 1 − 0.2] = [1.1, 0.8]; w_k = [1 − 0.55, −2 − 0.4]
    expectArrayClose(await kernel.data(), [0.45, -2.4], { atol: 1e-6 });
    // bias: no decay: v = 2, w = 0.5 − 1
    expectArrayClose(await bias.data(), [-0.5], { atol: 1e-6 });
    opt.apply([gk, gb], 0.5);
    // v_k = 0.9·[1.1, 0.8] + [1 + 0.045, 1 − 0.24] = [2.035, 1.48]
    expectArrayClose(await kernel.data(), [0.45 - 1.0175, -2.4 - 0.74], { atol: 1e-6 });
    // v_b = 0.9·2 + 2 = 3.8
    expectArrayClose(await bias.data(), [-0.5 - 1.9], { atol: 1e-6 });
    tf.dispose([gk, gb, kernel, bias]);
    opt.dispose();
  });

  it('saves and restores its momentum exactly', async () => {
    const run = async (restoreAt: number | null) => {
      const { kernel, bias, params } = setup();
      const opt = new SgdMomentum(params, { momentum: 0.9, weightDecay: 5e-4 });
      let saved: Awaited<ReturnType<typeof opt.getState>> | null = null;
      let savedW: Float32Array[] = [];
      for (let i = 0; i < 6; i++) {
        if (i === restoreAt) {
          saved = await opt.getState();
          savedW = [(await kernel.data()) as Float32Array, (await bias.data()) as Float32Array];
        }
        const g = [tf.mul(kernel, 0.3 + i), tf.sub(bias, 1)];
        opt.apply(g, 0.01);
        tf.dispose(g);
      }
      const out = [await kernel.data(), await bias.data()];
      tf.dispose([kernel, bias]);
      opt.dispose();
      return { out, saved, savedW };
    };
    const straight = await run(3);
    // A fresh optimizer restored from step 3 reaches the same weights.
    const { kernel, bias, params } = setup();
    kernel.assign(tf.tensor2d(straight.savedW[0]!, [1, 2]));
    bias.assign(tf.tensor1d(straight.savedW[1]!));
    const opt = new SgdMomentum(params, { momentum: 0.9, weightDecay: 5e-4 });
    opt.setState(straight.saved!);
    for (let i = 3; i < 6; i++) {
      const g = [tf.mul(kernel, 0.3 + i), tf.sub(bias, 1)];
      opt.apply(g, 0.01);
      tf.dispose(g);
    }
    expect(Array.from(await kernel.data())).toEqual(Array.from(straight.out[0]!));
    expect(Array.from(await bias.data())).toEqual(Array.from(straight.out[1]!));
    expect(() => opt.setState({ ...straight.saved!, kind: 'adam' })).toThrow(OptimizerStateError);
    tf.dispose([kernel, bias]);
    opt.dispose();
  });

  it('does not leak tensors per step', async () => {
    const { kernel, bias, params } = setup();
    const opt = new SgdMomentum(params, { momentum: 0.9, weightDecay: 5e-4 });
    const g = [tf.onesLike(kernel), tf.onesLike(bias)];
    opt.apply(g, 0.1);
    await expectNoTensorLeak(() => {
      for (let i = 0; i < 20; i++) opt.apply(g, 0.1);
    });
    tf.dispose([...g, kernel, bias]);
    opt.dispose();
  });
});

describe('Adam', () => {
  it('matches the bias-corrected Adam update on a scalar', async () => {
    const w = tf.variable(tf.tensor2d([[1]]), true, uniq('a'));
    const opt = new Adam(paramsFromVariables([w]), {
      beta1: 0.9,
      beta2: 0.999,
      epsilon: 1e-8,
      weightDecay: 0,
    });
    let m = 0;
    let v = 0;
    let ref = 1;
    for (let t = 1; t <= 3; t++) {
      const g = 2 * t;
      m = 0.9 * m + 0.1 * g;
      v = 0.999 * v + 0.001 * g * g;
      const step = (0.01 * Math.sqrt(1 - 0.999 ** t)) / (1 - 0.9 ** t);
      ref -= (step * m) / (Math.sqrt(v) + 1e-8);
      const gt = tf.tensor2d([[g]]);
      opt.apply([gt], 0.01);
      gt.dispose();
    }
    expectArrayClose(await w.data(), [ref], { atol: 1e-6 });
    const state = await opt.getState();
    expect(state.updates).toBe(3);
    expect(state.slots.map((s) => s.name.split('/').pop())).toEqual(['m', 'v']);
    w.dispose();
    opt.dispose();
  });
});

describe('flat parameter groups', () => {
  /** Kernels (decay) and biases (none) interleaved, as a network lists them. */
  function network() {
    const vars = [
      tf.variable(tf.randomNormal([3, 3, 2, 4], 0, 1, 'float32', 1), true, uniq('k')),
      tf.variable(tf.randomNormal([4], 0, 1, 'float32', 2), true, uniq('b')),
      tf.variable(tf.randomNormal([1, 1, 4, 3], 0, 1, 'float32', 3), true, uniq('k')),
      tf.variable(tf.randomNormal([3], 0, 1, 'float32', 4), true, uniq('b')),
    ];
    return { vars, params: paramsFromVariables(vars) };
  }
  const gradsAt = (vars: tf.Variable[], step: number) =>
    vars.map((v, i) => tf.sin(tf.mul(v, 1 + step + i)));

  /** The per-parameter Adam the flat one replaces (same ops, same order). */
  function referenceAdam(vars: tf.Variable[], steps: number, lr: number, weightDecay: number) {
    const m: tf.Tensor[] = vars.map((v) => tf.zerosLike(v));
    const s: tf.Tensor[] = vars.map((v) => tf.zerosLike(v));
    for (let t = 1; t <= steps; t++) {
      const stepSize = (lr * Math.sqrt(1 - 0.999 ** t)) / (1 - 0.9 ** t);
      const grads = gradsAt(vars, t);
      vars.forEach((w, i) => {
        tf.tidy(() => {
          let g: tf.Tensor = grads[i]!;
          if (w.shape.length >= 2) g = tf.add(g, tf.mul(w, weightDecay));
          const mNext = tf.add(tf.mul(m[i]!, 0.9), tf.mul(g, 1 - 0.9));
          const vNext = tf.add(tf.mul(s[i]!, 0.999), tf.mul(tf.square(g), 1 - 0.999));
          m[i]!.dispose();
          s[i]!.dispose();
          m[i] = tf.keep(mNext);
          s[i] = tf.keep(vNext);
          const update = tf.div(tf.mul(mNext, stepSize), tf.add(tf.sqrt(vNext), 1e-8));
          w.assign(tf.sub(w, update));
        });
      });
      tf.dispose(grads);
    }
    return { m, s };
  }

  const asBits = (a: Float32Array) => Array.from(new Uint32Array(a.buffer, a.byteOffset, a.length));
  const bits = async (t: tf.Tensor) => asBits((await t.data()) as Float32Array);

  it('updates every element exactly as a per-parameter Adam does', async () => {
    const a = network();
    const b = network();
    const ref = referenceAdam(a.vars, 4, 0.01, 5e-4);
    const opt = new Adam(b.params, { beta1: 0.9, beta2: 0.999, epsilon: 1e-8, weightDecay: 5e-4 });
    for (let t = 1; t <= 4; t++) {
      const grads = gradsAt(b.vars, t);
      opt.apply(grads, 0.01);
      tf.dispose(grads);
    }
    for (let i = 0; i < a.vars.length; i++) {
      expect(await bits(b.vars[i]!)).toEqual(await bits(a.vars[i]!));
    }
    // Slots by parameter, in the checkpoint's order: m of each, then v of each.
    const state = await opt.getState();
    expect(state.slots.map((s) => s.shape)).toEqual([...a.vars, ...a.vars].map((v) => v.shape));
    const expected = await Promise.all([...ref.m, ...ref.s].map(bits));
    state.slots.forEach((slot, k) => expect(asBits(slot.values)).toEqual(expected[k]));
    tf.dispose([...a.vars, ...b.vars, ...ref.m, ...ref.s]);
    opt.dispose();
  });

  it('applies a flat gradient (every parameter end to end) as the per-tensor call does', async () => {
    for (const kind of ['adam', 'sgd'] as const) {
      const a = network();
      const b = network();
      const make = (params: TrainableParam[]) =>
        kind === 'adam'
          ? new Adam(params, { beta1: 0.9, beta2: 0.999, epsilon: 1e-8, weightDecay: 5e-4 })
          : new SgdMomentum(params, { momentum: 0.9, weightDecay: 5e-4 });
      const optA = make(a.params);
      const optB = make(b.params);
      for (let t = 1; t <= 3; t++) {
        const grads = gradsAt(a.vars, t);
        optA.apply(grads, 0.01);
        const flat = new Float32Array(grads.reduce((n, g) => n + g.size, 0));
        let at = 0;
        for (const g of grads) {
          flat.set(await g.data(), at);
          at += g.size;
        }
        tf.dispose(grads);
        optB.applyFlat(flat, 0.01);
      }
      for (let i = 0; i < a.vars.length; i++) {
        expect(await bits(b.vars[i]!)).toEqual(await bits(a.vars[i]!));
      }
      expect(optB.updates).toBe(3);
      // One flat slot per slot name and group (decayed kernels: 72 + 12; biases: 4 + 3).
      expect(optB.slotVariables().map((v) => v.shape)).toEqual(
        (kind === 'adam' ? [0, 1] : [0]).flatMap(() => [[84], [7]]),
      );
      expect(() => optB.applyFlat(new Float32Array(5), 0.01)).toThrow(OptimizerStateError);
      tf.dispose([...a.vars, ...b.vars]);
      optA.dispose();
      optB.dispose();
    }
  });
});
