import { expect } from 'vitest';

/** Asserts bitwise-equal arrays, reporting the first difference (fast on 35k elements). */
export function expectSameArray(actual: ArrayLike<number>, expected: ArrayLike<number>): void {
  expect(actual.length, 'length').toBe(expected.length);
  for (let i = 0; i < expected.length; i++) {
    if (!Object.is(actual[i], expected[i]) && !(actual[i] === 0 && expected[i] === 0)) {
      expect.fail(`element ${i}: got ${actual[i]}, expected ${expected[i]}`);
    }
  }
}
