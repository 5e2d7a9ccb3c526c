import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import { latestCheckpoint, loadCheckpoint, type CheckpointData } from './checkpoint';
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
  if (!latest) {
    throw new UsageError(
      `--${flag} ${target}: not a checkpoint directory, and no checkpoint in ${path.join(abs, 'checkpoints')}`,
    );
  }
  return latest;
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

/** The config of a resumed run: the checkpoint's, with the few flags that may change. */
export async function resumeConfig(
  flags: ParsedFlags,
): Promise<{ config: RunConfig; checkpointDir: string }> {
  const checkpointDir = await findCheckpoint(flags.resume as string, 'resume');
  for (const name of Object.keys(flags)) {
    if (!RESUME_OVERRIDABLE.has(name)) {
      throw new UsageError(
        `--${name} cannot change when resuming (the run continues with its saved settings)`,
      );
    }
  }
  const raw = JSON.parse(await fs.readFile(path.join(checkpointDir, 'state.json'), 'utf8')) as {
    state: SavedTrainingState<RunState>;
  };
  const saved = raw.state.extra.config;
  const config: RunConfig = {
    ...saved,
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
): Promise<{ config: RunConfig; resumeFrom: string | null }> {
  if (flags.resume !== undefined) {
    const resumed = await resumeConfig(flags);
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

/** Reads and verifies a checkpoint of this app. */
export async function loadRunCheckpoint(checkpointDir: string): Promise<RunCheckpoint> {
  return loadCheckpoint<SavedTrainingState<RunState>>(checkpointDir);
}
