import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-wasm';
import { testRng } from '@ssd/testing';
import { describe, expect, it } from 'vitest';

import { onWasmWithTrainingKernels } from '../wasm-test-setup';
import { configureWasmGemm, wasmGemmInfo } from './gemm';
import { keptFilters } from './filter-cache';

const values = (n: number, seed: number) => {
  const rng = testRng(seed);
  return Float32Array.from({ length: n }, () => rng() * 2 - 1);
};

describe('the packed-filter cache', () => {
  onWasmWithTrainingKernels();

  // 72 outputs: a filter wide enough to be packed, with a partial last panel.
  const x = () => tf.tensor4d(values(2 * 5 * 6 * 8, 1), [2, 5, 6, 8]);
  const filterValues = values(3 * 3 * 8 * 72, 2);
  const conv = (input: tf.Tensor4D, filter: tf.Tensor4D) =>
    tf.tidy(() => tf.conv2d(input, filter, 1, 'same').dataSync().slice());

  it('keeps a filter packed from its second use on, with the same results, and frees it with the filter', () => {
    const backend = tf.backend();
    const input = x();
    const filter = tf.tensor4d(filterValues, [3, 3, 8, 72]);
    const base = keptFilters(backend);
    const first = conv(input, filter);
    expect(keptFilters(backend)).toBe(base);
    const second = conv(input, filter);
    expect(keptFilters(backend)).toBe(base + 1);
    const third = conv(input, filter);
    expect(keptFilters(backend)).toBe(base + 1);
    expect(second).toEqual(first);
    expect(third).toEqual(first);

    // A clone shares the data: the kept copy goes with the last tensor on it.
    const clone = filter.clone();
    filter.dispose();
    expect(keptFilters(backend)).toBe(base + 1);
    expect(conv(input, clone)).toEqual(first);
    clone.dispose();
    expect(keptFilters(backend)).toBe(base);

    // A filter used once (a training step's) is never kept; nor one of other values.
    const once = tf.tensor4d(filterValues, [3, 3, 8, 72]);
    expect(conv(input, once)).toEqual(first);
    once.dispose();
    expect(keptFilters(backend)).toBe(base);
    input.dispose();
  });

  it("keeps a Winograd-transformed filter the same way (a filter's kinds kept apart)", () => {
    const backend = tf.backend();
    const input = tf.tensor4d(values(1 * 6 * 7 * 32, 3), [1, 6, 7, 32]);
    const filter = tf.tensor4d(values(3 * 3 * 32 * 72, 4), [3, 3, 32, 72]);
    const base = keptFilters(backend);
    const first = conv(input, filter);
    const second = conv(input, filter);
    expect(keptFilters(backend)).toBe(base + 1);
    // The same filter (72 outputs) in a stride-2 convolution: packed panels, a second kind.
    const strided = () => tf.tidy(() => tf.conv2d(input, filter, 2, 'same').dataSync().slice());
    strided();
    strided();
    expect(keptFilters(backend)).toBe(base + 2);
    expect(conv(input, filter)).toEqual(first);
    expect(second).toEqual(first);
    filter.dispose();
    expect(keptFilters(backend)).toBe(base);
    input.dispose();
  });

  it('keeps a reshaped view of a kept filter apart (the same data id, another shape)', () => {
    const backend = tf.backend();
    const input = x();
    const filter = tf.tensor4d(filterValues, [3, 3, 8, 72]);
    conv(input, filter);
    conv(input, filter);
    const base = keptFilters(backend);
    // [3, 3, 8, 72] read as [3, 3, 16, 36]: other panels of the same values.
    const view = tf.reshape(filter, [3, 3, 16, 36]) as tf.Tensor4D;
    const wide = tf.tensor4d(values(2 * 5 * 6 * 16, 5), [2, 5, 6, 16]);
    const fresh = tf.tensor4d(filterValues, [3, 3, 16, 36]);
    const want = conv(wide, fresh);
    expect(conv(wide, view)).toEqual(want);
    expect(conv(wide, view)).toEqual(want);
    expect(keptFilters(backend)).toBe(base + 1);
    expect(conv(wide, view)).toEqual(want);
    tf.dispose([input, filter, view, wide, fresh]);
    expect(keptFilters(backend)).toBe(base - 1);
  });

  it('keeps a Winograd filter and its reshaped view ([3, 3, 32, 72] as [3, 3, 72, 32]) apart', () => {
    const backend = tf.backend();
    const wValues = values(3 * 3 * 32 * 72, 6);
    const filter = tf.tensor4d(wValues, [3, 3, 32, 72]);
    const view = tf.reshape(filter, [3, 3, 72, 32]) as tf.Tensor4D;
    const narrow = tf.tensor4d(values(1 * 6 * 7 * 32, 7), [1, 6, 7, 32]);
    const wide = tf.tensor4d(values(1 * 6 * 7 * 72, 8), [1, 6, 7, 72]);
    const fresh = tf.tensor4d(wValues, [3, 3, 72, 32]);
    const want = conv(wide, fresh);
    const base = keptFilters(backend);
    conv(narrow, filter);
    conv(narrow, filter);
    expect(keptFilters(backend)).toBe(base + 1);
    expect(conv(wide, view)).toEqual(want);
    expect(conv(wide, view)).toEqual(want);
    expect(conv(wide, view)).toEqual(want);
    expect(keptFilters(backend)).toBe(base + 2);
    expect(wasmGemmInfo(backend)?.keptFilterBytes).toBeGreaterThanOrEqual(
      2 * 16 * 32 * 72 * Float32Array.BYTES_PER_ELEMENT,
    );
    tf.dispose([filter, view, narrow, wide, fresh]);
    expect(keptFilters(backend)).toBe(base);
  });

  it('agrees with cpu on a kept filter', async () => {
    await tf.setBackend('cpu');
    const input = x();
    const filter = tf.tensor4d(filterValues, [3, 3, 8, 72]);
    const expected = conv(input, filter);
    tf.dispose([input, filter]);
    await tf.setBackend('wasm');
    const onWasm = x();
    const kept = tf.tensor4d(filterValues, [3, 3, 8, 72]);
    conv(onWasm, kept);
    conv(onWasm, kept);
    expect(keptFilters(tf.backend())).toBeGreaterThan(0);
    const actual = conv(onWasm, kept);
    actual.forEach((v, i) => {
      const want = expected[i] as number;
      expect(Math.abs(v - want)).toBeLessThan(1e-4 * (1 + Math.abs(want)));
    });
    tf.dispose([onWasm, kept]);
  });

  it('can be switched off, which frees every kept copy', () => {
    const backend = tf.backend();
    const input = x();
    const filter = tf.tensor4d(filterValues, [3, 3, 8, 72]);
    conv(input, filter);
    conv(input, filter);
    expect(keptFilters(backend)).toBeGreaterThan(0);
    expect(configureWasmGemm({ cachePackedFilters: false }).cachePackedFilters).toBe(false);
    expect(keptFilters(backend)).toBe(0);
    const off = conv(input, filter);
    conv(input, filter);
    expect(keptFilters(backend)).toBe(0);
    // On again: the filter was seen before, so its next use keeps it.
    configureWasmGemm({ cachePackedFilters: true });
    expect(conv(input, filter)).toEqual(off);
    expect(keptFilters(backend)).toBe(1);
    tf.dispose([input, filter]);
    expect(keptFilters(backend)).toBe(0);
  });
});
