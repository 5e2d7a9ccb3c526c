import * as tf from '@tensorflow/tfjs-core';
import { BackendUnavailableError } from './errors';
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
  SelectBackendOptions,
  SelectedBackendName,
  SkippedBackend,
} from './select-backend-types';

const NODE_GPU = '@tensorflow/tfjs-node-gpu';
const NODE = '@tensorflow/tfjs-node';
const WASM = '@tensorflow/tfjs-backend-wasm';
const CPU = '@tensorflow/tfjs-backend-cpu';

const INSTALL: Record<SelectedBackendName, string> = {
  tensorflow: `npm i ${NODE}@4.22.0 (CPU) or ${NODE_GPU}@4.22.0 (CUDA 11.2 + cuDNN 8.1); see the @ssd/backend README for offline installs`,
  wasm: `npm i ${WASM}@4.22.0`,
  cpu: `npm i ${CPU}@4.22.0`,
};

// A variable specifier: bundlers leave it alone instead of resolving the optional
// (and, for tfjs-node, Node-only) packages at build time.
const defaultImport = (specifier: string): Promise<unknown> => import(/* @vite-ignore */ specifier);

function isNotInstalled(error: unknown, specifier: string): boolean {
  const e = error as { code?: string; message?: string } | null;
  const code = e?.code;
  if (code === 'ERR_MODULE_NOT_FOUND' || code === 'MODULE_NOT_FOUND') {
    return (e?.message ?? '').includes(specifier);
  }
  return false;
}

function describe(error: unknown): string {
  return error instanceof Error ? error.message.split('\n')[0]! : String(error);
}

type Attempt =
  | { ok: true; selection: Omit<BackendSelection, 'skipped'> }
  | { ok: false; skipped: SkippedBackend[] };

/** tfjs-node needs Node; in a browser (or a worker there) it is not tried. */
function runsInNode(): boolean {
  const { process } = globalThis as { process?: { versions?: { node?: unknown } } };
  return typeof process?.versions?.node === 'string';
}

async function tryTensorflow(load: (s: string) => Promise<unknown>): Promise<Attempt> {
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
        reason: isNotInstalled(error, pkg) ? 'not installed' : `failed to load: ${describe(error)}`,
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
  load: (s: string) => Promise<unknown>,
  wasmPaths: SelectBackendOptions['wasmPaths'],
): Promise<Attempt> {
  let mod: { setWasmPaths?: (p: string | Record<string, string>) => void };
  try {
    mod = (await load(WASM)) as typeof mod;
  } catch (error) {
    const reason = isNotInstalled(error, WASM)
      ? 'not installed'
      : `failed to load: ${describe(error)}`;
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
    failure = `backend failed to initialise: ${describe(error)}`;
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
      trainingKernels: kernels.registered,
      warnings: [],
    },
  };
}

async function tryCpu(load: (s: string) => Promise<unknown>): Promise<Attempt> {
  try {
    await load(CPU);
  } catch (error) {
    const reason = isNotInstalled(error, CPU)
      ? 'not installed'
      : `failed to load: ${describe(error)}`;
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
 * both), then `wasm` with the training kernels of this package, then `cpu`. It
 * never throws because an optional package is absent; a specific `prefer` that
 * cannot be satisfied throws {@link BackendUnavailableError} naming what is
 * missing and how to install it.
 *
 * @example
 * const { backend, skipped, warnings } = await selectBackend({ prefer: 'auto' });
 */
export async function selectBackend(options: SelectBackendOptions = {}): Promise<BackendSelection> {
  const prefer = options.prefer ?? 'auto';
  const load = options.importModule ?? defaultImport;
  const order: SelectedBackendName[] =
    prefer === 'auto' ? ['tensorflow', 'wasm', 'cpu'] : validated(prefer);
  const skipped: SkippedBackend[] = [];
  for (const name of order) {
    const attempt =
      name === 'tensorflow'
        ? await tryTensorflow(load)
        : name === 'wasm'
          ? await tryWasm(load, options.wasmPaths)
          : await tryCpu(load);
    if (attempt.ok) return { ...attempt.selection, skipped };
    skipped.push(...attempt.skipped);
  }
  throw new BackendUnavailableError(
    prefer,
    skipped,
    prefer === 'auto' ? INSTALL.wasm : INSTALL[prefer as SelectedBackendName],
  );
}

function validated(prefer: string): SelectedBackendName[] {
  if (prefer === 'tensorflow' || prefer === 'wasm' || prefer === 'cpu') return [prefer];
  throw new TypeError(
    `selectBackend: prefer must be 'auto', 'tensorflow', 'wasm' or 'cpu', got ${JSON.stringify(prefer)}`,
  );
}
