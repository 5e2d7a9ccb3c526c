import * as tf from '@tensorflow/tfjs-core';
import { BackendUnavailableError, type GpuError } from './errors';
import { tryWebgl, tryWebgpu, WEBGL_INSTALL, WEBGPU_INSTALL } from './select-backend-gpu';
import {
  type Attempt,
  describeError,
  loadFailure,
  type ModuleLoader,
  runsInNode,
} from './select-backend-shared';
import type {
  BackendSelection,
  SelectBackendOptions,
  SelectedBackendName,
  SkippedBackend,
} from './select-backend-types';
import { registerWasmTrainingKernels } from './wasm-kernels';

export type {
  BackendPreference,
  BackendSelection,
  GpuAdapterDescription,
  SelectBackendOptions,
  SelectedBackendName,
  SkippedBackend,
} from './select-backend-types';

const NODE_GPU = '@tensorflow/tfjs-node-gpu';
const NODE = '@tensorflow/tfjs-node';
const WASM = '@tensorflow/tfjs-backend-wasm';
const CPU = '@tensorflow/tfjs-backend-cpu';

/** Every backend, best first: the order `auto` tries them in. */
const NAMES: readonly SelectedBackendName[] = ['tensorflow', 'webgpu', 'webgl', 'wasm', 'cpu'];

const INSTALL: Record<SelectedBackendName, string> = {
  tensorflow: `npm i ${NODE}@4.22.0 (CPU) or ${NODE_GPU}@4.22.0 (CUDA 11.2 + cuDNN 8.1); see the @ssd/backend README for offline installs`,
  webgpu: WEBGPU_INSTALL,
  webgl: WEBGL_INSTALL,
  wasm: `npm i ${WASM}@4.22.0`,
  cpu: `npm i ${CPU}@4.22.0`,
};

// A variable specifier: bundlers leave it alone instead of resolving the optional
// (and, for tfjs-node and Dawn, Node-only) packages at build time.
const defaultImport = (specifier: string): Promise<unknown> => import(/* @vite-ignore */ specifier);

async function tryTensorflow(load: ModuleLoader): Promise<Attempt> {
  const skipped: SkippedBackend[] = [];
  if (!runsInNode()) {
    const reason = 'needs Node (TensorFlow C library), not available here';
    return {
      ok: false,
      skipped: [NODE_GPU, NODE].map((pkg) => ({ backend: 'tensorflow', package: pkg, reason })),
    };
  }
  // Never import both: they register the same backend name.
  for (const pkg of [NODE_GPU, NODE]) {
    try {
      await load(pkg);
    } catch (error) {
      skipped.push({
        backend: 'tensorflow',
        package: pkg,
        reason: loadFailure(error, pkg),
      });
      continue;
    }
    if (tf.findBackendFactory('tensorflow') == null) {
      skipped.push({
        backend: 'tensorflow',
        package: pkg,
        reason:
          'loaded, but registered no `tensorflow` backend with this copy of @tensorflow/tfjs-core (two tfjs-core versions installed?)',
      });
      return { ok: false, skipped };
    }
    if (!(await tf.setBackend('tensorflow'))) {
      skipped.push({ backend: 'tensorflow', package: pkg, reason: 'backend failed to initialise' });
      return { ok: false, skipped };
    }
    const instance = tf.backend() as { isUsingGpuDevice?: boolean };
    const onGpu = instance.isUsingGpuDevice === true;
    const warnings: string[] = [];
    if (pkg === NODE_GPU && !onGpu) {
      warnings.push(
        `${NODE_GPU} loaded but TensorFlow found no usable GPU and runs on the CPU: the CUDA 11.2 / cuDNN 8.1 libraries are probably not on LD_LIBRARY_PATH (TensorFlow logs "Could not load dynamic library 'libcudart.so.11.0'"). See the @ssd/backend README.`,
      );
    }
    return {
      ok: true,
      selection: {
        backend: 'tensorflow',
        package: pkg,
        device: onGpu ? 'gpu' : 'cpu',
        trainingKernels: [],
        warnings,
      },
    };
  }
  return { ok: false, skipped };
}

async function tryWasm(
  load: ModuleLoader,
  wasmPaths: SelectBackendOptions['wasmPaths'],
): Promise<Attempt> {
  let mod: {
    setWasmPaths?: (p: string | Record<string, string>) => void;
    getThreadsCount?: () => number;
  };
  try {
    mod = (await load(WASM)) as typeof mod;
  } catch (error) {
    const reason = loadFailure(error, WASM);
    return { ok: false, skipped: [{ backend: 'wasm', package: WASM, reason }] };
  }
  if (tf.findBackendFactory('wasm') == null) {
    return {
      ok: false,
      skipped: [
        {
          backend: 'wasm',
          package: WASM,
          reason:
            'loaded, but registered no `wasm` backend with this copy of @tensorflow/tfjs-core (two tfjs-core versions installed?)',
        },
      ],
    };
  }
  if (wasmPaths != null) mod.setWasmPaths?.(wasmPaths);
  const kernels = registerWasmTrainingKernels();
  let ready = false;
  let failure = 'backend failed to initialise';
  try {
    ready = await tf.setBackend('wasm');
  } catch (error) {
    failure = `backend failed to initialise: ${describeError(error)}`;
  }
  if (!ready) {
    return { ok: false, skipped: [{ backend: 'wasm', package: WASM, reason: failure }] };
  }
  return {
    ok: true,
    selection: {
      backend: 'wasm',
      package: WASM,
      device: 'cpu',
      threads: mod.getThreadsCount?.() ?? 1,
      trainingKernels: kernels.registered,
      warnings: [],
    },
  };
}

async function tryCpu(load: ModuleLoader): Promise<Attempt> {
  try {
    await load(CPU);
  } catch (error) {
    const reason = loadFailure(error, CPU);
    return { ok: false, skipped: [{ backend: 'cpu', package: CPU, reason }] };
  }
  if (tf.findBackendFactory('cpu') == null || !(await tf.setBackend('cpu'))) {
    return {
      ok: false,
      skipped: [{ backend: 'cpu', package: CPU, reason: 'backend failed to initialise' }],
    };
  }
  return {
    ok: true,
    selection: { backend: 'cpu', package: CPU, device: 'cpu', trainingKernels: [], warnings: [] },
  };
}

/**
 * Makes the best available tfjs backend the active one and returns what it
 * chose and why each better one was not used.
 *
 * `auto` tries `@tensorflow/tfjs-node-gpu`, then `@tensorflow/tfjs-node` (never
 * both), then `webgpu` on a hardware adapter (in Node through Dawn, the
 * optional `webgpu` package), then, in a browser, `webgl` on a hardware
 * renderer, then `wasm` with the training kernels of this package, then `cpu`.
 * `auto` never takes a software adapter (SwiftShader, llvmpipe): it is listed
 * in `skipped`; `prefer: 'webgpu'` (or `'webgl'`) takes one anyway, with a
 * warning. `auto` never throws because an optional package is absent; a
 * specific `prefer` that cannot be satisfied throws
 * {@link BackendUnavailableError} naming what is missing and how to install it.
 *
 * @example
 * const { backend, skipped, warnings } = await selectBackend({ prefer: 'auto' });
 */
export async function selectBackend(options: SelectBackendOptions = {}): Promise<BackendSelection> {
  const prefer = options.prefer ?? 'auto';
  const load = options.importModule ?? defaultImport;
  const auto = prefer === 'auto';
  const order = auto ? NAMES : validated(prefer);
  const skipped: SkippedBackend[] = [];
  for (const name of order) {
    const attempt = await attemptBackend(name, load, auto, options);
    if (attempt.ok) return { ...attempt.selection, skipped };
    skipped.push(...attempt.skipped);
  }
  throw new BackendUnavailableError(
    prefer,
    skipped,
    prefer === 'auto' ? INSTALL.wasm : INSTALL[prefer as SelectedBackendName],
  );
}

function attemptBackend(
  name: SelectedBackendName,
  load: ModuleLoader,
  auto: boolean,
  options: SelectBackendOptions,
): Promise<Attempt> {
  switch (name) {
    case 'tensorflow':
      return tryTensorflow(load);
    case 'webgpu':
      return tryWebgpu(load, auto, options.onGpuError ?? reportFirstGpuError());
    case 'webgl':
      return tryWebgl(load, auto);
    case 'wasm':
      return tryWasm(load, options.wasmPaths);
    case 'cpu':
      return tryCpu(load);
  }
}

/** The default `onGpuError`: the first error on the console (the rest follow from it). */
function reportFirstGpuError(): (error: GpuError) => void {
  let reported = false;
  return (error) => {
    if (reported) return;
    reported = true;
    console.error(`@ssd/backend: ${error.message}`);
  };
}

function validated(prefer: string): SelectedBackendName[] {
  if ((NAMES as readonly string[]).includes(prefer)) return [prefer as SelectedBackendName];
  throw new TypeError(
    `selectBackend: prefer must be 'auto', ${NAMES.map((n) => `'${n}'`).join(', ')}; got ${JSON.stringify(prefer)}`,
  );
}
