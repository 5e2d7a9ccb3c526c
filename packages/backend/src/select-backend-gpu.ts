import * as tf from '@tensorflow/tfjs-core';
import {
  type Attempt,
  describeError,
  loadFailure,
  type ModuleLoader,
  runsInNode,
} from './select-backend-shared';
import { GpuError } from './errors';
import type { GpuAdapterDescription } from './select-backend-types';

export const WEBGPU = '@tensorflow/tfjs-backend-webgpu';
export const WEBGL = '@tensorflow/tfjs-backend-webgl';
/** Dawn for Node: gives tfjs-backend-webgpu a `navigator.gpu` outside a browser. */
export const DAWN = 'webgpu';
export const DAWN_VERSION = '0.6.2';

export const WEBGPU_INSTALL =
  `npm i ${WEBGPU}@4.22.0, and in Node also ${DAWN}@${DAWN_VERSION} (Dawn); plus a GPU driver: ` +
  'Vulkan on Linux (a software check: VK_ICD_FILENAMES=/usr/lib/chromium/vk_swiftshader_icd.json from Debian’s chromium package), ' +
  'Metal on macOS, D3D12 on Windows; in a browser, one with WebGPU enabled';
export const WEBGL_INSTALL = `npm i ${WEBGL}@4.22.0 and run in a browser (WebGL needs one)`;

/** Names of CPU emulations of a GPU, in adapter info or a WebGL renderer string. */
const SOFTWARE_NAMES = /swiftshader|llvmpipe|lavapipe|softpipe|software|microsoft basic render/i;

/** The parts of WebGPU's `GPUAdapter` read here (no dependency on @webgpu/types). */
interface AdapterLike {
  info?: Record<string, unknown>;
  isFallbackAdapter?: boolean;
  requestAdapterInfo?: () => Promise<Record<string, unknown>>;
}
interface GpuLike {
  requestAdapter(options?: { powerPreference?: string }): Promise<AdapterLike | null>;
}

function text(value: unknown): string {
  return typeof value === 'string' ? value : '';
}

/** What an adapter says about itself, and whether it is a CPU emulation. */
export async function describeAdapter(adapter: AdapterLike): Promise<GpuAdapterDescription> {
  // `info` since Chrome 127 (and Dawn for Node); `requestAdapterInfo()` before.
  const info = adapter.info ?? (await adapter.requestAdapterInfo?.()) ?? {};
  const vendor = text(info.vendor);
  const architecture = text(info.architecture);
  const device = text(info.device);
  const description = text(info.description);
  const fallback = info.isFallbackAdapter === true || adapter.isFallbackAdapter === true;
  return {
    vendor,
    architecture,
    ...(device !== '' && { device }),
    ...(description !== '' && { description }),
    software:
      fallback || SOFTWARE_NAMES.test([vendor, architecture, device, description].join(' ')),
  };
}

/** `vendor architecture (software)`: how an adapter is named in messages. */
export function adapterName(adapter: GpuAdapterDescription): string {
  const name =
    [adapter.vendor, adapter.architecture].filter((s) => s !== '').join(' ') ||
    adapter.description ||
    'unnamed adapter';
  return adapter.software ? `${name}, software` : name;
}

function softwareWarning(backend: string, adapter: GpuAdapterDescription): string {
  return (
    `${backend} runs on a software adapter (${adapterName(adapter)}): a CPU emulation of a GPU, ` +
    'correct but slower than wasm. Fine for checking the GPU code path; for speed install a GPU driver.'
  );
}

function softwareSkip(backend: string, adapter: GpuAdapterDescription): string {
  return `software adapter (${adapterName(adapter)}), a CPU emulation slower than wasm; auto never takes one (prefer '${backend}' does)`;
}

/**
 * `navigator.gpu`: the browser's, or in Node Dawn's from the optional `webgpu`
 * package, installed as `navigator.gpu` (with its `GPUBufferUsage`… globals)
 * because tfjs-backend-webgpu looks for it there when it is imported.
 */
async function findGpu(
  load: ModuleLoader,
): Promise<{ gpu: GpuLike } | { reason: string; package: string }> {
  const g = globalThis as { navigator?: { gpu?: GpuLike } };
  if (g.navigator?.gpu != null) return { gpu: g.navigator.gpu };
  if (!runsInNode()) {
    return {
      package: WEBGPU,
      reason: 'this browser exposes no navigator.gpu (WebGPU off or unsupported)',
    };
  }
  let dawn: { create: (options: string[]) => GpuLike; globals: Record<string, unknown> };
  try {
    dawn = (await load(DAWN)) as typeof dawn;
  } catch (error) {
    return { package: DAWN, reason: loadFailure(error, DAWN) };
  }
  for (const [name, value] of Object.entries(dawn.globals ?? {})) {
    if (!(name in globalThis)) (globalThis as Record<string, unknown>)[name] = value;
  }
  const gpu = dawn.create([]);
  if (g.navigator == null) g.navigator = { gpu };
  else Object.defineProperty(g.navigator, 'gpu', { value: gpu, configurable: true });
  return { gpu };
}

/**
 * webgpu: the adapter is requested first (the same power preference as
 * tfjs-backend-webgpu's own request) to name it and to keep `auto` off a
 * software one.
 */
export async function tryWebgpu(
  load: ModuleLoader,
  auto: boolean,
  onGpuError: (error: GpuError) => void,
): Promise<Attempt> {
  const skip = (reason: string, pkg = WEBGPU): Attempt => ({
    ok: false,
    skipped: [{ backend: 'webgpu', package: pkg, reason }],
  });
  const found = await findGpu(load);
  if (!('gpu' in found)) return skip(found.reason, found.package);
  let adapter: AdapterLike | null;
  try {
    adapter = await found.gpu.requestAdapter({
      // The flag is registered by tfjs-backend-webgpu, not loaded yet: read it only if set.
      powerPreference:
        tf.env().getFlags()['WEBGPU_USE_LOW_POWER_GPU'] === true ? 'low-power' : 'high-performance',
    });
  } catch (error) {
    return skip(`requesting a WebGPU adapter failed: ${describeError(error)}`);
  }
  if (adapter == null) {
    return skip(
      runsInNode()
        ? 'no WebGPU adapter: Dawn found no GPU driver (on Linux a Vulkan driver; VK_ICD_FILENAMES names one)'
        : 'no WebGPU adapter (the browser blocks this GPU, or has no driver for it)',
    );
  }
  const description = await describeAdapter(adapter);
  if (auto && description.software) return skip(softwareSkip('webgpu', description));
  try {
    await load(WEBGPU);
  } catch (error) {
    return skip(loadFailure(error, WEBGPU));
  }
  if (tf.findBackendFactory('webgpu') == null) {
    return skip(
      `loaded, but registered no \`webgpu\` backend with this copy of @tensorflow/tfjs-core (imported before navigator.gpu existed, or two tfjs-core versions installed?)`,
    );
  }
  let ready = false;
  let failure = 'backend failed to initialise';
  try {
    ready = await tf.setBackend('webgpu');
  } catch (error) {
    failure = `backend failed to initialise: ${describeError(error)}`;
  }
  if (!ready) return skip(failure);
  watchDevice(onGpuError);
  return gpuSelection('webgpu', WEBGPU, description);
}

/** A GPU backend that started: on the CPU (with a warning) when its adapter is software. */
function gpuSelection(
  backend: 'webgpu' | 'webgl',
  pkg: string,
  adapter: GpuAdapterDescription,
): Attempt {
  return {
    ok: true,
    selection: {
      backend,
      package: pkg,
      device: adapter.software ? 'cpu' : 'gpu',
      adapter,
      trainingKernels: [],
      warnings: adapter.software ? [softwareWarning(backend, adapter)] : [],
    },
  };
}

interface GpuDeviceLike {
  addEventListener?(type: 'uncapturederror', listener: (event: { error?: unknown }) => void): void;
}

const watchedDevices = new WeakSet<object>();
let gpuErrorHandler: (error: GpuError) => void = () => undefined;

/**
 * Routes the device's `uncapturederror` events (which tfjs never sees) to the
 * `onGpuError` of the latest `selectBackend` call: tfjs keeps one webgpu backend
 * (one device) per process, so the listener is added once.
 */
function watchDevice(onGpuError: (error: GpuError) => void): void {
  gpuErrorHandler = onGpuError;
  const { device } = tf.backend() as { device?: GpuDeviceLike };
  if (device == null || watchedDevices.has(device)) return;
  watchedDevices.add(device);
  device.addEventListener?.('uncapturederror', (event) => {
    const e = event.error as { message?: unknown } | undefined;
    gpuErrorHandler(new GpuError('webgpu', String(e?.message ?? e ?? 'unknown GPU error')));
  });
}

interface WebGlLike {
  VENDOR: number;
  RENDERER: number;
  getParameter(name: number): unknown;
  getExtension(name: string): Record<string, unknown> | null;
}

/** The vendor and renderer of a throw-away WebGL context, or why there is none. */
function probeWebgl(): GpuAdapterDescription | string {
  const g = globalThis as {
    OffscreenCanvas?: new (w: number, h: number) => { getContext(kind: string): unknown };
    document?: { createElement(tag: 'canvas'): { getContext(kind: string): unknown } };
  };
  const canvas =
    g.OffscreenCanvas != null ? new g.OffscreenCanvas(1, 1) : g.document?.createElement('canvas');
  if (canvas == null) return 'no canvas to create a WebGL context on';
  const gl = (canvas.getContext('webgl2') ?? canvas.getContext('webgl')) as WebGlLike | null;
  if (gl == null) return 'this browser gives no WebGL context (blocked, or no GPU driver)';
  const unmasked = gl.getExtension('WEBGL_debug_renderer_info') as {
    UNMASKED_VENDOR_WEBGL: number;
    UNMASKED_RENDERER_WEBGL: number;
  } | null;
  const vendor = text(gl.getParameter(unmasked?.UNMASKED_VENDOR_WEBGL ?? gl.VENDOR));
  const renderer = text(gl.getParameter(unmasked?.UNMASKED_RENDERER_WEBGL ?? gl.RENDERER));
  (gl.getExtension('WEBGL_lose_context') as { loseContext?: () => void } | null)?.loseContext?.();
  return {
    vendor,
    architecture: '',
    ...(renderer !== '' && { description: renderer }),
    software: SOFTWARE_NAMES.test(`${vendor} ${renderer}`),
  };
}

/** webgl: browsers only; the renderer is probed first so `auto` stays off a software one. */
export async function tryWebgl(load: ModuleLoader, auto: boolean): Promise<Attempt> {
  const skip = (reason: string): Attempt => ({
    ok: false,
    skipped: [{ backend: 'webgl', package: WEBGL, reason }],
  });
  if (runsInNode()) return skip('needs a browser (WebGL), not available in Node');
  const probed = probeWebgl();
  if (typeof probed === 'string') return skip(probed);
  if (auto && probed.software) return skip(softwareSkip('webgl', probed));
  try {
    await load(WEBGL);
  } catch (error) {
    return skip(loadFailure(error, WEBGL));
  }
  let ready = false;
  let failure = 'backend failed to initialise';
  try {
    ready = tf.findBackendFactory('webgl') != null && (await tf.setBackend('webgl'));
  } catch (error) {
    failure = `backend failed to initialise: ${describeError(error)}`;
  }
  if (!ready) return skip(failure);
  return gpuSelection('webgl', WEBGL, probed);
}
