import type { GpuError } from './errors';

/** What `selectBackend` may be asked for. `auto` takes the best one present. */
export type BackendPreference = 'auto' | 'tensorflow' | 'webgpu' | 'webgl' | 'wasm' | 'cpu';

/** The tfjs backend names `selectBackend` can end on. */
export type SelectedBackendName = 'tensorflow' | 'webgpu' | 'webgl' | 'wasm' | 'cpu';

/** A better backend that was not used, and why. */
export interface SkippedBackend {
  backend: SelectedBackendName;
  /** The npm package that provides it. */
  package: string;
  /** Human-readable reason, e.g. `not installed` or the load error. */
  reason: string;
}

/**
 * The GPU behind a `webgpu` (its `GPUAdapterInfo`) or `webgl` (its unmasked
 * vendor and renderer strings) backend.
 */
export interface GpuAdapterDescription {
  /** e.g. `nvidia`, `apple`, `google` (SwiftShader). */
  vendor: string;
  /** e.g. `ampere`, `metal-3`, `swiftshader`; empty when the browser hides it (and for webgl). */
  architecture: string;
  device?: string;
  /** Driver description; for webgl the renderer string. */
  description?: string;
  /**
   * A CPU emulation (a fallback adapter, SwiftShader, llvmpipe): correct, but
   * slower than wasm. `auto` never picks one.
   */
  software: boolean;
}

/** The outcome of {@link selectBackend}. */
export interface BackendSelection {
  /** The tfjs backend now active (`tf.getBackend()`). */
  backend: SelectedBackendName;
  /** The npm package that provided it. */
  package: string;
  /**
   * Where the math runs. `tensorflow` from tfjs-node-gpu can still be `cpu`,
   * and so is `webgpu`/`webgl` on a software adapter (see `warnings`).
   */
  device: 'gpu' | 'cpu';
  /** The adapter of `webgpu`, or the renderer of `webgl` where the browser tells it. */
  adapter?: GpuAdapterDescription;
  /**
   * wasm: the threads its XNNPACK kernels run on (1 in Node unless
   * `enableWasmThreads` from `@ssd/backend/node` ran first).
   */
  threads?: number;
  /** Kernels `@ssd/backend` registered so the backend can train (wasm only). */
  trainingKernels: readonly string[];
  /** Better backends that were tried and not used, best first. */
  skipped: SkippedBackend[];
  /** Things that work but not as one would expect (e.g. tfjs-node-gpu without CUDA). */
  warnings: string[];
}

/** Options of {@link selectBackend}. */
export interface SelectBackendOptions {
  /**
   * `auto` (default): tfjs-node-gpu, then tfjs-node, then webgpu on a hardware
   * adapter, then (in a browser) webgl on a hardware renderer, then wasm, then
   * cpu. A named backend is taken even on a software adapter, with a warning.
   */
  prefer?: BackendPreference;
  /**
   * Where the `.wasm` binaries are served from (`setWasmPaths`). Only needed in
   * browsers and bundles; in Node the wasm package finds its own binaries.
   */
  wasmPaths?: string | Record<string, string>;
  /**
   * Replaces `import(specifier)` for the optional packages. A seam for tests
   * and for bundlers that need static imports; the default is a dynamic import.
   */
  importModule?: (specifier: string) => Promise<unknown>;
  /**
   * Called with each error the WebGPU device reports on its own
   * (`uncapturederror`: a pipeline that fails validation, memory it cannot
   * allocate). tfjs does not see them, and the work they hit is dropped
   * silently, so a trainer should stop on the first. Default: `console.error`
   * of the first one.
   */
  onGpuError?: (error: GpuError) => void;
}
