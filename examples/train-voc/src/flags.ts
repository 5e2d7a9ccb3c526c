import { parseArgs } from 'node:util';
import { EVAL_BATCH_SIZE, RECIPES, type Recipe } from './recipes';

/** A command-line mistake; the message says which flag and what was wrong. */
export class UsageError extends Error {
  override readonly name = 'UsageError';
}

export type Command = 'train' | 'evaluate' | 'detect';
export const COMMANDS: readonly Command[] = ['train', 'evaluate', 'detect'];

type Kind = 'string' | 'number' | 'integer' | 'boolean' | 'list' | 'numbers';

interface FlagSpec {
  readonly name: string;
  readonly kind: Kind;
  readonly commands: readonly Command[];
  /** What `--help` prints as the default (for a `recipe` flag: before the presets' values). */
  readonly defaultText: string;
  /** The recipe setting the flag overrides: `--help` prints each preset's value. */
  readonly recipe?: keyof Recipe;
  readonly help: string;
  readonly choices?: readonly string[];
  /** Smallest accepted value of a number flag, checked when the command line is parsed. */
  readonly min?: number;
}

const ALL: readonly Command[] = COMMANDS;
const TRAIN: readonly Command[] = ['train'];
const EVAL: readonly Command[] = ['train', 'evaluate'];
const SCALED =
  ' When not given, scaled from the preset’s value by --iterations / the preset’s iterations.';

/**
 * Every flag of every command, its default and its meaning; a flag read by
 * several commands in different ways has one entry per meaning. Recipe flags
 * print each preset's value (ssd300, ssd512: the paper; shapes: `npm start`).
 */
export const FLAGS: readonly FlagSpec[] = [
  {
    name: 'data',
    kind: 'string',
    commands: TRAIN,
    defaultText: 'generated shapes set in data/shapes-voc',
    help: 'A VOCdevkit (holding VOC2007/, VOC2012/ …; splits <year>-<split>) or one VOC folder (Annotations/, JPEGImages/, ImageSets/Main/<split>.txt; splits by name, default trainval and test). Without it, the synthetic shapes data set is generated once (cached) and used.',
  },
  {
    name: 'data',
    kind: 'string',
    commands: ['evaluate'],
    defaultText: 'the run’s',
    help: 'A VOCdevkit or one VOC folder, as for train.',
  },
  {
    name: 'train',
    kind: 'list',
    commands: TRAIN,
    recipe: 'train',
    defaultText: 'trainval in a VOC folder, else',
    help: 'Training splits, comma-separated: <year>-<split> in a VOCdevkit, the split name in a VOC folder.',
  },
  {
    name: 'test',
    kind: 'list',
    commands: TRAIN,
    recipe: 'test',
    defaultText: 'test in a VOC folder, else',
    help: 'Evaluation splits, comma-separated, named as --train’s.',
  },
  {
    name: 'test',
    kind: 'list',
    commands: ['evaluate'],
    defaultText: 'the run’s',
    help: 'Evaluation splits, comma-separated, named as train’s --train.',
  },
  {
    name: 'classes',
    kind: 'list',
    commands: TRAIN,
    defaultText: 'the 20 VOC classes (shapes: the 6 shapes)',
    help: 'Class names in label order (label i+1 = i-th name), for your own data in VOC layout; auto: every name in the training annotations, sorted (printed, and saved in the model).',
  },
  {
    name: 'preset',
    kind: 'string',
    commands: TRAIN,
    choices: ['ssd300', 'ssd512', 'shapes'],
    defaultText: 'ssd300 with --data, else shapes',
    help: 'Network + anchors + recipe: ssd300 / ssd512 (the paper) or shapes (the small CPU demo).',
  },
  {
    name: 'width',
    kind: 'number',
    commands: TRAIN,
    recipe: 'widthMultiplier',
    defaultText: '',
    help: 'Width multiplier for every convolution (1 = the paper’s VGG16).',
  },
  {
    name: 'input-scale',
    kind: 'number',
    commands: TRAIN,
    recipe: 'inputScale',
    defaultText: '',
    help: 'Constant the preprocessed (0–255 minus mean) input is multiplied by inside the network: 1 for pretrained VGG16 weights; ~1/58 (unit variance) from scratch.',
  },
  {
    name: 'input-size',
    kind: 'integer',
    commands: TRAIN,
    recipe: 'inputSize',
    defaultText: '',
    help: 'Side of the square network input in pixels; anchors follow the real feature maps.',
  },
  {
    name: 'augment',
    kind: 'string',
    commands: TRAIN,
    choices: ['ssd', 'light'],
    recipe: 'augment',
    defaultText: '',
    help: 'ssd: the paper’s photometric + zoom-out + IoU crop + flip; light: photometric + flip only (short schedules).',
  },
  {
    name: 'init',
    kind: 'string',
    commands: TRAIN,
    choices: ['glorot', 'he', 'lsuv'],
    recipe: 'init',
    defaultText: '',
    help: 'Initialisation when training from scratch: glorot (tfjs default); he (He-normal backbone and extras, heads glorot); lsuv (He-normal, then every conv rescaled in order to unit-variance output on training images).',
  },
  {
    name: 'normalization',
    kind: 'string',
    commands: TRAIN,
    choices: ['none', 'batch'],
    recipe: 'normalization',
    defaultText: '',
    help: 'none: the paper’s VGG16; batch: batch norm after every backbone and extra conv (ScratchDet; from scratch: pretrained VGG16 weights have none). With --backbone-weights the default is none, with --weights what the weights hold.',
  },
  {
    name: 'backbone-weights',
    kind: 'string',
    commands: TRAIN,
    defaultText: 'none (random init)',
    help: 'Pretrained VGG16 backbone: torchvision vgg16 .safetensors, or a Keras/tfjs VGG16 model.json.',
  },
  {
    name: 'weights',
    kind: 'string',
    commands: TRAIN,
    defaultText: 'none',
    help: 'Fine-tune from a whole detector: a torchvision ssd300_vgg16 .safetensors, or a model/ folder saved by this app. Class heads of another class count are re-initialised.',
  },
  {
    name: 'backend',
    kind: 'string',
    commands: ALL,
    choices: ['auto', 'tensorflow', 'webgpu', 'wasm', 'cpu'],
    defaultText: 'auto',
    help: 'auto: tfjs-node-gpu, then tfjs-node, then webgpu on a hardware GPU (any Vulkan/Metal/D3D12 driver, no CUDA), then wasm (with training kernels), then cpu. webgpu takes a software adapter (SwiftShader) too.',
  },
  {
    name: 'workers',
    kind: 'integer',
    min: 1,
    commands: TRAIN,
    defaultText: 'CPU cores on wasm, else 1',
    help: 'Data-parallel worker threads (wasm/cpu backends): each computes gradients on a slice of the batch.',
  },
  {
    name: 'cache',
    kind: 'string',
    commands: TRAIN,
    defaultText: 'auto',
    help: 'Decoded training images kept in memory between epochs: auto (full size when they fit in 512 MiB, else none: the same training either way), full, off, or N (kept downscaled to at most N px a side: far less memory and no decoding after the first epoch, but training sees other pixels).',
  },
  {
    name: 'optimizer',
    kind: 'string',
    commands: TRAIN,
    choices: ['sgd', 'adam'],
    recipe: 'optimizer',
    defaultText: '',
    help: 'sgd: momentum SGD (the paper); adam: Adam. Weight decay applies to weights only.',
  },
  {
    name: 'lr',
    kind: 'number',
    commands: TRAIN,
    recipe: 'lr',
    defaultText: '',
    help: 'Base learning rate.',
  },
  {
    name: 'momentum',
    kind: 'number',
    commands: TRAIN,
    recipe: 'momentum',
    defaultText: '',
    help: 'SGD momentum.',
  },
  {
    name: 'weight-decay',
    kind: 'number',
    commands: TRAIN,
    recipe: 'weightDecay',
    defaultText: '',
    help: 'L2 weight decay on conv kernels (not biases, not the L2Norm scale).',
  },
  {
    name: 'batch-size',
    kind: 'integer',
    min: 1,
    commands: TRAIN,
    recipe: 'batchSize',
    defaultText: '',
    help: `Images per training step (train's evaluations take at most ${EVAL_BATCH_SIZE} at a time).`,
  },
  {
    name: 'batch-size',
    kind: 'integer',
    min: 1,
    commands: ['evaluate'],
    defaultText: String(EVAL_BATCH_SIZE),
    help: 'Test images per detector call.',
  },
  {
    name: 'iterations',
    kind: 'integer',
    min: 1,
    commands: TRAIN,
    recipe: 'iterations',
    defaultText: '',
    help: 'Training steps in total (a resumed run counts from 0, not from the resume).',
  },
  {
    name: 'lr-schedule',
    kind: 'string',
    commands: TRAIN,
    choices: ['step', 'cosine'],
    recipe: 'lrSchedule',
    defaultText: '',
    help: 'step: ×--lr-gamma at each --lr-steps boundary (the paper); cosine: half a cosine from --lr after warm-up to 0 at --iterations (--lr-steps ignored).',
  },
  {
    name: 'lr-steps',
    kind: 'numbers',
    commands: TRAIN,
    recipe: 'lrSteps',
    defaultText: '',
    help: `Iterations at which the learning rate is multiplied by --lr-gamma ('none' for none).${SCALED}`,
  },
  {
    name: 'lr-gamma',
    kind: 'number',
    commands: TRAIN,
    recipe: 'lrGamma',
    defaultText: '',
    help: 'Learning-rate factor at each --lr-steps boundary.',
  },
  {
    name: 'warmup',
    kind: 'integer',
    commands: TRAIN,
    recipe: 'warmup',
    defaultText: '',
    help: `Iterations of linear learning-rate warm-up from lr/3 (0 = none, as the paper).${SCALED}`,
  },
  {
    name: 'eval-every',
    kind: 'integer',
    commands: TRAIN,
    recipe: 'evalEvery',
    defaultText: '',
    help: `Evaluate mAP on the test split every N iterations (0 = only at the end).${SCALED}`,
  },
  {
    name: 'checkpoint-every',
    kind: 'integer',
    commands: TRAIN,
    recipe: 'checkpointEvery',
    defaultText: '',
    help: `Write a checkpoint every N iterations (and at the end, and on Ctrl-C).${SCALED}`,
  },
  {
    name: 'keep-checkpoints',
    kind: 'integer',
    min: 1,
    commands: TRAIN,
    recipe: 'keepCheckpoints',
    defaultText: '',
    help: 'How many of the newest checkpoints to keep.',
  },
  {
    name: 'max-nonfinite',
    kind: 'integer',
    min: 1,
    commands: TRAIN,
    recipe: 'maxNonFinite',
    defaultText: '',
    help: 'Stop after this many consecutive batches with a non-finite loss (each is skipped and logged).',
  },
  {
    name: 'seed',
    kind: 'integer',
    commands: TRAIN,
    defaultText: '1',
    help: 'Seed for initialisation, shuffling and augmentation.',
  },
  {
    name: 'out',
    kind: 'string',
    commands: TRAIN,
    defaultText: 'runs/<preset>-<date-time>',
    help: 'Run folder: model/, checkpoints/, metrics.jsonl, plots, summary.json (made once the data and flags are checked).',
  },
  {
    name: 'out',
    kind: 'string',
    commands: ['evaluate'],
    defaultText: 'the run folder (or the model’s folder)',
    help: 'Where evaluation-<iteration>.json, its PR curves and drawn test images go (the paths are printed).',
  },
  {
    name: 'out',
    kind: 'string',
    commands: ['detect'],
    defaultText: 'the first free <run>/detections, detections-2, …',
    help: 'Where the annotated PNGs and detections.json go; a folder holding an earlier detections.json is refused without --overwrite.',
  },
  {
    name: 'overwrite',
    kind: 'boolean',
    commands: ['detect'],
    defaultText: 'off',
    help: 'Let --out replace the results of an earlier detect.',
  },
  {
    name: 'resume',
    kind: 'string',
    commands: TRAIN,
    defaultText: 'none',
    help: 'Continue a run exactly: a run folder (its newest checkpoint) or a checkpoint directory. The run’s saved settings are used; --iterations may extend it (a cosine schedule then stretches to the new length).',
  },
  {
    name: 'checkpoint',
    kind: 'string',
    commands: ['evaluate', 'detect'],
    defaultText: 'required (or --model)',
    help: 'A run folder (its newest checkpoint) or a checkpoint directory: the network is rebuilt from its settings.',
  },
  {
    name: 'model',
    kind: 'string',
    commands: ['evaluate', 'detect'],
    defaultText: 'none',
    help: 'Instead of --checkpoint: a saved model folder (a run’s model/, what @ssd/detect’s loadSsd loads).',
  },
  {
    name: 'method',
    kind: 'string',
    commands: EVAL,
    choices: ['voc07', 'voc12'],
    defaultText: 'voc07',
    help: 'AP method: voc07 = 11-point (the paper, VOC2007 test), voc12 = area under the envelope.',
  },
  {
    name: 'score-threshold',
    kind: 'number',
    commands: ['detect'],
    defaultText: '0.5',
    help: 'Boxes below this score are not drawn or written.',
  },
  {
    name: 'draw',
    kind: 'integer',
    commands: EVAL,
    defaultText: '8',
    help: 'How many test images to render with their predicted boxes.',
  },
  {
    name: 'unknown-class',
    kind: 'string',
    commands: EVAL,
    choices: ['error', 'skip'],
    defaultText: 'error',
    help: 'An object whose class is not in --classes: error (stop, naming the file) or skip (drop the object, count it).',
  },
  {
    name: 'verbose',
    kind: 'boolean',
    commands: ALL,
    defaultText: 'off',
    help: 'On an error, print the stack trace too.',
  },
  {
    name: 'help',
    kind: 'boolean',
    commands: ALL,
    defaultText: '',
    help: 'Show this help.',
  },
];

export type ParsedFlags = Record<string, string | number | boolean | string[] | number[]>;

export interface ParsedCommandLine {
  readonly command: Command | 'help';
  readonly flags: ParsedFlags;
  readonly positionals: readonly string[];
}

function convert(spec: FlagSpec, raw: string): string | number | string[] | number[] {
  const bad = (what: string): never => {
    throw new UsageError(`--${spec.name}: expected ${what}, got '${raw}'`);
  };
  switch (spec.kind) {
    case 'number': {
      const v = Number(raw);
      return raw.trim() !== '' && Number.isFinite(v) ? v : bad('a number');
    }
    case 'integer': {
      const v = Number(raw);
      if (!(raw.trim() !== '' && Number.isInteger(v) && v >= 0)) bad('a non-negative integer');
      if (spec.min !== undefined && v < spec.min) {
        throw new UsageError(`--${spec.name}: must be ≥ ${spec.min}, got ${v}`);
      }
      return v;
    }
    case 'list': {
      const items = raw
        .split(',')
        .map((s) => s.trim())
        .filter(Boolean);
      return items.length > 0 ? items : bad('a comma-separated list');
    }
    case 'numbers': {
      if (raw.trim() === '' || raw.trim() === 'none') return [];
      const items = raw.split(',').map((s) => Number(s.trim()));
      return items.every((v) => Number.isFinite(v)) ? items : bad('comma-separated numbers');
    }
    default: {
      if (spec.choices && !spec.choices.includes(raw)) bad(`one of ${spec.choices.join(', ')}`);
      return raw;
    }
  }
}

/** Parses `argv` (without node and the script): `<command> [flags] [positionals]`. */
export function parseCommandLine(argv: readonly string[]): ParsedCommandLine {
  const [first, ...rest] = argv;
  if (first === undefined || first === '--help' || first === '-h' || first === 'help') {
    return { command: 'help', flags: {}, positionals: [] };
  }
  if (!(COMMANDS as readonly string[]).includes(first)) {
    throw new UsageError(`unknown command '${first}': expected one of ${COMMANDS.join(', ')}`);
  }
  const command = first as Command;
  const specs = FLAGS.filter((f) => f.commands.includes(command));
  const options = Object.fromEntries(
    specs.map((f) => [f.name, { type: f.kind === 'boolean' ? 'boolean' : 'string' } as const]),
  );
  let parsed: ReturnType<typeof parseArgs>;
  try {
    parsed = parseArgs({
      args: [...rest],
      options: { ...options, help: { type: 'boolean', short: 'h' } },
      allowPositionals: true,
      strict: true,
    });
  } catch (e) {
    throw new UsageError(`${command}: ${(e as Error).message}`);
  }
  const flags: ParsedFlags = {};
  for (const spec of specs) {
    const raw = parsed.values[spec.name];
    if (raw === undefined) continue;
    flags[spec.name] = typeof raw === 'boolean' ? raw : convert(spec, raw as string);
  }
  if (parsed.values.help) return { command: 'help', flags: { for: command }, positionals: [] };
  if (command !== 'detect' && parsed.positionals.length > 0) {
    throw new UsageError(`${command}: unexpected argument '${parsed.positionals[0]}'`);
  }
  return { command, flags, positionals: parsed.positionals };
}

/** A recipe value as a flag would take it: lists comma-separated, an input scale as 1/58. */
function formatSetting(key: keyof Recipe, value: unknown): string {
  if (Array.isArray(value)) return value.length === 0 ? 'none' : value.join(',');
  if (key === 'inputScale' && typeof value === 'number' && value < 1) {
    return `1/${Math.round(1 / value)}`;
  }
  return String(value);
}

/** `ssd300, ssd512: 0.001; shapes: 0.002`: each preset's value of a recipe setting. */
export function recipeDefaults(key: keyof Recipe): string {
  const groups = new Map<string, string[]>();
  for (const [preset, recipe] of Object.entries(RECIPES)) {
    const text = formatSetting(key, recipe[key]);
    groups.set(text, [...(groups.get(text) ?? []), preset]);
  }
  if (groups.size === 1) return [...groups.keys()][0]!;
  return [...groups].map(([text, presets]) => `${presets.join(', ')}: ${text}`).join('; ');
}

/** The `--help` text: every flag of every command with its default. */
export function helpText(only?: Command): string {
  const lines = [
    'ssd-train-voc — train, evaluate and run SSD (VGG16) with TensorFlow.js',
    '',
    'Usage:',
    '  ssd-train-voc train    [flags]                 train (and evaluate at the end)',
    '  ssd-train-voc evaluate --checkpoint <run> [flags]   VOC mAP on the test split',
    '  ssd-train-voc detect   --checkpoint <run> <image|folder>... [flags]',
    '                                                 annotated PNGs + detections.json',
    '',
    'Without --data the synthetic shapes set is used (npm start runs `train` this way).',
    '',
  ];
  for (const command of only ? [only] : COMMANDS) {
    lines.push(`Flags of ${command}:`);
    for (const f of FLAGS.filter((s) => s.commands.includes(command))) {
      const arg = f.kind === 'boolean' ? '' : f.choices ? ` <${f.choices.join('|')}>` : ' <value>';
      const defaults = [f.defaultText, f.recipe ? recipeDefaults(f.recipe) : '']
        .filter(Boolean)
        .join(' ');
      lines.push(`  --${f.name}${arg}`);
      lines.push(`      ${f.help}${defaults ? ` (default: ${defaults})` : ''}`);
    }
    lines.push('');
  }
  return lines.join('\n');
}
