import { defineConfig, type Options } from 'tsup';

/**
 * The one build every library package shares: ESM + CJS + `.d.ts`/`.d.cts`
 * from each entry, tfjs left to the consumer (peer dependencies are external by
 * default).
 *
 * A package lists several entries when it has a Node-only part:
 * `libraryConfig({ entry: ['src/index.ts', 'src/node.ts'] })` builds `dist/index.*`
 * (the browser-safe main entry) and `dist/node.*` (its `./node` subpath export).
 * Code both entries use goes into shared chunks, in CJS as in ESM, so a class
 * such as an error type is one class whichever entry it is imported through.
 * Rollup (`treeshake`) turns those chunks into CommonJS; tsup's default for CJS
 * chunks (sucrase) would also rewrite class fields and optional chaining.
 */
export function libraryConfig(overrides: Options = {}) {
  const entry = overrides.entry ?? ['src/index.ts'];
  const severalEntries = Array.isArray(entry) ? entry.length > 1 : Object.keys(entry).length > 1;
  return defineConfig({
    entry,
    format: ['esm', 'cjs'],
    dts: true,
    sourcemap: true,
    clean: true,
    target: 'es2022',
    platform: 'neutral',
    ...(severalEntries ? { splitting: true, treeshake: true } : {}),
    ...overrides,
  });
}
