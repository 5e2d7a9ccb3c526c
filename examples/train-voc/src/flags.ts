import { parseArgs } from 'node:util';

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
  /** What `--help` prints as the default. */
  readonly defaultText: string;
  readonly help: string;
  readonly choices?: readonly string[];
}

const ALL: readonly Command[] = COMMANDS;
const TRAIN: readonly Command[] = ['train'];
const EVAL: readonly Command[] = ['train', 'evaluate'];

/**
 * Every flag, its default and its meaning. Defaults written "paper / shapes"
 * differ between the full-VOC presets (ssd300, ssd512: the paper's recipe)
 * and the embedded `shapes` demo that `npm start` runs.
 */
export const FLAGS: readonly FlagSpec[] = [
  {
    name: 'data',
    kind: 'string',
    commands: EVAL,
    defaultText: 'generated shapes set in data/shapes-voc',
    help: 'VOCdevkit directory (holding VOC2007/, VOC2012/ …). Without it, the synthetic shapes data set is generated once (cached) and used.',
  },
  {
    name: 'train',
    kind: 'list',
    commands: TRAIN,
    defaultText: '2007-trainval,2012-trainval / shapes: shapes-trainval',
    help: 'Training splits as <year>-<split>, comma-separated.',
  },
  {
    name: 'test',
    kind: 'list',
    commands: EVAL,
    defaultText: '2007-test / shapes: shapes-test',
    help: 'Evaluation splits as <year>-<split>, comma-separated.',
  },
  {
    name: 'classes',
    kind: 'list',
    commands: TRAIN,
    defaultText: 'the 20 VOC classes / shapes: the 6 shapes',
    help: 'Class names in label order (label i+1 = i-th name), for other data sets in VOC layout.',
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
    defaultText: '1 / shapes: see README',
    help: 'Width multiplier for every convolution (1 = the paper’s VGG16).',
  },
  {
    name: 'input-scale',
    kind: 'number',
    commands: TRAIN,
    defaultText: '1 / shapes: 1/58',
    help: 'Constant the preprocessed (0–255 minus mean) input is multiplied by inside the network: 1 for pretrained VGG16 weights; ~1/58 (unit variance) from scratch.',
  },
  {
    name: 'input-size',
    kind: 'integer',
    commands: TRAIN,
    defaultText: 'the preset’s (300, 512; shapes: see README)',
    help: 'Side of the square network input in pixels; anchors follow the real feature maps.',
  },
  {
    name: 'augment',
    kind: 'string',
    commands: TRAIN,
    choices: ['ssd', 'light'],
    defaultText: 'ssd / shapes: see README',
    help: 'ssd: the paper’s photometric + zoom-out + IoU crop + flip; light: photometric + flip only (short schedules).',
  },
  {
    name: 'init',
    kind: 'string',
    commands: TRAIN,
    choices: ['glorot', 'he', 'lsuv'],
    defaultText: 'glorot / shapes: see README',
    help: 'Initialisation when training from scratch: glorot (tfjs default); he (He-normal backbone and extras, heads glorot); lsuv (He-normal, then every conv rescaled in order to unit-variance output on training images).',
  },
  {
    name: 'backbone-weights',
    kind: 'string',
    commands: TRAIN,
    defaultText: 'none (random init)',
    help: 'Pretrained VGG16 backbone: torchvision vgg16 .safetensors, or a Keras/tfjs VGG16 model.json.',
  },
  {
    name: 'backend',
    kind: 'string',
    commands: ALL,
    choices: ['auto', 'tensorflow', 'wasm', 'cpu'],
    defaultText: 'auto',
    help: 'auto: tfjs-node-gpu, then tfjs-node, then wasm (with training kernels), then cpu.',
  },
  {
    name: 'workers',
    kind: 'integer',
    commands: TRAIN,
    defaultText: 'CPU cores on wasm, else 1',
    help: 'Data-parallel worker threads (wasm/cpu backends): each computes gradients on a slice of the batch.',
  },
  {
    name: 'optimizer',
    kind: 'string',
    commands: TRAIN,
    choices: ['sgd', 'adam'],
    defaultText: 'sgd / shapes: see README',
    help: 'sgd: momentum SGD (the paper); adam: Adam. Weight decay applies to weights only.',
  },
  {
    name: 'lr',
    kind: 'number',
    commands: TRAIN,
    defaultText: '0.001 / shapes: see README',
    help: 'Base learning rate.',
  },
  {
    name: 'momentum',
    kind: 'number',
    commands: TRAIN,
    defaultText: '0.9',
    help: 'SGD momentum.',
  },
  {
    name: 'weight-decay',
    kind: 'number',
    commands: TRAIN,
    defaultText: '0.0005',
    help: 'L2 weight decay on conv kernels (not biases, not the L2Norm scale).',
  },
  {
    name: 'batch-size',
    kind: 'integer',
    commands: ALL,
    defaultText: '32 / shapes: see README',
    help: 'Images per training step (evaluation batches use the same size).',
  },
  {
    name: 'iterations',
    kind: 'integer',
    commands: TRAIN,
    defaultText: '120000 / shapes: see README',
    help: 'Training steps in total (a resumed run counts from 0, not from the resume).',
  },
  {
    name: 'lr-schedule',
    kind: 'string',
    commands: TRAIN,
    choices: ['step', 'cosine'],
    defaultText: 'step / shapes: see README',
    help: 'step: ×--lr-gamma at each --lr-steps boundary (the paper); cosine: half a cosine from --lr after warm-up to 0 at --iterations (--lr-steps ignored).',
  },
  {
    name: 'lr-steps',
    kind: 'numbers',
    commands: TRAIN,
    defaultText: '80000,100000 / shapes: see README',
    help: 'Iterations at which the learning rate is multiplied by --lr-gamma.',
  },
  {
    name: 'lr-gamma',
    kind: 'number',
    commands: TRAIN,
    defaultText: '0.1',
    help: 'Learning-rate factor at each --lr-steps boundary.',
  },
  {
    name: 'warmup',
    kind: 'integer',
    commands: TRAIN,
    defaultText: '0 / shapes: see README',
    help: 'Iterations of linear learning-rate warm-up from lr/3 (0 = none, as the paper).',
  },
  {
    name: 'eval-every',
    kind: 'integer',
    commands: TRAIN,
    defaultText: '10000 / shapes: 0',
    help: 'Evaluate mAP on the test split every N iterations (0 = only at the end).',
  },
  {
    name: 'checkpoint-every',
    kind: 'integer',
    commands: TRAIN,
    defaultText: '5000 / shapes: see README',
    help: 'Write a checkpoint every N iterations (and at the end, and on Ctrl-C).',
  },
  {
    name: 'keep-checkpoints',
    kind: 'integer',
    commands: TRAIN,
    defaultText: '3',
    help: 'How many of the newest checkpoints to keep.',
  },
  {
    name: 'max-nonfinite',
    kind: 'integer',
    commands: TRAIN,
    defaultText: '5',
    help: 'Stop after this many consecutive batches with a non-finite loss (each is skipped and logged).',
  },
  {
    name: 'seed',
    kind: 'integer',
    commands: ALL,
    defaultText: '1',
    help: 'Seed for initialisation, shuffling and augmentation.',
  },
  {
    name: 'out',
    kind: 'string',
    commands: ALL,
    defaultText: 'runs/<preset>-<date-time> (detect: <checkpoint>/detections)',
    help: 'Run folder: model/, checkpoints/, metrics.jsonl, plots, summary.json.',
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
      return raw.trim() !== '' && Number.isInteger(v) && v >= 0 ? v : bad('a non-negative integer');
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
      lines.push(`  --${f.name}${arg}`);
      lines.push(`      ${f.help}${f.defaultText ? ` (default: ${f.defaultText})` : ''}`);
    }
    lines.push('');
  }
  return lines.join('\n');
}
