import { resolveTrainConfig } from './config';
import { describeFailure, type FailureContext } from './failure';
import { helpText, parseCommandLine } from './flags';

/** What the failure report knows of the command line once it is parsed. */
const context: { command?: string; flags?: FailureContext['flags'] } = {};

async function main(argv: readonly string[]): Promise<number> {
  const parsed = parseCommandLine(argv);
  // --verbose is this file's alone (a resumed run takes only the flags it may change).
  const { verbose: _verbose, ...flags } = parsed.flags;
  context.command = parsed.command;
  context.flags = flags;
  if (parsed.command === 'help') {
    process.stdout.write(`${helpText(flags.for as never)}\n`);
    return 0;
  }
  if (parsed.command === 'train') {
    const { runTrain } = await import('./train-command');
    const config = flags.resume === undefined ? resolveTrainConfig(flags) : null;
    await runTrain(config, flags);
    return 0;
  }
  if (parsed.command === 'evaluate') {
    const { runEvaluate } = await import('./infer-commands');
    await runEvaluate(flags);
    return 0;
  }
  const { runDetect } = await import('./infer-commands');
  await runDetect(flags, parsed.positionals);
  return 0;
}

const argv = process.argv.slice(2);
main(argv).then(
  (code) => {
    process.exitCode = code;
  },
  (e: unknown) => {
    // One line for what the user can fix; the stack only with --verbose (or for a bug).
    const failure = describeFailure(e, context);
    const verbose = argv.includes('--verbose');
    process.stderr.write(`\n${failure.line}\n`);
    if (verbose || !failure.expected) {
      process.stderr.write(`${(e as Error).stack ?? String(e)}\n`);
    } else if ((e as Error).name === 'UsageError') {
      process.stderr.write('Run with --help for every flag.\n');
    }
    process.exitCode = failure.exitCode;
  },
);
