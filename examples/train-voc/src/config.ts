import * as path from 'node:path';
import type { OptimizerKind } from './optimizer';
import { UsageError, type ParsedFlags } from './flags';

export type PresetName = 'ssd300' | 'ssd512' | 'shapes';
export type BackendPreference = 'auto' | 'tensorflow' | 'wasm' | 'cpu';

/** Everything that defines a training run; stored in every checkpoint so `--resume` is exact. */
export interface RunConfig {
  readonly preset: PresetName;
  /** VOCdevkit root; `null` = the generated shapes set. */
  readonly data: string | null;
  readonly train: readonly string[];
  readonly test: readonly string[];
  /** Class names in label order; `null` = the preset's (VOC's 20, or the 6 shapes). */
  readonly classes: readonly string[] | null;
  readonly inputSize: number;
  readonly widthMultiplier: number;
  /** Multiplies the preprocessed input inside the network (1: the paper's, for pretrained weights). */
  readonly inputScale: number;
  readonly init: 'glorot' | 'he' | 'lsuv';
  readonly augment: 'ssd' | 'light';
  readonly backboneWeights: string | null;
  readonly backend: BackendPreference;
  readonly workers: number | null;
  readonly optimizer: OptimizerKind;
  readonly lr: number;
  readonly momentum: number;
  readonly weightDecay: number;
  readonly batchSize: number;
  readonly iterations: number;
  /** `step`: ×lrGamma at each of lrSteps (the paper); `cosine`: cosine decay to 0 over the run. */
  readonly lrSchedule: 'step' | 'cosine';
  readonly lrSteps: readonly number[];
  readonly lrGamma: number;
  readonly warmup: number;
  readonly evalEvery: number;
  readonly checkpointEvery: number;
  readonly keepCheckpoints: number;
  readonly maxNonFinite: number;
  readonly seed: number;
  readonly out: string;
  readonly method: 'voc07' | 'voc12';
  readonly draw: number;
}

type Recipe = Omit<
  RunConfig,
  | 'data'
  | 'classes'
  | 'backboneWeights'
  | 'backend'
  | 'workers'
  | 'seed'
  | 'out'
  | 'method'
  | 'draw'
>;

/** The paper's SSD300 recipe on VOC07+12 (Liu et al. 2016, §3 and the Caffe release). */
export const SSD300_RECIPE: Recipe = Object.freeze({
  preset: 'ssd300',
  train: ['2007-trainval', '2012-trainval'],
  test: ['2007-test'],
  inputSize: 300,
  widthMultiplier: 1,
  inputScale: 1,
  init: 'glorot',
  augment: 'ssd',
  optimizer: 'sgd',
  lr: 1e-3,
  momentum: 0.9,
  weightDecay: 5e-4,
  batchSize: 32,
  iterations: 120_000,
  lrSchedule: 'step',
  lrSteps: [80_000, 100_000],
  lrGamma: 0.1,
  warmup: 0,
  evalEvery: 10_000,
  checkpointEvery: 5_000,
  keepCheckpoints: 3,
  maxNonFinite: 5,
});

/** SSD512 on VOC07+12, same solver as SSD300 (the Caffe release's `ssd_pascal_512.py`). */
export const SSD512_RECIPE: Recipe = Object.freeze({
  ...SSD300_RECIPE,
  preset: 'ssd512',
  inputSize: 512,
});

/**
 * The embedded CPU demo that `npm start` runs on the generated shapes set:
 * the same VGG16-SSD at a reduced width and input size. Chosen from the
 * measurements in the README.
 */
export const SHAPES_RECIPE: Recipe = Object.freeze({
  preset: 'shapes',
  train: ['shapes-trainval'],
  test: ['shapes-test'],
  inputSize: 128,
  widthMultiplier: 0.125,
  inputScale: 1 / 58,
  init: 'lsuv',
  augment: 'light',
  optimizer: 'adam',
  lr: 2e-3,
  momentum: 0.9,
  weightDecay: 5e-4,
  batchSize: 16,
  iterations: 1600,
  lrSchedule: 'step',
  lrSteps: [1380, 1540],
  lrGamma: 0.1,
  warmup: 30,
  evalEvery: 0,
  checkpointEvery: 100,
  keepCheckpoints: 3,
  maxNonFinite: 5,
});

export const RECIPES: Readonly<Record<PresetName, Recipe>> = Object.freeze({
  ssd300: SSD300_RECIPE,
  ssd512: SSD512_RECIPE,
  shapes: SHAPES_RECIPE,
});

function timestamp(date: Date): string {
  const p = (n: number): string => String(n).padStart(2, '0');
  return `${date.getFullYear()}${p(date.getMonth() + 1)}${p(date.getDate())}-${p(date.getHours())}${p(date.getMinutes())}${p(date.getSeconds())}`;
}

/** The run configuration from parsed flags over the preset's recipe. */
export function resolveTrainConfig(flags: ParsedFlags, now = new Date()): RunConfig {
  const data = typeof flags.data === 'string' ? path.resolve(flags.data) : null;
  const preset = (flags.preset as PresetName | undefined) ?? (data ? 'ssd300' : 'shapes');
  if (preset === 'shapes' && data && flags.train === undefined) {
    throw new UsageError('--preset shapes with --data: also pass --train and --test splits');
  }
  const r = RECIPES[preset];
  const get = <T>(name: string, fallback: T): T => (flags[name] as T | undefined) ?? fallback;
  const config: RunConfig = {
    preset,
    data,
    train: get('train', r.train),
    test: get('test', r.test),
    classes: (flags.classes as string[] | undefined) ?? null,
    inputSize: get('input-size', r.inputSize),
    widthMultiplier: get('width', r.widthMultiplier),
    inputScale: get('input-scale', r.inputScale),
    init: get('init', r.init),
    augment: get('augment', r.augment),
    backboneWeights:
      typeof flags['backbone-weights'] === 'string'
        ? path.resolve(flags['backbone-weights'])
        : null,
    backend: get('backend', 'auto'),
    workers: (flags.workers as number | undefined) ?? null,
    optimizer: get('optimizer', r.optimizer),
    lr: get('lr', r.lr),
    momentum: get('momentum', r.momentum),
    weightDecay: get('weight-decay', r.weightDecay),
    batchSize: get('batch-size', r.batchSize),
    iterations: get('iterations', r.iterations),
    lrSchedule: get('lr-schedule', r.lrSchedule),
    lrSteps: get('lr-steps', r.lrSteps),
    lrGamma: get('lr-gamma', r.lrGamma),
    warmup: get('warmup', r.warmup),
    evalEvery: get('eval-every', r.evalEvery),
    checkpointEvery: get('checkpoint-every', r.checkpointEvery),
    keepCheckpoints: get('keep-checkpoints', r.keepCheckpoints),
    maxNonFinite: get('max-nonfinite', r.maxNonFinite),
    seed: get('seed', 1),
    out: path.resolve(get('out', path.join('runs', `${preset}-${timestamp(now)}`))),
    method: get('method', 'voc07'),
    draw: get('draw', 8),
  };
  validateConfig(config);
  return config;
}

export function validateConfig(c: RunConfig): void {
  const positive = (name: string, v: number): void => {
    if (!(v > 0 && Number.isFinite(v))) throw new UsageError(`--${name}: must be > 0, got ${v}`);
  };
  positive('lr', c.lr);
  positive('width', c.widthMultiplier);
  positive('input-scale', c.inputScale);
  positive('batch-size', c.batchSize);
  positive('iterations', c.iterations);
  positive('keep-checkpoints', c.keepCheckpoints);
  positive('max-nonfinite', c.maxNonFinite);
  positive('input-size', c.inputSize);
  if (c.workers !== null) positive('workers', c.workers);
  if (!(c.momentum >= 0 && c.momentum < 1)) {
    throw new UsageError(`--momentum: must be in [0, 1), got ${c.momentum}`);
  }
  if (!(c.weightDecay >= 0)) {
    throw new UsageError(`--weight-decay: must be ≥ 0, got ${c.weightDecay}`);
  }
  if (c.lrSchedule === 'cosine' && !(c.iterations > c.warmup)) {
    throw new UsageError(
      `--lr-schedule cosine: --iterations (${c.iterations}) must be larger than --warmup (${c.warmup})`,
    );
  }
  c.lrSteps.forEach((s, i) => {
    if (!(Number.isInteger(s) && s > 0 && (i === 0 || s > (c.lrSteps[i - 1] as number)))) {
      throw new UsageError(`--lr-steps: must be increasing positive integers, got ${c.lrSteps}`);
    }
  });
  for (const split of [...c.train, ...c.test]) parseSplit(split);
}

/** `2007-trainval` → { year: '2007', split: 'trainval' }. */
export function parseSplit(spec: string): { year: string; split: string } {
  const m = /^([A-Za-z0-9_]+)-([A-Za-z0-9_]+)$/.exec(spec);
  if (!m) {
    throw new UsageError(`split '${spec}': expected <year>-<split>, e.g. 2007-trainval`);
  }
  return { year: m[1]!, split: m[2]! };
}
