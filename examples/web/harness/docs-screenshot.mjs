#!/usr/bin/env node
// Usage: npx nx run @ssd/web:build && node examples/web/harness/docs-screenshot.mjs \
//          [--steps N] [--backend wasm] [--options '{"batchSize":16}'] [--out file.png]
//
// Remakes docs/screenshot.png: the Train page after its default run (or N steps, or a
// run with `--options` over the form's defaults) of the shapes preset in headless
// Chromium (wasm), evaluated on its held-out images. Prints the figures of
// examples/web/README.md: steps, wall time, images/s, loss, mAP.
/* global window -- page.evaluate callbacks run in the browser */
import { mkdir } from 'node:fs/promises';
import { performance } from 'node:perf_hooks';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import sharp from 'sharp';
import { SITE_DIR, launchChromium, openApp, serveStatic } from './browser.mjs';

const args = process.argv.slice(2);
/** @param {string} name */
const flag = (name) =>
  args.includes(`--${name}`) ? args[args.indexOf(`--${name}`) + 1] : undefined;
const steps = flag('steps') === undefined ? undefined : Number(flag('steps'));
const backend = flag('backend') ?? 'wasm';
const options = JSON.parse(flag('options') ?? '{}');
const out =
  flag('out') ??
  path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../docs/screenshot.png');

const server = await serveStatic(SITE_DIR);
const browser = await launchChromium();
try {
  const { page, errors } = await openApp(browser, server.url, {
    backend,
    hash: '#train',
    viewport: { width: 1180, height: 760 },
  });
  const t0 = performance.now();
  const run = await page.evaluate(async ([o, n]) => {
    const app = window.ssdApp;
    const losses = await app.train({ steps: n ?? o.steps ?? app.trainOptions().steps, options: o });
    return { losses, options: app.trainOptions() };
  }, /** @type {const} */ ([options, steps]));
  const seconds = (performance.now() - t0) / 1000;
  const map = await page.evaluate(() => window.ssdApp.evaluate());
  const png = await page.screenshot();
  await mkdir(path.dirname(out), { recursive: true });
  await sharp(png).png({ palette: true, quality: 90, compressionLevel: 9 }).toFile(out);
  const n = run.losses.length;
  /** @param {number[]} l */
  const mean = (l) => (l.reduce((a, b) => a + b, 0) / l.length).toFixed(2);
  console.log(JSON.stringify(run.options));
  console.log(
    `${out}: ${backend}, ${n} steps in ${seconds.toFixed(0)} s (LSUV and image generation ` +
      `included), ${((n * run.options.batchSize) / seconds).toFixed(1)} images/s; loss ` +
      `${mean(run.losses.slice(0, 5))} (first 5 steps) → ${mean(run.losses.slice(-20))} (last 20); ` +
      `mAP ${map === null ? 'n/a' : (map * 100).toFixed(1)} on ${run.options.testImages} held-out images`,
  );
  if (errors.length > 0) console.log('page errors:', errors);
} finally {
  await browser.close();
  await server.close();
}
