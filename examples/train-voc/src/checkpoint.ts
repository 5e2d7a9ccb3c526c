import { createHash } from 'node:crypto';
import { promises as fs } from 'node:fs';
import * as path from 'node:path';

/**
 * A checkpoint on disk is a directory `ckpt-<iteration, 8 digits>/` holding
 * `tensors.bin` (raw little-endian float32, concatenated) and `state.json`
 * (everything else, plus each tensor's name, shape and byte range and the
 * SHA-256 of `tensors.bin`). It is written into a temporary sibling
 * directory, every file fsynced, then renamed into place and the parent
 * fsynced: a directory named `ckpt-*` is therefore always complete, and a
 * crash mid-write leaves at most a `.tmp-*` directory that the next run
 * removes. Re-saving an iteration first moves the old directory aside
 * (`.replaced-*`, put back by the next listing if a crash came before the new
 * one was in place), and older checkpoints are removed only after the new one
 * is: no sequence of saves, interrupted anywhere, leaves no complete checkpoint.
 */
export interface CheckpointTensor {
  readonly name: string;
  readonly shape: readonly number[];
  readonly values: Float32Array;
}

export interface CheckpointData<S = Record<string, unknown>> {
  readonly iteration: number;
  /** Model weights, in `model.weights` order. */
  readonly model: readonly CheckpointTensor[];
  /** Optimizer slot tensors, in the optimizer's order. */
  readonly optimizer: readonly CheckpointTensor[];
  /** JSON-serialisable rest: run config, schedule position, RNG state, optimizer scalars. */
  readonly state: S;
}

interface TensorEntry {
  name: string;
  shape: number[];
  group: 'model' | 'optimizer';
  offset: number;
  length: number;
}

interface StateFile {
  format: 'ssd-train-voc-checkpoint';
  version: 1;
  iteration: number;
  sha256: string;
  bytes: number;
  tensors: TensorEntry[];
  state: unknown;
}

/** A checkpoint that cannot be written or read as one; names the file and, where there is one, the field. */
export class CheckpointError extends Error {
  override readonly name = 'CheckpointError';
  constructor(
    readonly file: string,
    message: string,
    /** The field of `state.json` (`tensors[3].shape`) or the tensor that was wrong, when there is one. */
    readonly field?: string,
  ) {
    super(`${file}: ${field === undefined ? '' : `${field}: `}${message}`);
  }
}

const NAME = /^ckpt-(\d{8,})$/;
/** A checkpoint moved aside while the same iteration is re-saved: `.replaced-ckpt-<iteration>-<pid>`. */
const REPLACED = /^\.replaced-(ckpt-\d{8,})-(\d+)$/;

/** The index of the first NaN or ±Infinity in `values`, or −1 when every value is finite. */
export function firstNonFinite(values: Float32Array): number {
  for (let i = 0; i < values.length; i++) if (!Number.isFinite(values[i]!)) return i;
  return -1;
}

export function checkpointName(iteration: number): string {
  return `ckpt-${String(iteration).padStart(8, '0')}`;
}

/**
 * Test hook for the crash-safety test: with `SSD_TRAIN_VOC_CHECKPOINT_PAUSE_AT=<iteration>`
 * the writer of that iteration's checkpoint stops for a minute half-way through
 * `tensors.bin`, so the test can kill the process mid-write.
 */
function testPause(iteration: number): boolean {
  return Number(process.env.SSD_TRAIN_VOC_CHECKPOINT_PAUSE_AT ?? -1) === iteration;
}

async function writeFileSynced(
  file: string,
  chunks: readonly Uint8Array[],
  pause = false,
): Promise<void> {
  const handle = await fs.open(file, 'w');
  try {
    for (let i = 0; i < chunks.length; i++) {
      await handle.write(chunks[i]!);
      if (pause && i === Math.floor(chunks.length / 2)) {
        await new Promise((r) => setTimeout(r, 60_000));
      }
    }
    await handle.sync();
  } finally {
    await handle.close();
  }
}

async function syncDir(dir: string): Promise<void> {
  const handle = await fs.open(dir, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

function bytesOf(values: Float32Array): Uint8Array {
  // Float32Array is little-endian on every platform Node runs on (x64, arm64).
  return new Uint8Array(values.buffer, values.byteOffset, values.byteLength);
}

/**
 * Writes a checkpoint atomically into `dir` and deletes all but the newest
 * `keep` checkpoints. Returns the checkpoint's directory.
 */
export async function saveCheckpoint(
  dir: string,
  data: CheckpointData<unknown>,
  options: { keep: number } = { keep: 3 },
): Promise<string> {
  await fs.mkdir(dir, { recursive: true });
  const final = path.join(dir, checkpointName(data.iteration));
  const tmp = path.join(dir, `.tmp-${checkpointName(data.iteration)}-${process.pid}`);
  await fs.rm(tmp, { recursive: true, force: true });
  await fs.mkdir(tmp);

  const entries: TensorEntry[] = [];
  const chunks: Uint8Array[] = [];
  const hash = createHash('sha256');
  let offset = 0;
  for (const [group, list] of [
    ['model', data.model],
    ['optimizer', data.optimizer],
  ] as const) {
    for (const t of list) {
      const size = t.shape.reduce((a, b) => a * b, 1);
      if (size !== t.values.length) {
        throw new CheckpointError(
          t.name,
          `shape [${t.shape}] needs ${size} values, got ${t.values.length}`,
        );
      }
      const bytes = bytesOf(t.values);
      chunks.push(bytes);
      hash.update(bytes);
      entries.push({ name: t.name, shape: [...t.shape], group, offset, length: bytes.byteLength });
      offset += bytes.byteLength;
    }
  }
  const stateFile: StateFile = {
    format: 'ssd-train-voc-checkpoint',
    version: 1,
    iteration: data.iteration,
    sha256: hash.digest('hex'),
    bytes: offset,
    tensors: entries,
    state: data.state,
  };
  await writeFileSynced(path.join(tmp, 'tensors.bin'), chunks, testPause(data.iteration));
  await writeFileSynced(path.join(tmp, 'state.json'), [
    Buffer.from(JSON.stringify(stateFile, null, 1)),
  ]);
  await syncDir(tmp);
  // Re-saving the same iteration (Ctrl-C right after a periodic save) replaces it: the old
  // one is moved aside, not deleted, until the new one is in place (see `listCheckpoints`).
  const replaced = path.join(dir, `.replaced-${checkpointName(data.iteration)}-${process.pid}`);
  await fs.rm(replaced, { recursive: true, force: true });
  const hadOld = await fs.rename(final, replaced).then(
    () => true,
    (e: NodeJS.ErrnoException) => {
      if (e.code === 'ENOENT') return false;
      throw e;
    },
  );
  try {
    await fs.rename(tmp, final);
  } catch (e) {
    if (hadOld) await fs.rename(replaced, final);
    throw e;
  }
  await syncDir(dir);
  if (hadOld) await fs.rm(replaced, { recursive: true, force: true });
  await pruneCheckpoints(dir, options.keep, data.iteration);
  return final;
}

/**
 * Iterations of the complete checkpoints in `dir`, ascending. A checkpoint that a
 * writer killed mid-replacement left moved aside (`.replaced-*` with no `ckpt-*` of
 * its iteration) is put back first.
 */
export async function listCheckpoints(dir: string): Promise<number[]> {
  let names: string[];
  try {
    names = await fs.readdir(dir);
  } catch {
    return [];
  }
  let restored = false;
  for (const n of names) {
    const m = REPLACED.exec(n);
    if (m === null || names.includes(m[1]!)) continue;
    const pid = Number(m[2]);
    if (pid === process.pid || isAlive(pid)) continue;
    // A read-only folder keeps it aside: the rename fails and the iteration is not listed.
    restored =
      (await fs.rename(path.join(dir, n), path.join(dir, m[1]!)).then(
        () => true,
        () => false,
      )) || restored;
  }
  if (restored) names = await fs.readdir(dir);
  return names
    .map((n) => NAME.exec(n))
    .filter((m): m is RegExpExecArray => m !== null)
    .map((m) => Number(m[1]))
    .sort((a, b) => a - b);
}

/**
 * Removes leftovers of interrupted writes and all but the newest `keep` (at least
 * one) checkpoints up to `current`, the iteration just written, which always stays.
 * Checkpoints after `current` (a run resumed from an earlier one) are not the
 * writer's to remove.
 */
export async function pruneCheckpoints(
  dir: string,
  keep: number,
  current = Number.POSITIVE_INFINITY,
): Promise<void> {
  const iterations = (await listCheckpoints(dir)).filter((it) => it <= current);
  const names = await fs.readdir(dir);
  for (const n of names) {
    if (n.startsWith('.tmp-ckpt-') || (REPLACED.test(n) && names.includes(REPLACED.exec(n)![1]!))) {
      const pid = Number(n.split('-').pop());
      // Another live writer's temp directory is left alone.
      if (pid !== process.pid && isAlive(pid)) continue;
      if (pid === process.pid) continue;
      await fs.rm(path.join(dir, n), { recursive: true, force: true });
    }
  }
  const drop = iterations.slice(0, Math.max(0, iterations.length - Math.max(1, keep)));
  for (const it of drop) {
    await fs.rm(path.join(dir, checkpointName(it)), { recursive: true, force: true });
  }
}

function isAlive(pid: number): boolean {
  if (!Number.isInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** `state.json`, parsed and checked field by field; every fault is a `CheckpointError` naming it. */
async function readStateFile(stateName: string): Promise<StateFile> {
  let text: string;
  try {
    text = await fs.readFile(stateName, 'utf8');
  } catch (e) {
    throw new CheckpointError(stateName, `cannot read checkpoint state (${(e as Error).message})`);
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (e) {
    throw new CheckpointError(
      stateName,
      `cannot read checkpoint state: not valid JSON, truncated or corrupt (${(e as Error).message})`,
    );
  }
  const fail = (field: string, message: string): never => {
    throw new CheckpointError(stateName, message, field);
  };
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) {
    fail('(root)', 'expected a JSON object');
  }
  const file = parsed as Partial<StateFile>;
  if (file.format !== 'ssd-train-voc-checkpoint' || file.version !== 1) {
    fail('format', `not a version-1 ssd-train-voc checkpoint`);
  }
  const count = (v: unknown): boolean => Number.isSafeInteger(v) && (v as number) >= 0;
  if (!count(file.iteration))
    fail('iteration', `expected an integer ≥ 0, got ${JSON.stringify(file.iteration)}`);
  if (!count(file.bytes))
    fail('bytes', `expected an integer ≥ 0, got ${JSON.stringify(file.bytes)}`);
  if (typeof file.sha256 !== 'string' || !/^[0-9a-f]{64}$/.test(file.sha256)) {
    fail('sha256', `expected 64 hex digits, got ${JSON.stringify(file.sha256)}`);
  }
  if (!Array.isArray(file.tensors)) fail('tensors', 'expected an array');
  file.tensors!.forEach((e: Partial<TensorEntry>, i) => {
    const field = `tensors[${i}]`;
    if (e === null || typeof e !== 'object') fail(field, 'expected an object');
    if (typeof e.name !== 'string') fail(`${field}.name`, 'expected a string');
    if (e.group !== 'model' && e.group !== 'optimizer') {
      fail(`${field}.group`, `expected "model" or "optimizer", got ${JSON.stringify(e.group)}`);
    }
    if (!Array.isArray(e.shape) || !e.shape.every(count)) {
      fail(`${field}.shape`, `expected integers ≥ 0, got ${JSON.stringify(e.shape)}`);
    }
    const size = e.shape!.reduce((a, b) => a * b, 1);
    if (!count(e.offset) || !count(e.length) || e.length !== size * 4 || e.offset! % 4 !== 0) {
      fail(field, `tensor ${e.name}: byte range does not fit its shape`);
    }
    if (e.offset! + e.length! > file.bytes!) {
      fail(field, `tensor ${e.name}: byte range ends past the ${file.bytes} bytes of tensors.bin`);
    }
  });
  if (!('state' in file)) fail('state', 'missing');
  return file as StateFile;
}

/**
 * Reads and verifies (every field of `state.json`, size, SHA-256, shapes) one
 * checkpoint directory; with `requireFinite`, a NaN or ±Infinity in any tensor is
 * refused too, naming it. Every fault is a `CheckpointError` naming the file.
 */
export async function loadCheckpoint<S = Record<string, unknown>>(
  checkpointDir: string,
  options: { requireFinite?: boolean } = {},
): Promise<CheckpointData<S>> {
  const stateName = path.join(checkpointDir, 'state.json');
  const binName = path.join(checkpointDir, 'tensors.bin');
  const parsed = await readStateFile(stateName);
  const bin = await fs.readFile(binName).catch((e: Error) => {
    throw new CheckpointError(binName, `cannot read tensors (${e.message})`);
  });
  if (bin.byteLength !== parsed.bytes) {
    throw new CheckpointError(
      binName,
      `expected ${parsed.bytes} bytes, found ${bin.byteLength} (truncated or foreign file)`,
    );
  }
  const digest = createHash('sha256').update(bin).digest('hex');
  if (digest !== parsed.sha256) {
    throw new CheckpointError(binName, `SHA-256 mismatch: the file is corrupt`);
  }
  const model: CheckpointTensor[] = [];
  const optimizer: CheckpointTensor[] = [];
  for (const e of parsed.tensors) {
    // Copy out so the tensors do not pin the whole file buffer.
    const values = new Float32Array(e.length / 4);
    new Uint8Array(values.buffer).set(bin.subarray(e.offset, e.offset + e.length));
    const bad = options.requireFinite ? firstNonFinite(values) : -1;
    if (bad >= 0) {
      throw new CheckpointError(
        binName,
        `holds ${values[bad]} at index ${bad} of ${values.length}: the training had diverged or the file is corrupt`,
        `tensor ${e.name}`,
      );
    }
    (e.group === 'model' ? model : optimizer).push({ name: e.name, shape: e.shape, values });
  }
  return { iteration: parsed.iteration, model, optimizer, state: parsed.state as S };
}

/** The newest complete checkpoint in `dir`, or `undefined` when there is none. */
export async function latestCheckpoint(dir: string): Promise<string | undefined> {
  const iterations = await listCheckpoints(dir);
  const last = iterations[iterations.length - 1];
  return last === undefined ? undefined : path.join(dir, checkpointName(last));
}
