export { selectBackend } from './select-backend';
export { adapterName } from './select-backend-gpu';
export type {
  BackendPreference,
  BackendSelection,
  GpuAdapterDescription,
  SelectBackendOptions,
  SelectedBackendName,
  SkippedBackend,
} from './select-backend-types';
export { releaseBackwardMemory } from './backward-memory';
export type { BackwardMemoryRelease } from './backward-memory';
export { configureWasmGemm, hasRelaxedSimd, wasmGemmInfo } from './kernels/gemm';
export type { WasmGemmInfo, WasmGemmOptions } from './kernels/gemm';
export { registerWasmTrainingKernels } from './wasm-kernels';
export type { WasmTrainingKernels } from './wasm-kernels';
export { BackendUnavailableError, GpuError, TrainerError } from './errors';
