export { createLoader } from './loader';
export { mapConcurrent } from './concurrency';
export { disposeBatch } from './batch';
export { LoaderError } from './errors';
export type {
  EncodeTargets,
  HostBatch,
  Loader,
  LoaderOptions,
  LoaderSample,
  LoaderSource,
  PreparedSample,
  Rng,
  StepRange,
  TensorBatch,
} from './types';
