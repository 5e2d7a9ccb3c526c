import { adapterName, selectBackend } from '@ssd/backend';

/** The backends the page offers, fastest first. */
export const WEB_BACKENDS = ['webgpu', 'webgl', 'wasm', 'cpu'] as const;
export type WebBackend = (typeof WEB_BACKENDS)[number];

/**
 * Static imports for `selectBackend`'s `importModule` seam: a bundle cannot
 * resolve the bare specifiers it imports at run time. Each backend is its own
 * chunk, fetched only when picked.
 */
const BACKEND_MODULES: Record<string, () => Promise<unknown>> = {
  '@tensorflow/tfjs-backend-webgpu': () => import('@tensorflow/tfjs-backend-webgpu'),
  '@tensorflow/tfjs-backend-webgl': () => import('@tensorflow/tfjs-backend-webgl'),
  '@tensorflow/tfjs-backend-wasm': () => import('@tensorflow/tfjs-backend-wasm'),
  '@tensorflow/tfjs-backend-cpu': () => import('@tensorflow/tfjs-backend-cpu'),
};

function importModule(specifier: string): Promise<unknown> {
  const load = BACKEND_MODULES[specifier];
  if (load === undefined) {
    return Promise.reject(
      Object.assign(new Error(`Cannot find module '${specifier}' in the page bundle`), {
        code: 'ERR_MODULE_NOT_FOUND',
      }),
    );
  }
  return load();
}

export function isWebBackend(name: string | null): name is WebBackend {
  return (WEB_BACKENDS as readonly string[]).includes(name ?? '');
}

/** What the page runs on: the tfjs backend and the device behind it. */
export interface ActiveBackend {
  readonly backend: WebBackend;
  /** The webgpu adapter or webgl renderer (`google swiftshader, software`), else `cpu`. */
  readonly device: string;
  /**
   * wasm's threads: more than 1 only when the page is cross-origin isolated (served
   * with COOP/COEP headers, as `vite` and `vite preview` here do): tfjs then loads its
   * threaded build, on half the logical cores (at most 8).
   */
  readonly threads: number;
  /** `selectBackend`'s warnings, e.g. a software adapter. */
  readonly warnings: readonly string[];
}

/**
 * Makes `prefer` the active tfjs backend through `@ssd/backend`'s `selectBackend`
 * (wasm binaries served from `<page>/wasm/`); `auto` takes webgpu or webgl on a
 * hardware GPU, else wasm. Throws its `BackendUnavailableError` when the browser
 * cannot run the one asked for.
 */
export async function startBackend(prefer: WebBackend | 'auto'): Promise<ActiveBackend> {
  const selection = await selectBackend({
    prefer,
    importModule,
    wasmPaths: new URL('wasm/', document.baseURI).href,
  });
  return {
    backend: selection.backend as WebBackend,
    device: selection.adapter
      ? adapterName(selection.adapter)
      : selection.backend === 'wasm'
        ? `${selection.device}, ${selection.threads ?? 1} thread${selection.threads === 1 ? '' : 's'}`
        : selection.device,
    threads: selection.threads ?? 1,
    warnings: selection.warnings,
  };
}
