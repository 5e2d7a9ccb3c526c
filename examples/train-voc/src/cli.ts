import { resolveTrainConfig } from './config';
import { UsageError, helpText, parseCommandLine } from './flags';

async function main(argv: readonly string[]): Promise<number> {
  const parsed = parseCommandLine(argv);
  if (parsed.command === 'help') {
    process.stdout.write(`${helpText(parsed.flags.for as never)}\n`);
    return 0;
  }
  if (parsed.command === 'train') {
    const { runTrain } = await import('./train-command');
    const config = parsed.flags.resume === undefined ? resolveTrainConfig(parsed.flags) : null;
    await runTrain(config, parsed.flags);
    return 0;
  }
  if (parsed.command === 'evaluate') {
    const { runEvaluate } = await import('./infer-commands');
    await runEvaluate(parsed.flags);
    return 0;
  }
  const { runDetect } = await import('./infer-commands');
  await runDetect(parsed.flags, parsed.positionals);
  return 0;
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (e: unknown) => {
    if (e instanceof UsageError) {
      process.stderr.write(`error: ${e.message}\nRun with --help for every flag.\n`);
      process.exitCode = 2;
    } else if (e instanceof Error && e.name === 'NonFiniteLossError') {
      process.stderr.write(`\nerror: ${e.message}\n`);
      process.exitCode = 3;
    } else {
      process.stderr.write(`${(e as Error).stack ?? String(e)}\n`);
      process.exitCode = 1;
    }
  },
);
