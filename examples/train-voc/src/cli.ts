import { UsageError, helpText, parseCommandLine } from './flags';

async function main(argv: readonly string[]): Promise<number> {
  const parsed = parseCommandLine(argv);
  if (parsed.command === 'help') {
    process.stdout.write(`${helpText(parsed.flags.for as never)}\n`);
    return 0;
  }
  throw new UsageError(`${parsed.command}: not wired yet`);
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (e: unknown) => {
    if (e instanceof UsageError) {
      process.stderr.write(`error: ${e.message}\nRun with --help for every flag.\n`);
      process.exitCode = 2;
    } else {
      process.stderr.write(`${(e as Error).stack ?? String(e)}\n`);
      process.exitCode = 1;
    }
  },
);
