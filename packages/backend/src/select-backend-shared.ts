import type { BackendSelection, SkippedBackend } from './select-backend-types';

/** `import(specifier)`, or the test/bundler seam that replaces it. */
export type ModuleLoader = (specifier: string) => Promise<unknown>;

/** One backend tried: chosen, or why not (one entry per package tried). */
export type Attempt =
  | { ok: true; selection: Omit<BackendSelection, 'skipped'> }
  | { ok: false; skipped: SkippedBackend[] };

/** Whether `error` is the module loader saying `specifier` is not installed. */
export function isNotInstalled(error: unknown, specifier: string): boolean {
  const e = error as { code?: string; message?: string } | null;
  const code = e?.code;
  if (code === 'ERR_MODULE_NOT_FOUND' || code === 'MODULE_NOT_FOUND') {
    return (e?.message ?? '').includes(specifier);
  }
  return false;
}

/** The first line of an error's message. */
export function describeError(error: unknown): string {
  return error instanceof Error ? error.message.split('\n')[0]! : String(error);
}

/** `not installed`, or the load error, for a package whose import failed. */
export function loadFailure(error: unknown, specifier: string): string {
  return isNotInstalled(error, specifier)
    ? 'not installed'
    : `failed to load: ${describeError(error)}`;
}

/** tfjs-node and Dawn's `webgpu` package need Node; in a browser (or a worker there) they are not tried. */
export function runsInNode(): boolean {
  const { process } = globalThis as { process?: { versions?: { node?: unknown } } };
  return typeof process?.versions?.node === 'string';
}
