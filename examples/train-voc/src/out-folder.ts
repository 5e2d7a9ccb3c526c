import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import { UsageError } from './flags';

/**
 * Checks, before any work, that `out` can be a folder: it is one already, or it
 * does not exist and its nearest existing parent is a folder (not a file).
 */
export async function checkOutFolder(out: string, flag = '--out'): Promise<void> {
  let at = path.resolve(out);
  for (;;) {
    const stat = await fs.stat(at).catch(() => null);
    if (stat !== null) {
      if (stat.isDirectory()) return;
      throw new UsageError(
        at === path.resolve(out)
          ? `${flag} ${out}: is a file, not a folder; pass a folder (new or existing)`
          : `${flag} ${out}: ${at} is a file, so no folder can be made under it`,
      );
    }
    const parent = path.dirname(at);
    if (parent === at) return;
    at = parent;
  }
}

/**
 * Creates `out` with its missing parents; returns the topmost folder it created
 * (`undefined` when `out` existed), so that a run that fails before writing
 * anything worth keeping can remove what it made.
 */
export async function makeOutFolder(out: string): Promise<string | undefined> {
  return fs.mkdir(out, { recursive: true });
}

/**
 * `base` if it is free (missing, or an empty folder), else the first free
 * `base-2`, `base-3`, …: earlier results are never overwritten.
 */
export async function freeFolder(base: string): Promise<string> {
  for (let n = 1; ; n++) {
    const candidate = n === 1 ? base : `${base}-${n}`;
    const stat = await fs.stat(candidate).catch(() => null);
    if (stat === null) return candidate;
    if (stat.isDirectory() && (await fs.readdir(candidate)).length === 0) return candidate;
  }
}
