#!/usr/bin/env node
// Usage: npx nx run @ssd/web:build && node examples/web/harness/docs-screenshot.mjs [--steps N]
//
// Remakes docs/screenshot.png: the Train page after N steps (default 400) of the
// shapes preset on wasm in headless Chromium, evaluated on its held-out images.
/* global window -- page.evaluate callbacks run in the browser */
import { mkdir } from 'node:fs/promises';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import sharp from 'sharp';
import { SITE_DIR, launchChromium, openApp, serveStatic } from './browser.mjs';

const args = process.argv.slice(2);
const steps = Number(args[args.indexOf('--steps') + 1] ?? 400) || 400;
const out = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../docs/screenshot.png');

const server = await serveStatic(SITE_DIR);
const browser = await launchChromium();
try {
  const { page } = await openApp(browser, server.url, {
    backend: 'wasm',
    hash: '#train',
    viewport: { width: 1180, height: 760 },
  });
  await page.evaluate((n) => window.ssdApp.train({ steps: n }), steps);
  const map = await page.evaluate(() => window.ssdApp.evaluate());
  const png = await page.screenshot();
  await mkdir(path.dirname(out), { recursive: true });
  await sharp(png).png({ palette: true, quality: 90, compressionLevel: 9 }).toFile(out);
  console.log(`${out}: ${steps} steps, mAP ${map === null ? 'n/a' : (map * 100).toFixed(1)}`);
} finally {
  await browser.close();
  await server.close();
}
