import { existsSync, readFileSync } from 'node:fs';
import * as path from 'node:path';
import { SSD300_VOC, SSD512_VOC } from '@ssd/anchors';
import { ssdFeatureMapSizes, type SsdNormalization } from '@ssd/vgg-ssd';
import type { OptimizerKind } from './optimizer';
import { UsageError, type ParsedFlags } from './flags';
import { RECIPES, type Recipe } from './recipes';

export { RECIPES, SHAPES_RECIPE, SSD300_RECIPE, SSD512_RECIPE } from './recipes';
export type { Recipe } from './recipes';

export type PresetName = 'ssd300' | 'ssd512' | 'shapes';
export type BackendPreference = 'auto' | 'tensorflow' | 'webgpu' | 'wasm' | 'cpu';

/** Everything that defines a training run; stored in every checkpoint so `--resume` is exact. */
export interface RunConfig {
  readonly preset: PresetName;
  /**
   * A VOCdevkit root (splits `<year>-<split>`) or one VOC folder holding
   * `Annotations/` (splits by name); `null` = the generated shapes set.
   */
  readonly data: string | null;
  readonly train: readonly string[];
  readonly test: readonly string[];
  /**
   * Class names in label order; `null` = the preset's (VOC's 20, or the 6 shapes);
   * `['auto']` = read from the training annotations (sorted) when the data is opened.
   */
  readonly classes: readonly string[] | null;
  /** An object of a class not in `classes`: stop (`error`) or drop it (`skip`). Absent in runs saved before it existed. */
  readonly unknownClass?: 'error' | 'skip';
  readonly inputSize: number;
  readonly widthMultiplier: number;
  /** Multiplies the preprocessed input inside the network (1: the paper's, for pretrained weights). */
  readonly inputScale: number;
  readonly init: 'glorot' | 'he' | 'lsuv';
  /** Batch norm after the backbone and extra convs (absent in runs saved before it existed: `none`). */
  readonly normalization?: SsdNormalization;
  readonly augment: 'ssd' | 'light';
  readonly backboneWeights: string | null;
  /** `--weights`: a whole detector to fine-tune from (safetensors file or model folder). */
  readonly weights: string | null;
  readonly backend: BackendPreference;
  readonly workers: number | null;
  /** `--cache` (absent in runs saved before it existed: `auto`). */
  readonly cache?: ImageCache;
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

function timestamp(date: Date): string {
  const p = (n: number): string => String(n).padStart(2, '0');
  return `${date.getFullYear()}${p(date.getMonth() + 1)}${p(date.getDate())}-${p(date.getHours())}${p(date.getMinutes())}${p(date.getSeconds())}`;
}

/** Whether `data` is one VOC folder (it holds `Annotations/`) rather than a VOCdevkit. */
export function isVocFolder(data: string | null): boolean {
  return data !== null && existsSync(path.join(data, 'Annotations'));
}

/** The splits of a plain VOC folder when `--train`/`--test` are not given. */
export const FOLDER_SPLITS = { train: ['trainval'], test: ['test'] } as const;

/**
 * The recipe's iteration counts (lr steps, warm-up, checkpoint and evaluation
 * intervals) stretched to a run of `iterations` instead of the recipe's length.
 */
export function scaledSchedule(
  r: Pick<Recipe, 'iterations' | 'lrSteps' | 'warmup' | 'checkpointEvery' | 'evalEvery'>,
  iterations: number,
): Pick<Recipe, 'lrSteps' | 'warmup' | 'checkpointEvery' | 'evalEvery'> {
  const f = iterations / r.iterations;
  const steps: number[] = [];
  for (const s of r.lrSteps.map((v) => Math.round(v * f))) {
    if (s > 0 && s > (steps[steps.length - 1] ?? 0)) steps.push(s);
  }
  return {
    lrSteps: steps,
    warmup: Math.round(r.warmup * f),
    checkpointEvery: Math.max(1, Math.round(r.checkpointEvery * f)),
    evalEvery: r.evalEvery === 0 ? 0 : Math.max(1, Math.round(r.evalEvery * f)),
  };
}

/**
 * `--normalization` when not given: the network pretrained weights fit. A
 * `--backbone-weights` VGG16 and a torchvision `--weights` file have no batch
 * norm; a `--weights` model folder has what its `model.json` says; else the
 * recipe's.
 */
function defaultNormalization(flags: ParsedFlags, r: Recipe): SsdNormalization {
  if (typeof flags['backbone-weights'] === 'string') return 'none';
  if (typeof flags.weights === 'string') {
    const file = path.resolve(flags.weights);
    if (file.endsWith('.safetensors')) return 'none';
    const modelJson = file.endsWith('.json') ? file : path.join(file, 'model.json');
    try {
      return readFileSync(modelJson, 'utf8').includes('"SsdBatchNorm"') ? 'batch' : 'none';
    } catch {
      return 'none'; // loading the weights reports the missing file
    }
  }
  return r.normalization ?? 'none';
}

/** The run configuration from parsed flags over the preset's recipe. */
export function resolveTrainConfig(flags: ParsedFlags, now = new Date()): RunConfig {
  const data = typeof flags.data === 'string' ? path.resolve(flags.data) : null;
  const folder = isVocFolder(data);
  const preset = (flags.preset as PresetName | undefined) ?? (data ? 'ssd300' : 'shapes');
  if (preset === 'shapes' && data && !folder && flags.train === undefined) {
    throw new UsageError('--preset shapes with --data: also pass --train and --test splits');
  }
  const recipe = RECIPES[preset];
  // Iteration counts the user did not set follow --iterations.
  const r: Recipe =
    typeof flags.iterations === 'number'
      ? { ...recipe, ...scaledSchedule(recipe, flags.iterations) }
      : recipe;
  const get = <T>(name: string, fallback: T): T => (flags[name] as T | undefined) ?? fallback;
  const config: RunConfig = {
    preset,
    data,
    train: get('train', folder ? FOLDER_SPLITS.train : r.train),
    test: get('test', folder ? FOLDER_SPLITS.test : r.test),
    classes: (flags.classes as string[] | undefined) ?? null,
    unknownClass: get('unknown-class', 'error'),
    inputSize: get('input-size', r.inputSize),
    widthMultiplier: get('width', r.widthMultiplier),
    inputScale: get('input-scale', r.inputScale),
    init: get('init', r.init),
    normalization: get('normalization', defaultNormalization(flags, r)),
    augment: get('augment', r.augment),
    backboneWeights:
      typeof flags['backbone-weights'] === 'string'
        ? path.resolve(flags['backbone-weights'])
        : null,
    weights: typeof flags.weights === 'string' ? path.resolve(flags.weights) : null,
    backend: get('backend', 'auto'),
    workers: (flags.workers as number | undefined) ?? null,
    cache: parseImageCache(get('cache', 'auto')),
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

/**
 * How the training images are cached between epochs: `auto` (full size when the
 * decoded set fits {@link AUTO_CACHE_BYTES}, else not at all), `full`, `off`, or a
 * number: kept downscaled to at most that many pixels a side.
 */
export type ImageCache = 'auto' | 'full' | 'off' | number;

function parseImageCache(raw: string | number): ImageCache {
  if (raw === 'auto' || raw === 'full' || raw === 'off') return raw;
  const n = Number(raw);
  if (String(raw).trim() !== '' && Number.isInteger(n) && n > 0) return n;
  throw new UsageError(
    `--cache: expected auto, full, off or a positive integer (pixels a side), got '${raw}'`,
  );
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
  checkInputSize(c.preset, c.inputSize);
  if (c.workers !== null) positive('workers', c.workers);
  if (c.weights && c.backboneWeights) {
    throw new UsageError(
      '--weights and --backbone-weights: pass one (--weights loads the whole detector, backbone included)',
    );
  }
  if (c.normalization === 'batch' && c.backboneWeights) {
    throw new UsageError(
      '--normalization batch with --backbone-weights: pretrained VGG16 weights have no batch norm; train from scratch or drop --normalization',
    );
  }
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
  if (!isVocFolder(c.data)) for (const split of [...c.train, ...c.test]) parseSplit(split);
  if (c.classes !== null && c.classes.includes('auto') && c.classes.length > 1) {
    throw new UsageError(`--classes: 'auto' stands alone, got ${c.classes.join(',')}`);
  }
}

/**
 * The smallest input side each preset's network can be built at (every feature
 * map ≥ 1 px; `ssdFeatureMapSizes`): ssd300 and shapes have 6 maps, ssd512 7.
 */
export const MIN_INPUT_SIZE: Readonly<Record<PresetName, number>> = {
  ssd300: 32,
  shapes: 32,
  ssd512: 268,
};

function checkInputSize(preset: PresetName, inputSize: number): void {
  const anchors = preset === 'ssd512' ? SSD512_VOC : SSD300_VOC;
  try {
    ssdFeatureMapSizes({ preset: anchors, inputSize });
  } catch {
    throw new UsageError(
      `--input-size ${inputSize}: the ${preset} network needs an input of at least ${MIN_INPUT_SIZE[preset]} px`,
    );
  }
}

/** What is legal but probably not meant: an lr step the run never reaches. */
export function configWarnings(c: RunConfig): string[] {
  if (c.lrSchedule !== 'step') return [];
  const beyond = c.lrSteps.filter((s) => s > c.iterations);
  return beyond.length === 0
    ? []
    : [
        `warning: --lr-steps ${beyond.join(',')} ${beyond.length > 1 ? 'are' : 'is'} beyond --iterations ${c.iterations}: the learning rate never drops there`,
      ];
}

/** `2007-trainval` → { year: '2007', split: 'trainval' }. */
export function parseSplit(spec: string): { year: string; split: string } {
  const m = /^([A-Za-z0-9_]+)-([A-Za-z0-9_]+)$/.exec(spec);
  if (!m) {
    throw new UsageError(`split '${spec}': expected <year>-<split>, e.g. 2007-trainval`);
  }
  return { year: m[1]!, split: m[2]! };
}
