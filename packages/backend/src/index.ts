export { selectBackend } from './select-backend';
export type {
  BackendPreference,
  BackendSelection,
  SelectBackendOptions,
  SelectedBackendName,
  SkippedBackend,
} from './select-backend';
export { registerWasmTrainingKernels } from './wasm-kernels';
export type { WasmTrainingKernels } from './wasm-kernels';
export { BackendUnavailableError, TrainerError } from './errors';
export { createDataParallelTrainer } from './data-parallel';
export type {
  DataParallelTrainer,
  DataParallelTrainerOptions,
  StepOptions,
  StepResult,
} from './data-parallel';
export type { BatchArray, NamedWeight, TrainingBatch, VariableSpec } from './protocol';
export type { CreateReplica, Replica, ReplicaContext, ReplicaLoss, ReplicaModel } from './replica';
