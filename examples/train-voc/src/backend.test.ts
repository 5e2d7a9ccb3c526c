import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-wasm';
import { afterAll, describe, expect, it } from 'vitest';
import { patchWasmOneHot } from './backend';

describe('patchWasmOneHot', () => {
  const before = tf.getBackend();
  afterAll(async () => {
    await tf.setBackend(before);
  });

  it('makes wasm one-hot honour float32 (stock 4.22 writes int32 bits)', async () => {
    patchWasmOneHot();
    patchWasmOneHot(); // idempotent
    expect(await tf.setBackend('wasm')).toBe(true);
    const before = tf.memory().numTensors;
    const a = tf.tensor1d([0, 2], 'int32');
    const b = tf.tensor1d([1], 'int32');
    const t = tf.oneHot(a, 3, 1, 0, 'float32');
    expect(t.dtype).toBe('float32');
    expect(Array.from(await t.data())).toEqual([1, 0, 0, 0, 0, 1]);
    const i = tf.oneHot(b, 2);
    expect(Array.from(await i.data())).toEqual([0, 1]);
    tf.dispose([a, b, t, i]);
    expect(tf.memory().numTensors).toBe(before); // the int32 intermediate is freed
  });
});
