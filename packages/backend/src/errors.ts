import type { SkippedBackend } from './select-backend-types';

/** A `prefer`red backend (or, for `auto`, every backend) could not be used. */
export class BackendUnavailableError extends Error {
  override readonly name = 'BackendUnavailableError';

  constructor(
    /** What was asked for. */
    readonly preference: string,
    /** Each package tried and why it was not used. */
    readonly tried: readonly SkippedBackend[],
    /** The command that installs what is missing. */
    readonly install: string,
  ) {
    super(
      `selectBackend({ prefer: '${preference}' }): no usable backend. ` +
        tried.map((t) => `${t.package}: ${t.reason}`).join('; ') +
        `. To install: ${install}`,
    );
  }
}

/**
 * The GPU reported an error that tfjs did not see: WebGPU validation and
 * out-of-memory errors arrive as `uncapturederror` events, and the work they hit
 * is dropped without an exception (a training step would read a loss of 0).
 * {@link selectBackend} hands them to `onGpuError`.
 */
export class GpuError extends Error {
  override readonly name = 'GpuError';

  constructor(
    /** The backend whose device reported it. */
    readonly backend: 'webgpu',
    /** The driver's message. */
    readonly detail: string,
  ) {
    super(
      `${backend}: the GPU reported an error, and results computed since are wrong: ${detail.split('\n')[0]}`,
    );
  }
}

/** A worker of a data-parallel trainer failed, or was given something it cannot use. */
export class TrainerError extends Error {
  override readonly name = 'TrainerError';

  constructor(
    message: string,
    /** Index of the worker that reported the error, when there is one. */
    readonly workerIndex?: number,
  ) {
    super(message);
  }
}
