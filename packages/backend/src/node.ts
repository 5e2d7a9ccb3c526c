// The Node-only part of @ssd/backend: synchronous data-parallel training on worker
// threads, and the threaded wasm build on worker threads. Backend selection, the wasm training kernels and the errors are in the
// main entry, which runs in a browser.
export { createDataParallelTrainer } from './data-parallel';
export type {
  DataParallelTrainer,
  DataParallelTrainerOptions,
  StepOptions,
  StepResult,
} from './data-parallel';
export type { BatchArray, NamedWeight, TrainingBatch, VariableSpec } from './protocol';
export type { CreateReplica, Replica, ReplicaContext, ReplicaLoss, ReplicaModel } from './replica';
export { enableWasmThreads, MAX_WASM_THREADS } from './wasm-threads';
