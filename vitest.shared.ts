import { defineConfig } from 'vitest/config';

/**
 * Shared vitest settings. Tensor suites register their backend in a setup
 * file; `SSD_TEST_BACKEND` selects it (default `cpu`).
 */
export function testConfig(options: { setupFiles?: string[]; testTimeout?: number } = {}) {
  return defineConfig({
    test: {
      include: ['src/**/*.test.ts', 'test/**/*.test.ts'],
      environment: 'node',
      setupFiles: options.setupFiles ?? [],
      testTimeout: options.testTimeout ?? 60_000,
      pool: 'forks',
    },
  });
}
