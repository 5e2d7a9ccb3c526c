import type { ParsedFlags } from './flags';

/** How the CLI ends on an error: what it prints and its exit code. */
export interface Failure {
  /** One line, `error: …`, naming the file or flag and what to do. */
  readonly line: string;
  /** 2: the input (flags, data, weights, checkpoint) is wrong; 3: the training diverged; 1: a bug. */
  readonly exitCode: number;
  /** Whether the error is one of the typed errors users cause (no stack without `--verbose`). */
  readonly expected: boolean;
}

/**
 * The typed errors of the packages and the app, by `name` (a name survives a
 * worker thread and a second copy of a package, `instanceof` does not); each is
 * caused by the input, never by a bug.
 */
const INPUT_ERRORS = new Set([
  'UsageError',
  'DatasetLayoutError',
  'AnnotationError',
  'ImageError',
  'WeightImportError',
  'WeightsFileError',
  'CheckpointError',
  'StateMismatchError',
  'OptimizerStateError',
  'ScheduleError',
  'LoaderError',
  'EvaluationInputError',
  'EvaluationOptionError',
  'SsdConfigError',
  'AnchorConfigError',
  'AugmentOptionError',
  'MatcherInputError',
  'LossInputError',
  'DetectInputError',
  'BoxShapeError',
  'BoxArgumentError',
  'BackendUnavailableError',
  'TrainerError',
  'GpuError',
]);

const FILE_ERRNO = new Set(['ENOENT', 'ENOTDIR', 'EISDIR', 'EEXIST', 'EACCES', 'EPERM', 'ENOSPC']);

/** The flag that named a weights file, for a weights error's hint. */
function weightsFlag(flags: ParsedFlags): string {
  if (typeof flags['backbone-weights'] === 'string') return '--backbone-weights';
  if (typeof flags.weights === 'string') return '--weights';
  if (typeof flags.model === 'string') return '--model';
  return '--backbone-weights / --weights / --model';
}

/** What to do about an input error, by its name (and, for annotations, its field). */
function hint(e: Error & { reason?: unknown }, context: FailureContext): string {
  const flags = context.flags ?? {};
  switch (e.name) {
    case 'DatasetLayoutError':
      return (
        '--data takes a VOCdevkit (VOC<year>/…, splits as <year>-<split>) or one VOC folder ' +
        '(Annotations/, JPEGImages/, ImageSets/Main/<split>.txt; splits by name, e.g. --train trainval --test test)'
      );
    case 'AnnotationError':
      return typeof e.reason === 'string' && e.reason.startsWith('unknown class')
        ? 'pass the data set’s class names with --classes a,b,… (or --classes auto to read them ' +
            'from the annotations), or --unknown-class skip to drop objects of other classes'
        : 'fix the annotation, or remove its id from ImageSets/Main/<split>.txt';
    case 'ImageError':
      return context.command === 'detect'
        ? 'pass image files (JPEG, PNG, WebP, TIFF, GIF, AVIF) or folders holding them'
        : 'replace the image, or remove its id from ImageSets/Main/<split>.txt';
    case 'WeightImportError':
    case 'WeightsFileError':
      return `check ${weightsFlag(flags)}: the file is not usable as these weights`;
    case 'CheckpointError':
    case 'StateMismatchError':
    case 'OptimizerStateError':
      return 'the checkpoint is damaged or from another network: pass another one (a run folder’s checkpoints/ckpt-*)';
    default:
      return '';
  }
}

/** One line: newlines of a multi-line message folded into spaces. */
function oneLine(text: string): string {
  return text.replace(/\s*\n\s*/g, ' ').trim();
}

/** The command line the error came from (it picks the flag names of the hints). */
export interface FailureContext {
  readonly command?: string;
  readonly flags?: ParsedFlags;
}

/**
 * How the CLI reports `e`: typed input errors (and file-system errors naming a
 * path) as one `error:` line with what to do, exit 2; a diverged run exit 3;
 * anything else is a bug (exit 1, stack shown).
 */
export function describeFailure(e: unknown, context: FailureContext = {}): Failure {
  if (!(e instanceof Error)) {
    return { line: `error: ${oneLine(String(e))}`, exitCode: 1, expected: false };
  }
  if (e.name === 'NonFiniteLossError') {
    return { line: `error: ${oneLine(e.message)}`, exitCode: 3, expected: true };
  }
  if (INPUT_ERRORS.has(e.name)) {
    const what = hint(e, context);
    return {
      line: `error: ${oneLine(e.message)}${what ? ` — ${what}` : ''}`,
      exitCode: 2,
      expected: true,
    };
  }
  const errno = e as NodeJS.ErrnoException;
  if (typeof errno.code === 'string' && FILE_ERRNO.has(errno.code) && errno.path) {
    return {
      line: `error: ${errno.path}: ${oneLine(e.message.replace(/^\w+: /, ''))}`,
      exitCode: 2,
      expected: true,
    };
  }
  return { line: `error: ${oneLine(e.message)}`, exitCode: 1, expected: false };
}
