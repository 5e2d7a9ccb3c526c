import { selectBackend } from '@ssd/backend';
import * as tf from '@tensorflow/tfjs-core';

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

/** What the page runs on: the tfjs backend and, on webgpu, the adapter. */
export interface ActiveBackend {
  readonly backend: WebBackend;
  /** e.g. `google swiftshader (fallback adapter)` on webgpu, the GL renderer on webgl. */
  readonly detail: string;
}

/**
 * Makes `prefer` the active tfjs backend through `@ssd/backend`'s `selectBackend`
 * (wasm binaries served from `<page>/wasm/`). Throws its `BackendUnavailableError`
 * when the browser cannot run it.
 */
export async function startBackend(prefer: WebBackend): Promise<ActiveBackend> {
  const selection = await selectBackend({
    prefer: prefer as Parameters<typeof selectBackend>[0] extends infer O ? (O extends { prefer?: infer P } ? P : never) : never,
    importModule,
    wasmPaths: new URL('wasm/', document.baseURI).href,
  });
  return { backend: selection.backend as WebBackend, detail: describeDevice(selection) };
}

function describeDevice(selection: Awaited<ReturnType<typeof selectBackend>>): string {
  const adapter = (selection as { adapter?: AdapterInfo }).adapter;
  if (adapter) return describeAdapter(adapter);
  if (selection.backend === ('webgl' as string)) return webglRenderer();
  return selection.device;
}

interface AdapterInfo {
  vendor?: string;
  architecture?: string;
  description?: string;
  isFallbackAdapter?: boolean;
}

export function describeAdapter(info: AdapterInfo): string {
  const name = [info.vendor, info.architecture, info.description].filter(Boolean).join(' ');
  return `${name || 'unknown adapter'}${info.isFallbackAdapter ? ' (fallback adapter)' : ''}`;
}

function webglRenderer(): string {
  const gl = (tf.backend() as { gpgpu?: { gl?: WebGL2RenderingContext } }).gpgpu?.gl;
  if (!gl) return 'gpu';
  const info = gl.getExtension('WEBGL_debug_renderer_info');
  return String(gl.getParameter(info ? info.UNMASKED_RENDERER_WEBGL : gl.RENDERER));
}
