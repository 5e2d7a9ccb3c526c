/**
 * Vitest setup for tensor suites: registers the backend named by
 * `SSD_TEST_BACKEND` (default `cpu`; also `wasm`, `webgpu`) before any test runs, so the
 * same suite can be run on every backend.
 */
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { kernelLeakCheckReliable, registeredTestBackends } from './backends';

const wanted = process.env.SSD_TEST_BACKEND ?? 'cpu';
const register = registeredTestBackends[wanted];
if (register == null) {
  throw new Error(
    `SSD_TEST_BACKEND=${wanted}: unknown backend (known: ${Object.keys(registeredTestBackends).join(', ')})`,
  );
}
// IS_TEST silences tfjs's "install tfjs-node" banner and turns on its per-kernel
// leak check, which misfires on some backends (see kernelLeakCheckReliable).
tf.env().set('IS_TEST', kernelLeakCheckReliable[wanted] ?? true);
await register();
if (!(await tf.setBackend(wanted))) {
  throw new Error(`SSD_TEST_BACKEND=${wanted}: backend could not be initialised`);
}
