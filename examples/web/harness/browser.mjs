// @ts-check
/* global window, URLSearchParams -- page.evaluate callbacks run in the browser */
// Serves the built site on 127.0.0.1 and drives Debian's Chromium with playwright-core:
// shared by the browser tests (examples/web/test) and tools/bench/web-inference.mjs.
import { existsSync } from 'node:fs';
import { readFile, stat } from 'node:fs/promises';
import { createServer } from 'node:http';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';

/** The built site (`npx nx run @ssd/web:build`). */
export const SITE_DIR = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../dist');

/** Where the tests and the bench look for a browser (`CHROMIUM` overrides). */
export const CHROMIUM_PATH = process.env.CHROMIUM ?? '/usr/bin/chromium';

/**
 * Headless Chromium with WebGPU on SwiftShader's Vulkan (a CPU emulation; Debian's
 * `chromium` ships it) and WebGL2 on ANGLE over the same driver. `--enable-unsafe-webgpu`
 * is what exposes `navigator.gpu` on Linux; `--use-webgpu-adapter=swiftshader` picks
 * the software adapter where a GPU is also present, so results are the same on every
 * machine. The rest keeps a test browser from reaching the network.
 */
export const CHROMIUM_ARGS = [
  '--no-sandbox',
  '--enable-unsafe-webgpu',
  '--use-webgpu-adapter=swiftshader',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--no-first-run',
];

const MIME = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json',
  '.wasm': 'application/wasm',
  '.png': 'image/png',
  '.jpg': 'image/jpeg',
  '.bin': 'application/octet-stream',
};

/**
 * A static file server on `http://127.0.0.1:<free port>` (a secure context, which
 * `navigator.gpu` needs): `/` is `root`, and each `mounts` entry (`/fixture` →
 * a folder) serves another folder.
 * @param {string} root
 * @param {Record<string, string>} [mounts]
 * @returns {Promise<{ url: string, close(): Promise<void> }>}
 */
export async function serveStatic(root, mounts = {}) {
  const server = createServer(async (request, response) => {
    const urlPath = decodeURIComponent(new URL(request.url ?? '/', 'http://x').pathname);
    let base = root;
    let rest = urlPath;
    for (const [prefix, dir] of Object.entries(mounts)) {
      if (urlPath.startsWith(`${prefix}/`)) {
        base = dir;
        rest = urlPath.slice(prefix.length);
      }
    }
    const file = path.join(base, path.normalize(rest === '/' ? '/index.html' : rest));
    const inside = file.startsWith(path.resolve(base) + path.sep);
    const info = inside ? await stat(file).catch(() => null) : null;
    if (!info?.isFile()) {
      response.writeHead(404).end('not found');
      return;
    }
    const type = MIME[/** @type {keyof typeof MIME} */ (path.extname(file))];
    response.writeHead(200, {
      'Content-Type': type ?? 'application/octet-stream',
      'Cache-Control': 'no-store',
      // Cross-origin isolation, as vite.config.ts serves the site: wasm's threaded build.
      'Cross-Origin-Opener-Policy': 'same-origin',
      'Cross-Origin-Embedder-Policy': 'require-corp',
    });
    response.end(await readFile(file));
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve(undefined)));
  const address = /** @type {import('node:net').AddressInfo} */ (server.address());
  return {
    url: `http://127.0.0.1:${address.port}/`,
    close: () => new Promise((resolve) => server.close(() => resolve(undefined))),
  };
}

/**
 * Whether the browser tests can run here: the browser and the built site exist.
 * @returns {{ ok: true } | { ok: false, reason: string }}
 */
export function browserTestsAvailable() {
  if (!existsSync(CHROMIUM_PATH)) {
    return { ok: false, reason: `${CHROMIUM_PATH} is missing (apt-get install -y chromium)` };
  }
  if (!existsSync(path.join(SITE_DIR, 'index.html'))) {
    return { ok: false, reason: `${SITE_DIR} is not built (npx nx run @ssd/web:build)` };
  }
  return { ok: true };
}

/**
 * Launches headless Chromium (a fresh profile each time); page errors and console
 * errors are collected in `errors`.
 */
export async function launchChromium() {
  const { chromium } = await import('playwright-core');
  return chromium.launch({ executablePath: CHROMIUM_PATH, args: CHROMIUM_ARGS, headless: true });
}

/**
 * Opens the app at `siteUrl` with `?backend=` and `?model=` and waits for
 * `window.ssdApp.ready`.
 * @param {import('playwright-core').Browser} browser
 * @param {string} siteUrl
 * @param {{ backend: string, model?: string, hash?: string, viewport?: { width: number, height: number }, initScript?: string }} options
 */
export async function openApp(browser, siteUrl, options) {
  const page = await browser.newPage({
    viewport: options.viewport ?? { width: 1200, height: 800 },
  });
  /** @type {string[]} */
  const errors = [];
  page.on('pageerror', (error) => errors.push(error.message));
  page.on('console', (message) => {
    if (message.type() === 'error') errors.push(message.text());
  });
  if (options.initScript) await page.addInitScript(options.initScript);
  const query = new URLSearchParams({ backend: options.backend });
  if (options.model) query.set('model', options.model);
  await page.goto(`${siteUrl}?${query}${options.hash ?? ''}`);
  await page.waitForFunction(() => 'ssdApp' in window);
  await page.evaluate(() => window.ssdApp.ready);
  return { page, errors };
}
