import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import {
  CheckpointError,
  checkpointName,
  latestCheckpoint,
  listCheckpoints,
  loadCheckpoint,
  type CheckpointData,
} from './checkpoint';
import { type RunConfig, validateConfig } from './config';
import { UsageError, type ParsedFlags } from './flags';
import type { SavedTrainingState } from './state';

/** What a checkpoint stores besides tensors. */
export interface RunState {
  config: RunConfig;
  classes: string[];
  /** Position in the learning-rate schedule (step boundaries passed). */
  schedulePhase: number;
  /** Shuffle / augmentation state: every draw is a function of (seed, epoch, index). */
  sampling: { seed: number; epoch: number; batchInEpoch: number; batchesPerEpoch: number };
  backend: string;
  savedAt: string;
}

/** The `RunState` a checkpoint at `iteration` stores. */
export function runState(o: {
  config: RunConfig;
  classes: string[];
  iteration: number;
  schedulePhase: number;
  batchesPerEpoch: number;
  backend: string;
}): RunState {
  const per = o.batchesPerEpoch;
  return {
    config: o.config,
    classes: o.classes,
    schedulePhase: o.schedulePhase,
    sampling: {
      seed: o.config.seed,
      epoch: Math.floor(o.iteration / per),
      batchInEpoch: o.iteration % per,
      batchesPerEpoch: per,
    },
    backend: o.backend,
    savedAt: new Date().toISOString(),
  };
}

/** A checkpoint of this app, as `loadCheckpoint` reads it. */
export type RunCheckpoint = CheckpointData<SavedTrainingState<RunState>>;

/**
 * `target`, a checkpoint directory (it holds `state.json`) or a run folder (its
 * newest checkpoint in `checkpoints/`), as an absolute path; `flag` names the
 * command-line flag in the error when there is none.
 */
export async function findCheckpoint(target: string, flag: string): Promise<string> {
  const abs = path.resolve(target);
  if ((await fs.stat(path.join(abs, 'state.json')).catch(() => null)) !== null) return abs;
  const latest = await latestCheckpoint(path.join(abs, 'checkpoints'));
  if (!latest) throw noCheckpoint(target, flag);
  return latest;
}

function noCheckpoint(target: string, flag: string): UsageError {
  return new UsageError(
    `--${flag} ${target}: not a checkpoint directory, and no checkpoint in ${path.join(path.resolve(target), 'checkpoints')}`,
  );
}

/** Flags a resumed run may change; every other setting is the checkpoint's. */
const RESUME_OVERRIDABLE = new Set([
  'iterations',
  'backend',
  'workers',
  'eval-every',
  'checkpoint-every',
  'keep-checkpoints',
  'draw',
  'resume',
  'out',
  'max-nonfinite',
]);

/**
 * The checkpoint `--resume target` continues: `target` itself when it is a
 * checkpoint directory, else the newest intact one of the run folder `target`.
 * Each newer one that does not load (truncated, corrupt, non-finite, unreadable
 * `state.json`) is skipped with one line to `log` saying which and why.
 */
export async function resumableCheckpoint(
  target: string,
  log: (message: string) => void,
): Promise<{ checkpointDir: string; checkpoint: RunCheckpoint }> {
  const abs = path.resolve(target);
  if ((await fs.stat(path.join(abs, 'state.json')).catch(() => null)) !== null) {
    return { checkpointDir: abs, checkpoint: await loadRunCheckpoint(abs) };
  }
  const dir = path.join(abs, 'checkpoints');
  const iterations = (await listCheckpoints(dir)).reverse();
  if (iterations.length === 0) throw noCheckpoint(target, 'resume');
  let newestFault = '';
  for (const iteration of iterations) {
    const checkpointDir = path.join(dir, checkpointName(iteration));
    try {
      return { checkpointDir, checkpoint: await loadRunCheckpoint(checkpointDir) };
    } catch (e) {
      if (!(e instanceof CheckpointError)) throw e;
      log(`Skipping checkpoint ${checkpointName(iteration)}: ${e.message}`);
      newestFault ||= e.message;
    }
  }
  throw new CheckpointError(
    dir,
    `none of its ${iterations.length} checkpoints is intact (the newest: ${newestFault})`,
  );
}

/**
 * The config of a resumed run: the checkpoint's, with the few flags that may
 * change; the checkpoint is the newest intact one (see `resumableCheckpoint`).
 */
export async function resumeConfig(
  flags: ParsedFlags,
  log: (message: string) => void = () => {},
): Promise<{ config: RunConfig; checkpointDir: string }> {
  for (const name of Object.keys(flags)) {
    if (!RESUME_OVERRIDABLE.has(name)) {
      throw new UsageError(
        `--${name} cannot change when resuming (the run continues with its saved settings)`,
      );
    }
  }
  const { checkpointDir, checkpoint } = await resumableCheckpoint(flags.resume as string, log);
  const saved = checkpoint.state.extra.config;
  const config: RunConfig = {
    ...saved,
    // Runs saved before `--weights` existed have no such field.
    weights: saved.weights ?? null,
    out: path.resolve(path.dirname(path.dirname(checkpointDir))),
    iterations: (flags.iterations as number | undefined) ?? saved.iterations,
    backend: (flags.backend as RunConfig['backend'] | undefined) ?? saved.backend,
    workers: (flags.workers as number | undefined) ?? saved.workers,
    evalEvery: (flags['eval-every'] as number | undefined) ?? saved.evalEvery,
    checkpointEvery: (flags['checkpoint-every'] as number | undefined) ?? saved.checkpointEvery,
    keepCheckpoints: (flags['keep-checkpoints'] as number | undefined) ?? saved.keepCheckpoints,
    maxNonFinite: (flags['max-nonfinite'] as number | undefined) ?? saved.maxNonFinite,
    draw: (flags.draw as number | undefined) ?? saved.draw,
  };
  validateConfig(config);
  return { config, checkpointDir };
}

/**
 * The run `train` starts: `--resume`'s (config and checkpoint), or `config` for a
 * new run, refused when its folder already holds checkpoints.
 */
export async function startingPoint(
  config: RunConfig | null,
  flags: ParsedFlags,
  log: (message: string) => void = () => {},
): Promise<{ config: RunConfig; resumeFrom: string | null }> {
  if (flags.resume !== undefined) {
    const resumed = await resumeConfig(flags, log);
    return { config: resumed.config, resumeFrom: resumed.checkpointDir };
  }
  if (config === null) throw new UsageError('train: no configuration and no --resume');
  if ((await latestCheckpoint(path.join(config.out, 'checkpoints'))) !== undefined) {
    throw new UsageError(
      `${config.out} already holds checkpoints: pass --resume ${config.out} to continue it, or another --out`,
    );
  }
  return { config, resumeFrom: null };
}

/**
 * Reads and verifies a checkpoint of this app: `loadCheckpoint`'s checks, no
 * NaN/±Infinity in any tensor, and the run state (optimizer, config, classes)
 * present; every fault is a `CheckpointError` naming the file and field.
 */
export async function loadRunCheckpoint(checkpointDir: string): Promise<RunCheckpoint> {
  const data = await loadCheckpoint<SavedTrainingState<RunState>>(checkpointDir, {
    requireFinite: true,
  });
  const stateName = path.join(checkpointDir, 'state.json');
  const state = data.state as Partial<SavedTrainingState<Partial<RunState>>> | null;
  const isObject = (v: unknown): boolean => v !== null && typeof v === 'object';
  if (!isObject(state) || !isObject(state!.optimizer)) {
    throw new CheckpointError(
      stateName,
      'missing: not a checkpoint of train-voc',
      'state.optimizer',
    );
  }
  if (!isObject(state!.extra?.config)) {
    throw new CheckpointError(
      stateName,
      'missing: the run settings are needed to resume',
      'state.extra.config',
    );
  }
  if (!Array.isArray(state!.extra!.classes)) {
    throw new CheckpointError(stateName, 'missing: the class names', 'state.extra.classes');
  }
  return data;
}
