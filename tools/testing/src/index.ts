import { createRng, type RandomSource } from '@ssd/random';
import * as tf from '@tensorflow/tfjs-core';
import { expect } from 'vitest';

/** Asserts `actual` and `expected` agree elementwise within `atol + rtol·|expected|`. */
export function expectArrayClose(
  actual: ArrayLike<number>,
  expected: ArrayLike<number>,
  { atol = 1e-6, rtol = 0 }: { atol?: number; rtol?: number } = {},
): void {
  expect(actual.length, 'length').toBe(expected.length);
  let worst = -1;
  let worstExcess = 0;
  for (let i = 0; i < expected.length; i++) {
    const a = actual[i] as number;
    const e = expected[i] as number;
    const excess = Math.abs(a - e) - (atol + rtol * Math.abs(e));
    if (!(excess <= 0) && (worst < 0 || excess > worstExcess || Number.isNaN(excess))) {
      worst = i;
      worstExcess = excess;
    }
  }
  if (worst >= 0) {
    expect.fail(
      `element ${worst}: got ${actual[worst]}, expected ${expected[worst]} (atol ${atol}, rtol ${rtol})`,
    );
  }
}

/** Asserts a tensor has `shape` and values close to `expected` (flattened). */
export async function expectTensorClose(
  actual: tf.Tensor,
  expected: ArrayLike<number>,
  shape: number[],
  tolerance?: { atol?: number; rtol?: number },
): Promise<void> {
  expect(actual.shape).toEqual(shape);
  expectArrayClose(await actual.data(), expected, tolerance);
}

/**
 * Runs `fn` and asserts it leaves `tf.memory().numTensors` where it found it.
 * Returns what `fn` returned.
 */
export async function expectNoTensorLeak<T>(fn: () => T | Promise<T>): Promise<T> {
  const before = tf.memory().numTensors;
  const result = await fn();
  expect(tf.memory().numTensors, 'tensors alive after the call').toBe(before);
  return result;
}

/** A deterministic RNG for test inputs: `@ssd/random`'s mulberry32 `createRng(seed)`. */
export function testRng(seed: number): RandomSource {
  return createRng(seed);
}
export { expectBitwiseOnCpu, expectSameArray } from './bitwise';

/** Everything an async iterable yields, in order (e.g. a loader's batches). */
export async function collectAsync<T>(iterable: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const x of iterable) out.push(x);
  return out;
}
export { describeOnWebgpu, onBackend, webgpuForTests } from './webgpu';
export type { WebgpuForTests } from './webgpu';
