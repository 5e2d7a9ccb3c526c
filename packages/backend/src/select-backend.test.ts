import * as tf from '@tensorflow/tfjs-core';
import { MathBackendCPU } from '@tensorflow/tfjs-backend-cpu';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { BackendUnavailableError } from './errors';
import { selectBackend } from './select-backend';
import { adapterName, tryWebgl } from './select-backend-gpu';

const NATIVE = ['@tensorflow/tfjs-node-gpu', '@tensorflow/tfjs-node'];
const DAWN = 'webgpu';
const WEBGPU = '@tensorflow/tfjs-backend-webgpu';
const WEBGL = '@tensorflow/tfjs-backend-webgl';
const WASM = '@tensorflow/tfjs-backend-wasm';
/** What `auto` says about webgl in Node. */
const WEBGL_IN_NODE = {
  backend: 'webgl',
  package: WEBGL,
  reason: 'needs a browser (WebGL), not available in Node',
};

function notFound(specifier: string): Error {
  return Object.assign(new Error(`Cannot find package '${specifier}' imported from /app`), {
    code: 'ERR_MODULE_NOT_FOUND',
  });
}

/** The real import, except that the listed packages are "not installed". */
function importWithout(missing: string[], log: string[] = []) {
  return async (specifier: string) => {
    log.push(specifier);
    if (missing.includes(specifier)) throw notFound(specifier);
    return import(/* @vite-ignore */ specifier);
  };
}

/** A stand-in for tfjs-node(-gpu): registers a `tensorflow` backend that reports its device. */
function fakeNative(isUsingGpuDevice: boolean) {
  return async () => {
    tf.registerBackend('tensorflow', () =>
      Object.assign(new MathBackendCPU(), { isUsingGpuDevice }),
    );
    return {};
  };
}

describe('selectBackend', () => {
  let initial: string;
  let navigator: PropertyDescriptor | undefined;
  beforeEach(() => {
    initial = tf.getBackend();
    navigator = Object.getOwnPropertyDescriptor(globalThis, 'navigator');
  });
  afterEach(async () => {
    for (const name of ['tensorflow', 'webgpu', 'webgl']) {
      if (tf.findBackendFactory(name) != null) tf.removeBackend(name);
    }
    if (navigator == null) delete (globalThis as { navigator?: unknown }).navigator;
    else Object.defineProperty(globalThis, 'navigator', navigator);
    await tf.setBackend(initial);
  });

  it('auto with nothing native installed → wasm with the training kernels, saying why not tensorflow', async () => {
    const log: string[] = [];
    const selection = await selectBackend({
      prefer: 'auto',
      importModule: importWithout([...NATIVE, DAWN], log),
    });
    expect(selection.backend).toBe('wasm');
    expect(tf.getBackend()).toBe('wasm');
    expect(selection.device).toBe('cpu');
    expect(selection.trainingKernels).toContain('Conv2DBackpropFilter');
    expect(selection.skipped).toEqual([
      { backend: 'tensorflow', package: '@tensorflow/tfjs-node-gpu', reason: 'not installed' },
      { backend: 'tensorflow', package: '@tensorflow/tfjs-node', reason: 'not installed' },
      { backend: 'webgpu', package: DAWN, reason: 'not installed' },
      WEBGL_IN_NODE,
    ]);
    expect(log).toEqual([...NATIVE, DAWN, WASM]);
  });

  it('outside Node (a browser) auto never imports tfjs-node and says why', async () => {
    const log: string[] = [];
    // The check runs before selectBackend's first await, so the stub is lifted at once.
    vi.stubGlobal('process', undefined);
    const pending = selectBackend({ prefer: 'auto', importModule: importWithout([DAWN], log) });
    vi.unstubAllGlobals();
    const selection = await pending;
    expect(selection.backend).toBe('wasm');
    expect(selection.skipped.slice(0, 2).map((s) => [s.package, s.reason])).toEqual(
      NATIVE.map((p) => [p, 'needs Node (TensorFlow C library), not available here']),
    );
    expect(log).toEqual([DAWN, WASM]);
  });

  it('auto falls through to cpu when wasm is missing too', async () => {
    const selection = await selectBackend({
      importModule: importWithout([...NATIVE, DAWN, WASM]),
    });
    expect(selection.backend).toBe('cpu');
    expect(selection.skipped.map((s) => s.package)).toEqual([...NATIVE, DAWN, WEBGL, WASM]);
  });

  it("prefer: 'cpu' → cpu, trying nothing better", async () => {
    const log: string[] = [];
    const selection = await selectBackend({ prefer: 'cpu', importModule: importWithout([], log) });
    expect(selection).toMatchObject({ backend: 'cpu', device: 'cpu', skipped: [] });
    expect(tf.getBackend()).toBe('cpu');
    expect(log).toEqual(['@tensorflow/tfjs-backend-cpu']);
  });

  it("prefer: 'tensorflow' unavailable → BackendUnavailableError naming both packages and the install", async () => {
    const attempt = selectBackend({ prefer: 'tensorflow', importModule: importWithout(NATIVE) });
    await expect(attempt).rejects.toBeInstanceOf(BackendUnavailableError);
    await expect(attempt).rejects.toThrow(/@tensorflow\/tfjs-node-gpu: not installed/);
    await expect(attempt).rejects.toThrow(/@tensorflow\/tfjs-node: not installed/);
    await expect(attempt).rejects.toThrow(/npm i @tensorflow\/tfjs-node@4\.22\.0/);
    expect(tf.getBackend()).toBe(initial);
  });

  it("prefer: 'wasm' unavailable → error naming the wasm package", async () => {
    await expect(
      selectBackend({
        prefer: 'wasm',
        importModule: importWithout(['@tensorflow/tfjs-backend-wasm']),
      }),
    ).rejects.toThrow(
      /tfjs-backend-wasm: not installed.*npm i @tensorflow\/tfjs-backend-wasm@4\.22\.0/,
    );
  });

  it('a native package that fails to load is reported with its error, not thrown', async () => {
    const selection = await selectBackend({
      importModule: async (specifier) => {
        if (specifier === '@tensorflow/tfjs-node-gpu')
          throw new Error('libtensorflow.so.2: cannot open shared object file');
        if (specifier === '@tensorflow/tfjs-node' || specifier === DAWN) throw notFound(specifier);
        return import(/* @vite-ignore */ specifier);
      },
    });
    expect(selection.backend).toBe('wasm');
    expect(selection.skipped[0]?.reason).toMatch(/failed to load: libtensorflow\.so\.2/);
  });

  it('tfjs-node-gpu on a GPU → tensorflow/gpu, and tfjs-node is never imported as well', async () => {
    const log: string[] = [];
    const selection = await selectBackend({
      importModule: async (specifier) => {
        log.push(specifier);
        if (specifier === '@tensorflow/tfjs-node-gpu') return fakeNative(true)();
        throw notFound(specifier);
      },
    });
    expect(selection).toMatchObject({
      backend: 'tensorflow',
      package: '@tensorflow/tfjs-node-gpu',
      device: 'gpu',
      warnings: [],
    });
    expect(log).toEqual(['@tensorflow/tfjs-node-gpu']);
  });

  it('detects tfjs-node-gpu silently running on the CPU (CUDA libraries missing)', async () => {
    const selection = await selectBackend({
      importModule: async (specifier) => {
        if (specifier === '@tensorflow/tfjs-node-gpu') return fakeNative(false)();
        throw notFound(specifier);
      },
    });
    expect(selection).toMatchObject({ backend: 'tensorflow', device: 'cpu' });
    expect(selection.warnings.join()).toMatch(/no usable GPU.*LD_LIBRARY_PATH/);
  });

  it('rejects an unknown preference with a TypeError', async () => {
    await expect(selectBackend({ prefer: 'metal' as never })).rejects.toThrow(TypeError);
  });
});

/** A WebGPU adapter as Dawn or a browser reports it. */
function fakeAdapter(info: Record<string, unknown>, legacy = false) {
  return legacy ? { requestAdapterInfo: async () => info } : { info };
}

/**
 * The optional packages of the webgpu path, faked: Dawn's `webgpu` (its
 * `create()` hands out a GPU whose adapter is `adapter`) and
 * tfjs-backend-webgpu (registers a `webgpu` backend, cpu underneath).
 */
function fakeWebgpuPackages(adapter: object | null, log: string[] = []) {
  const gpu = { requestAdapter: async () => adapter };
  return {
    gpu,
    importModule: async (specifier: string) => {
      log.push(specifier);
      if (specifier === DAWN)
        return { create: () => gpu, globals: { GPUFakeUsage: { STORAGE: 128 } } };
      if (specifier === WEBGPU) {
        tf.registerBackend('webgpu', () => new MathBackendCPU());
        return {};
      }
      if (NATIVE.includes(specifier)) throw notFound(specifier);
      return import(/* @vite-ignore */ specifier);
    },
  };
}

const NVIDIA = {
  vendor: 'nvidia',
  architecture: 'ampere',
  device: '',
  description: 'NVIDIA RTX A4000',
};
const SWIFTSHADER = {
  vendor: 'google',
  architecture: 'swiftshader',
  device: 'swiftshader-device-subzero-',
  description: 'SwiftShader driver 5.0.0',
  isFallbackAdapter: true,
};

describe('selectBackend: webgpu and webgl', () => {
  let initial: string;
  let navigator: PropertyDescriptor | undefined;
  beforeEach(() => {
    initial = tf.getBackend();
    navigator = Object.getOwnPropertyDescriptor(globalThis, 'navigator');
  });
  afterEach(async () => {
    for (const name of ['webgpu', 'webgl']) {
      if (tf.findBackendFactory(name) != null) tf.removeBackend(name);
    }
    if (navigator == null) delete (globalThis as { navigator?: unknown }).navigator;
    else Object.defineProperty(globalThis, 'navigator', navigator);
    delete (globalThis as { GPUFakeUsage?: unknown }).GPUFakeUsage;
    await tf.setBackend(initial);
  });

  it('auto on a hardware adapter → webgpu on the gpu, naming the adapter', async () => {
    const log: string[] = [];
    const { importModule } = fakeWebgpuPackages(fakeAdapter(NVIDIA), log);
    const selection = await selectBackend({ importModule });
    expect(selection).toMatchObject({
      backend: 'webgpu',
      package: WEBGPU,
      device: 'gpu',
      warnings: [],
      adapter: {
        vendor: 'nvidia',
        architecture: 'ampere',
        description: 'NVIDIA RTX A4000',
        software: false,
      },
    });
    expect(selection.adapter).not.toHaveProperty('device');
    expect(tf.getBackend()).toBe('webgpu');
    expect(log).toEqual([...NATIVE, DAWN, WEBGPU]);
    expect(adapterName(selection.adapter!)).toBe('nvidia ampere');
  });

  it('in Node, Dawn’s GPU becomes navigator.gpu (with its globals) before tfjs-backend-webgpu loads', async () => {
    delete (globalThis as { navigator?: unknown }).navigator;
    const { gpu, importModule } = fakeWebgpuPackages(fakeAdapter(NVIDIA));
    await selectBackend({ prefer: 'webgpu', importModule });
    expect((globalThis as { navigator?: { gpu?: unknown } }).navigator?.gpu).toBe(gpu);
    expect((globalThis as { GPUFakeUsage?: unknown }).GPUFakeUsage).toEqual({ STORAGE: 128 });
  });

  it('auto never takes a software adapter (SwiftShader): wasm, and the reason in skipped', async () => {
    const log: string[] = [];
    const { importModule } = fakeWebgpuPackages(fakeAdapter(SWIFTSHADER), log);
    const selection = await selectBackend({ importModule });
    expect(selection.backend).toBe('wasm');
    expect(selection.skipped.slice(2)).toEqual([
      {
        backend: 'webgpu',
        package: WEBGPU,
        reason:
          "software adapter (google swiftshader, software), a CPU emulation slower than wasm; auto never takes one (prefer 'webgpu' does)",
      },
      WEBGL_IN_NODE,
    ]);
    expect(log).not.toContain(WEBGPU);
  });

  it.each([
    [
      'llvmpipe named in the description, no fallback flag',
      { vendor: 'mesa', architecture: '', description: 'llvmpipe (LLVM 15.0.6, 256 bits)' },
      false,
    ],
    [
      'the fallback flag, info from requestAdapterInfo() (Chrome < 127)',
      { vendor: 'acme', architecture: 'x' },
      true,
    ],
  ])('a software adapter is recognised: %s', async (_, info, legacy) => {
    const adapter = legacy
      ? { ...fakeAdapter(info, true), isFallbackAdapter: true }
      : fakeAdapter(info);
    const selection = await selectBackend({
      importModule: fakeWebgpuPackages(adapter).importModule,
    });
    expect(selection.backend).toBe('wasm');
    expect(selection.skipped.find((s) => s.backend === 'webgpu')?.reason).toMatch(
      /^software adapter/,
    );
  });

  it("prefer: 'webgpu' takes a software adapter, warning that it is a CPU emulation", async () => {
    const { importModule } = fakeWebgpuPackages(fakeAdapter(SWIFTSHADER));
    const selection = await selectBackend({ prefer: 'webgpu', importModule });
    expect(selection).toMatchObject({
      backend: 'webgpu',
      device: 'cpu',
      adapter: {
        vendor: 'google',
        architecture: 'swiftshader',
        device: 'swiftshader-device-subzero-',
        software: true,
      },
      skipped: [],
    });
    expect(selection.warnings).toHaveLength(1);
    expect(selection.warnings[0]).toMatch(
      /software adapter \(google swiftshader, software\): a CPU emulation/,
    );
    expect(tf.getBackend()).toBe('webgpu');
  });

  it("prefer: 'webgpu' without Dawn → BackendUnavailableError with the install hint and the driver", async () => {
    delete (globalThis as { navigator?: unknown }).navigator;
    const attempt = selectBackend({ prefer: 'webgpu', importModule: importWithout([DAWN]) });
    await expect(attempt).rejects.toBeInstanceOf(BackendUnavailableError);
    await expect(attempt).rejects.toThrow(/webgpu: not installed/);
    await expect(attempt).rejects.toThrow(
      /npm i @tensorflow\/tfjs-backend-webgpu@4\.22\.0, and in Node also webgpu@0\.6\.2/,
    );
    await expect(attempt).rejects.toThrow(
      /Vulkan on Linux.*VK_ICD_FILENAMES=.*vk_swiftshader_icd\.json.*Metal on macOS, D3D12 on Windows/,
    );
    expect(tf.getBackend()).toBe(initial);
  });

  it("prefer: 'webgpu' with no driver (no adapter) → error naming the missing Vulkan driver", async () => {
    const { importModule } = fakeWebgpuPackages(null);
    await expect(selectBackend({ prefer: 'webgpu', importModule })).rejects.toThrow(
      /no WebGPU adapter: Dawn found no GPU driver \(on Linux a Vulkan driver/,
    );
  });

  it('tfjs-backend-webgpu missing → error naming it', async () => {
    const { importModule } = fakeWebgpuPackages(fakeAdapter(NVIDIA));
    await expect(
      selectBackend({
        prefer: 'webgpu',
        importModule: async (s) => (s === WEBGPU ? Promise.reject(notFound(s)) : importModule(s)),
      }),
    ).rejects.toThrow(/tfjs-backend-webgpu: not installed/);
  });

  it("prefer: 'webgl' in Node → BackendUnavailableError: it needs a browser", async () => {
    await expect(selectBackend({ prefer: 'webgl' })).rejects.toThrow(
      /tfjs-backend-webgl: needs a browser \(WebGL\).*npm i @tensorflow\/tfjs-backend-webgl@4\.22\.0 and run in a browser/,
    );
  });
});

/** A browser's canvas whose WebGL context reports `renderer`. */
function fakeCanvas(renderer: string | null) {
  return class {
    getContext(kind: string) {
      if (renderer == null || kind !== 'webgl2') return null;
      return {
        VENDOR: 1,
        RENDERER: 2,
        getParameter: (name: number) =>
          name === 0x9245 ? 'Google Inc. (Acme)' : name === 0x9246 ? renderer : '?',
        getExtension: (name: string) =>
          name === 'WEBGL_debug_renderer_info'
            ? { UNMASKED_VENDOR_WEBGL: 0x9245, UNMASKED_RENDERER_WEBGL: 0x9246 }
            : { loseContext: () => undefined },
      };
    }
  };
}

describe('tryWebgl (in a browser)', () => {
  afterEach(async () => {
    vi.unstubAllGlobals();
    if (tf.findBackendFactory('webgl') != null) tf.removeBackend('webgl');
    await tf.setBackend('cpu');
  });
  const fakeWebgl = async (specifier: string) => {
    expect(specifier).toBe(WEBGL);
    tf.registerBackend('webgl', () => new MathBackendCPU());
    return {};
  };

  it('a hardware renderer → webgl on the gpu, naming the renderer', async () => {
    vi.stubGlobal('OffscreenCanvas', fakeCanvas('ANGLE (NVIDIA, NVIDIA RTX A4000 Direct3D11)'));
    // runsInNode and the probe run before tryWebgl's first await.
    vi.stubGlobal('process', undefined);
    const pending = tryWebgl(fakeWebgl, true);
    vi.unstubAllGlobals();
    const attempt = await pending;
    expect(attempt).toMatchObject({
      ok: true,
      selection: {
        backend: 'webgl',
        device: 'gpu',
        adapter: {
          vendor: 'Google Inc. (Acme)',
          architecture: '',
          description: 'ANGLE (NVIDIA, NVIDIA RTX A4000 Direct3D11)',
          software: false,
        },
      },
    });
  });

  it('auto skips a SwiftShader renderer; a named webgl takes it with a warning', async () => {
    vi.stubGlobal(
      'OffscreenCanvas',
      fakeCanvas('ANGLE (Google, Vulkan 1.3.0 (SwiftShader Device (Subzero)), SwiftShader driver)'),
    );
    vi.stubGlobal('process', undefined);
    const auto = tryWebgl(fakeWebgl, true);
    const named = tryWebgl(fakeWebgl, false);
    vi.unstubAllGlobals();
    expect(await auto).toMatchObject({
      ok: false,
      skipped: [{ backend: 'webgl', reason: expect.stringMatching(/^software adapter/) }],
    });
    expect(await named).toMatchObject({
      ok: true,
      selection: { device: 'cpu', adapter: { software: true } },
    });
  });

  it('no WebGL context → skipped with the reason', async () => {
    vi.stubGlobal('OffscreenCanvas', fakeCanvas(null));
    vi.stubGlobal('process', undefined);
    const pending = tryWebgl(fakeWebgl, true);
    vi.unstubAllGlobals();
    expect(await pending).toMatchObject({
      ok: false,
      skipped: [{ reason: expect.stringMatching(/no WebGL context/) }],
    });
  });
});
