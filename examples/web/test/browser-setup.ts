import { describe, it } from 'vitest';
import { browserTestsAvailable } from '../harness/browser.mjs';

/**
 * `describe` for suites that need Chromium and the built site: skipped where
 * either is missing, except under `CI`, where their absence fails a test.
 */
export function describeInBrowser(name: string, suite: () => void): void {
  const available = browserTestsAvailable();
  if (!available.ok && process.env.CI) {
    describe(name, () => {
      it('needs Chromium and the built site in CI', () => {
        throw new Error(available.reason);
      });
    });
    return;
  }
  describe.skipIf(!available.ok)(
    available.ok ? name : `${name} (skipped: ${available.reason})`,
    suite,
  );
}
