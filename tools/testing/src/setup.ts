/**
 * Vitest setup for tensor suites: registers the backend named by
 * `SSD_TEST_BACKEND` (default `cpu`) before any test runs, so the same suite
 * can be run on every backend.
 */
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { registeredTestBackends } from './backends';

// IS_TEST silences tfjs's "install tfjs-node" banner in every test file.
tf.env().set('IS_TEST', true);
const wanted = process.env.SSD_TEST_BACKEND ?? 'cpu';
await registeredTestBackends[wanted]?.();
if (!(await tf.setBackend(wanted))) {
  throw new Error(`SSD_TEST_BACKEND=${wanted}: backend could not be initialised`);
}
