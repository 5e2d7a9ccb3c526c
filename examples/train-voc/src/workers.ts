import type { BackendChoice } from './backend';
import type { RunConfig } from './config';
import type { Network } from './network';
import type { GradientEngine } from './trainer';

/** Data-parallel gradients across worker threads (wired to `@ssd/backend` when it provides them). */
export async function createWorkerEngine(_options: {
  config: RunConfig;
  classes: readonly string[];
  backend: BackendChoice;
  net: Network;
}): Promise<GradientEngine> {
  throw new Error('worker data-parallel training is not available yet; run with --workers 1');
}
