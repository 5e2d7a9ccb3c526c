/**
 * Test set-up shared by this package's wasm kernel tests (not part of the build):
 * the enclosing `describe` block runs on the wasm backend with this package's
 * kernels registered, and the previous backend comes back afterwards.
 */
import * as tf from '@tensorflow/tfjs-core';
import { afterAll, beforeAll, expect } from 'vitest';

import { registerWasmTrainingKernels } from './wasm-kernels';

export function onWasmWithTrainingKernels(): void {
  let initial: string;
  beforeAll(async () => {
    initial = tf.getBackend();
    registerWasmTrainingKernels();
    expect(await tf.setBackend('wasm')).toBe(true);
  });
  afterAll(async () => {
    await tf.setBackend(initial);
  });
}
