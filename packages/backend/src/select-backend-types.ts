/** What `selectBackend` may be asked for. `auto` takes the best one present. */
export type BackendPreference = 'auto' | 'tensorflow' | 'wasm' | 'cpu';

/** The tfjs backend names `selectBackend` can end on. */
export type SelectedBackendName = 'tensorflow' | 'wasm' | 'cpu';

/** A better backend that was not used, and why. */
export interface SkippedBackend {
  backend: SelectedBackendName;
  /** The npm package that provides it. */
  package: string;
  /** Human-readable reason, e.g. `not installed` or the load error. */
  reason: string;
}

/** The outcome of {@link selectBackend}. */
export interface BackendSelection {
  /** The tfjs backend now active (`tf.getBackend()`). */
  backend: SelectedBackendName;
  /** The npm package that provided it. */
  package: string;
  /** Where the math runs. `tensorflow` from tfjs-node-gpu can still be `cpu` (see `warnings`). */
  device: 'gpu' | 'cpu';
  /** Kernels `@ssd/backend` registered so the backend can train (wasm only). */
  trainingKernels: readonly string[];
  /** Better backends that were tried and not used, best first. */
  skipped: SkippedBackend[];
  /** Things that work but not as one would expect (e.g. tfjs-node-gpu without CUDA). */
  warnings: string[];
}

/** Options of {@link selectBackend}. */
export interface SelectBackendOptions {
  /** `auto` (default): tfjs-node-gpu, then tfjs-node, then wasm, then cpu. */
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
}
