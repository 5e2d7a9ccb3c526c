import * as tf from '@tensorflow/tfjs-core';
import { expectArrayClose, expectNoTensorLeak } from '@ssd/testing';
import { describe, expect, it } from 'vitest';
import { Adam, OptimizerStateError, SgdMomentum, paramsFromVariables } from './optimizer';

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
