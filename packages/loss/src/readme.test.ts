/**
 * Doc test: the README's complete Keras-style program (the `ts` block under
 * "A complete program") runs as it stands, against this package's source, and
 * trains to a finite loss.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { afterAll, describe, expect, it, vi } from 'vitest';

const packageDir = join(dirname(fileURLToPath(import.meta.url)), '..');

/** The first fenced `ts` block after the heading that starts with `heading`. */
function codeBlockAfter(markdown: string, heading: string): string {
  const at = markdown.indexOf(`\n### ${heading}`);
  if (at < 0) throw new Error(`README.md: no heading "### ${heading}"`);
  const block = /```ts\n([\s\S]*?)\n```/.exec(markdown.slice(at));
  if (!block) throw new Error(`README.md: no \`\`\`ts block after "### ${heading}"`);
  return block[1]!;
}

describe('README', () => {
  // Inside the package, so that the block's bare imports resolve as a user's would.
  const dir = mkdtempSync(join(packageDir, '.readme-doctest-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('the complete Keras-style program runs and its loss is finite', async () => {
    const code = codeBlockAfter(
      readFileSync(join(packageDir, 'README.md'), 'utf8'),
      'A complete program',
    );
    expect(code).toContain("from '@ssd/loss'");
    expect(code).not.toContain("@tensorflow/tfjs'");
    // This package as its source (its dist may not be built yet); everything else as installed.
    const source = code.replaceAll(
      "from '@ssd/loss'",
      `from ${JSON.stringify(join(packageDir, 'src/index.ts'))}`,
    );
    const file = join(dir, 'keras-program.ts');
    writeFileSync(file, source);
    const log = vi.spyOn(console, 'log').mockImplementation(() => {});
    try {
      await import(/* @vite-ignore */ pathToFileURL(file).href);
      const printed = log.mock.calls.find((args) => args[0] === 'loss per epoch');
      expect(printed, 'the program prints "loss per epoch"').toBeDefined();
      const losses = printed![1] as number[];
      expect(losses).toHaveLength(5);
      expect(losses.every(Number.isFinite)).toBe(true);
    } finally {
      log.mockRestore();
    }
  });
});
