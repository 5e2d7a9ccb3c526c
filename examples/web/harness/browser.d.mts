import type { Browser, Page } from 'playwright-core';

export declare const SITE_DIR: string;
export declare const CHROMIUM_PATH: string;
export declare const CHROMIUM_ARGS: readonly string[];
export declare function serveStatic(
  root: string,
  mounts?: Record<string, string>,
): Promise<{ url: string; close(): Promise<void> }>;
export declare function browserTestsAvailable(): { ok: true } | { ok: false; reason: string };
export declare function launchChromium(): Promise<Browser>;
export declare function openApp(
  browser: Browser,
  siteUrl: string,
  options: {
    backend: string;
    model?: string;
    hash?: string;
    viewport?: { width: number; height: number };
    /** Script run in the page before its own (e.g. to change `navigator`). */
    initScript?: string;
  },
): Promise<{ page: Page; errors: string[] }>;
