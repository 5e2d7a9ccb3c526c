/**
 * Tests that need a WebGPU device (tfjs-backend-webgpu; in Node Dawn's
 * `webgpu` package and a Vulkan/Metal/D3D12 driver — in CI SwiftShader, named
 * by `VK_ICD_FILENAMES`). Without one they are skipped locally, with the
 * reason, and FAIL when `CI` is set, so CI cannot pass without running them.
 */
import * as tf from '@tensorflow/tfjs-core';
import { describe, it } from 'vitest';

/** Whether webgpu can run here: its adapter, or why not. */
export type WebgpuForTests =
  | { available: true; adapter: { vendor: string; architecture: string; software: boolean } }
  | { available: false; reason: string };

let pending: Promise<WebgpuForTests> | undefined;

/**
 * Registers the `webgpu` backend through `@ssd/backend`'s `selectBackend`
 * (software adapters included) and switches back to the backend that was
 * active. Once per process.
 */
export function webgpuForTests(): Promise<WebgpuForTests> {
  pending ??= (async (): Promise<WebgpuForTests> => {
    const previous = tf.getBackend();
    try {
      // Through the workspace link, as in ./backends (no dependency cycle).
      const specifier = '@ssd/backend';
      const { selectBackend } = (await import(/* @vite-ignore */ specifier)) as {
        selectBackend: (o: { prefer: string }) => Promise<{
          adapter?: { vendor: string; architecture: string; software: boolean };
        }>;
      };
      const selection = await selectBackend({ prefer: 'webgpu' });
      return { available: true, adapter: selection.adapter! };
    } catch (error) {
      return { available: false, reason: error instanceof Error ? error.message : String(error) };
    } finally {
      await tf.setBackend(previous);
    }
  })();
  return pending;
}

/**
 * `describe` for suites that run on webgpu: skipped (with the reason printed)
 * when there is no WebGPU device, unless `CI` is set — then one failing test
 * says why.
 */
export function describeOnWebgpu(webgpu: WebgpuForTests, name: string, body: () => void): void {
  if (webgpu.available) {
    describe(`${name} [webgpu: ${webgpu.adapter.vendor} ${webgpu.adapter.architecture}]`, body);
    return;
  }
  const reason = webgpu.reason;
  if (process.env.CI) {
    describe(name, () => {
      it('has a WebGPU device (CI must run the webgpu suites)', () => {
        throw new Error(
          `no WebGPU device, and CI is set: ${reason}. .ci/run installs chromium and exports VK_ICD_FILENAMES for SwiftShader.`,
        );
      });
    });
    return;
  }
  console.warn(
    `[webgpu] skipping "${name}": ${reason}\n  (set VK_ICD_FILENAMES=/usr/lib/chromium/vk_swiftshader_icd.json after apt-get install chromium to run it)`,
  );
  describe.skip(name, body);
}

/**
 * Runs `fn` with `backend` active, then switches back. `fn` should read its
 * results into typed arrays (`await t.data()`) and build its tensors itself.
 */
export async function onBackend<T>(backend: string, fn: () => Promise<T>): Promise<T> {
  const previous = tf.getBackend();
  if (!(await tf.setBackend(backend))) throw new Error(`backend ${backend} did not initialise`);
  try {
    return await fn();
  } finally {
    await tf.setBackend(previous);
  }
}
