export { LoaderError, createLoader, disposeBatch } from './loader';
export type {
  ArrayBatch,
  EncodeTargets,
  Loader,
  LoaderOptions,
  LoaderSample,
  LoaderSource,
  PreparedSample,
  Rng,
  TensorBatch,
} from './loader';
