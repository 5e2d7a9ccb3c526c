import { webgpuForTests } from './webgpu';

/**
 * Backends a test run may select with `SSD_TEST_BACKEND`, each with the
 * import that registers it. `cpu` is registered by the setup file itself.
 *
 * `wasm` also gets `@ssd/backend`'s training kernels (Conv2DBackpropFilter and
 * the fast Conv2DBackpropInput) when that package has been built, so suites
 * that train conv layers run on wasm too.
 */
export const registeredTestBackends: Record<string, (() => Promise<unknown>) | undefined> = {
  cpu: async () => undefined,
  // Dawn + a Vulkan/Metal/D3D12 driver (in CI SwiftShader via VK_ICD_FILENAMES).
  webgpu: async () => {
    const webgpu = await webgpuForTests();
    if (!webgpu.available) throw new Error(`SSD_TEST_BACKEND=webgpu: ${webgpu.reason}`);
  },
  wasm: async () => {
    await import('@tensorflow/tfjs-backend-wasm');
    try {
      // Resolved through the workspace link; no package.json dependency, which
      // would make @ssd/backend (whose tests use this package) a cycle.
      const specifier = '@ssd/backend';
      const backend = (await import(/* @vite-ignore */ specifier)) as {
        registerWasmTrainingKernels?: () => unknown;
      };
      backend.registerWasmTrainingKernels?.();
    } catch {
      // @ssd/backend not built yet: stock wasm kernels only (no conv training).
    }
  },
};

/**
 * Whether tfjs's per-kernel leak check (`IS_TEST`) can be trusted on a backend.
 * On wasm it reports false leaks for customGrad ops (fused matMul/conv): their
 * saved inputs are cloned and wasm's Identity copies. Suites still check leaks
 * with `tf.memory()` (`expectNoTensorLeak`).
 */
export const kernelLeakCheckReliable: Record<string, boolean> = {
  cpu: true,
  wasm: false,
  webgpu: false,
};
