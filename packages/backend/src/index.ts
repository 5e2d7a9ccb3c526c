export { selectBackend } from './select-backend';
export type {
  BackendPreference,
  BackendSelection,
  SelectBackendOptions,
  SelectedBackendName,
  SkippedBackend,
} from './select-backend-types';
export { registerWasmTrainingKernels } from './wasm-kernels';
export type { WasmTrainingKernels } from './wasm-kernels';
export { BackendUnavailableError, TrainerError } from './errors';
