import { defineConfig, type Options } from 'tsup';

/**
 * The one build every library package shares: ESM + CJS + `.d.ts`/`.d.cts`
 * from `src/index.ts`, tfjs left to the consumer (peer dependencies are
 * external by default).
 */
export function libraryConfig(overrides: Options = {}) {
  return defineConfig({
    entry: ['src/index.ts'],
    format: ['esm', 'cjs'],
    dts: true,
    sourcemap: true,
    clean: true,
    target: 'es2022',
    platform: 'neutral',
    ...overrides,
  });
}
