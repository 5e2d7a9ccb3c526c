import * as tf from '@tensorflow/tfjs-core';
import { MathBackendCPU } from '@tensorflow/tfjs-backend-cpu';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { BackendUnavailableError } from './errors';
import { selectBackend } from './select-backend';

const NATIVE = ['@tensorflow/tfjs-node-gpu', '@tensorflow/tfjs-node'];

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
  beforeEach(() => {
    initial = tf.getBackend();
  });
  afterEach(async () => {
    if (tf.findBackendFactory('tensorflow') != null) tf.removeBackend('tensorflow');
    await tf.setBackend(initial);
  });

  it('auto with nothing native installed → wasm with the training kernels, saying why not tensorflow', async () => {
    const log: string[] = [];
    const selection = await selectBackend({
      prefer: 'auto',
      importModule: importWithout(NATIVE, log),
    });
    expect(selection.backend).toBe('wasm');
    expect(tf.getBackend()).toBe('wasm');
    expect(selection.device).toBe('cpu');
    expect(selection.trainingKernels).toContain('Conv2DBackpropFilter');
    expect(selection.skipped).toEqual([
      { backend: 'tensorflow', package: '@tensorflow/tfjs-node-gpu', reason: 'not installed' },
      { backend: 'tensorflow', package: '@tensorflow/tfjs-node', reason: 'not installed' },
    ]);
    expect(log).toEqual([...NATIVE, '@tensorflow/tfjs-backend-wasm']);
  });

  it('outside Node (a browser) auto never imports tfjs-node and says why', async () => {
    const log: string[] = [];
    // The check runs before selectBackend's first await, so the stub is lifted at once.
    vi.stubGlobal('process', undefined);
    const pending = selectBackend({ prefer: 'auto', importModule: importWithout([], log) });
    vi.unstubAllGlobals();
    const selection = await pending;
    expect(selection.backend).toBe('wasm');
    expect(selection.skipped.map((s) => [s.package, s.reason])).toEqual(
      NATIVE.map((p) => [p, 'needs Node (TensorFlow C library), not available here']),
    );
    expect(log).toEqual(['@tensorflow/tfjs-backend-wasm']);
  });

  it('auto falls through to cpu when wasm is missing too', async () => {
    const selection = await selectBackend({
      importModule: importWithout([...NATIVE, '@tensorflow/tfjs-backend-wasm']),
    });
    expect(selection.backend).toBe('cpu');
    expect(selection.skipped.map((s) => s.package)).toEqual([
      ...NATIVE,
      '@tensorflow/tfjs-backend-wasm',
    ]);
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
        if (specifier === '@tensorflow/tfjs-node') throw notFound(specifier);
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
    await expect(selectBackend({ prefer: 'webgl' as never })).rejects.toThrow(TypeError);
  });
});
