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
