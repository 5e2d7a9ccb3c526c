/**
 * selectBackend with the real webgpu path (Dawn's `webgpu` package in Node; in
 * CI its SwiftShader Vulkan driver). Skipped without a WebGPU device, failing
 * instead when `CI` is set.
 */
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-core/dist/register_all_gradients';
import { afterEach, expect, it } from 'vitest';
import {
  describeOnWebgpu,
  expectArrayClose,
  onBackend,
  testRng,
  webgpuForTests,
} from '@ssd/testing';
import { GpuError } from './errors';
import { selectBackend } from './select-backend';

const webgpu = await webgpuForTests();

describeOnWebgpu(webgpu, 'selectBackend on a real WebGPU adapter', () => {
  afterEach(async () => {
    await tf.setBackend('cpu');
  });

  it("prefer: 'webgpu' names the adapter; auto takes it only if it is hardware", async () => {
    const named = await selectBackend({ prefer: 'webgpu' });
    expect(named.backend).toBe('webgpu');
    expect(tf.getBackend()).toBe('webgpu');
    expect(named.adapter?.vendor).not.toBe('');
    expect(named.device).toBe(named.adapter?.software ? 'cpu' : 'gpu');
    expect(named.warnings.length).toBe(named.adapter?.software ? 1 : 0);
    const auto = await selectBackend({
      importModule: async (s) => {
        if (s.startsWith('@tensorflow/tfjs-node')) {
          throw Object.assign(new Error(`Cannot find package '${s}'`), {
            code: 'ERR_MODULE_NOT_FOUND',
          });
        }
        return import(/* @vite-ignore */ s);
      },
    });
    if (named.adapter?.software) {
      expect(auto.backend).toBe('wasm');
      expect(auto.skipped.find((s) => s.backend === 'webgpu')?.reason).toMatch(/^software adapter/);
    } else {
      expect(auto.backend).toBe('webgpu');
    }
  });

  it('an error the device reports on its own reaches onGpuError as a GpuError', async () => {
    const errors: GpuError[] = [];
    await selectBackend({ prefer: 'webgpu', onGpuError: (e) => errors.push(e) });
    // Fine: no error, no call.
    const ok = tf.add(tf.scalar(1), tf.scalar(2));
    expect(await ok.data()).toEqual(new Float32Array([3]));
    // webgpu's AddN binds one storage buffer per input; WebGPU allows 8 a stage, so
    // the pipeline fails validation and the work is dropped without an exception.
    const inputs = Array.from({ length: 12 }, (_, i) => tf.scalar(i + 1));
    const sum = tf.addN(inputs);
    await sum.data();
    await new Promise((resolve) => setTimeout(resolve, 50));
    tf.dispose([ok, sum, ...inputs]);
    expect(errors.length).toBeGreaterThan(0);
    expect(errors[0]).toBeInstanceOf(GpuError);
    expect(errors[0]!.backend).toBe('webgpu');
    expect(errors[0]!.message).toMatch(/^webgpu: the GPU reported an error.*storage buffers/);
  });

  it('a conv’s input and kernel gradients equal the cpu backend’s', async () => {
    const rng = testRng(3);
    const x = Float32Array.from({ length: 2 * 9 * 9 * 4 }, () => rng() - 0.5);
    const w = Float32Array.from({ length: 3 * 3 * 4 * 5 }, () => rng() - 0.5);
    const run = async () => {
      const [dx, dw] = tf.grads((a: tf.Tensor, b: tf.Tensor) =>
        tf.sum(tf.square(tf.conv2d(a as tf.Tensor4D, b as tf.Tensor4D, 1, 'same'))),
      )([tf.tensor4d(x, [2, 9, 9, 4]), tf.tensor4d(w, [3, 3, 4, 5])]);
      return [await dx!.data(), await dw!.data()];
    };
    const cpu = await onBackend('cpu', run);
    const gpu = await onBackend('webgpu', run);
    expectArrayClose(gpu[0]!, cpu[0]!, { atol: 1e-5, rtol: 1e-4 });
    expectArrayClose(gpu[1]!, cpu[1]!, { atol: 1e-5, rtol: 1e-4 });
  });
});
