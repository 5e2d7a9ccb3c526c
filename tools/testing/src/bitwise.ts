import * as tf from '@tensorflow/tfjs-core';
import { expect } from 'vitest';
import { expectArrayClose } from './index';

/**
 * Asserts bitwise-equal arrays (`+0` and `−0` count as equal), reporting the first
 * difference (fast on 35k elements).
 */
export function expectSameArray(actual: ArrayLike<number>, expected: ArrayLike<number>): void {
  expect(actual.length, 'length').toBe(expected.length);
  for (let i = 0; i < expected.length; i++) {
    if (!Object.is(actual[i], expected[i]) && !(actual[i] === 0 && expected[i] === 0)) {
      expect.fail(`element ${i}: got ${actual[i]}, expected ${expected[i]}`);
    }
  }
}

/**
 * Tensor results against a packed twin: identical bits on the `cpu` backend (same
 * float32 operation order); other backends (wasm's native math) may differ in the
 * last ulp, so there within 1e-6 relative.
 */
export function expectBitwiseOnCpu(actual: ArrayLike<number>, expected: ArrayLike<number>): void {
  if (tf.getBackend() === 'cpu') expectSameArray(actual, expected);
  else expectArrayClose(actual, expected, { atol: 1e-7, rtol: 1e-6 });
}
