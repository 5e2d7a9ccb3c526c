#!/usr/bin/env node
// Usage: npx nx run @ssd/web:build && node tools/bench/web-inference.mjs [--model DIR] [--reps N] [--backends webgpu,webgl,wasm,cpu] [--cores 1,4] [--width 0.125] [--size 128]
//
// Inference time per tfjs backend in Chromium (Debian's /usr/bin/chromium, driven by
// playwright-core): the built examples/web site is served on 127.0.0.1, each backend
// gets a fresh page (`?backend=…&model=…`), and `window.ssdApp.detect` runs on a
// generated shapes image; the page's own stage times (preprocess, forward until the
// outputs are read back, post-process) are reported as medians of --reps runs after
// two warm-ups (shader compilation, weight upload).
//
// The model: --model DIR (a saved model folder, e.g. runs/<run>/model), else the
// `shapes` preset's network (--width 1/8, --size 128 px, 7 classes) freshly
// initialised — inference time does not depend on the weights.
//
// --cores: the logical core counts the page is told (navigator.hardwareConcurrency),
// one page per count and backend: the page is cross-origin isolated, so wasm runs
// tfjs's threaded build on half of them (at most 8); the device column shows the
// threads. Default: the machine's own count only.
//
// WebGPU and WebGL run on SwiftShader here (a CPU emulation of a GPU, `software` in
// the adapter name): their figures are relative only, and say nothing of a real GPU.
/* global window -- page.evaluate callbacks run in the browser */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { SSD300_VOC } from '@ssd/anchors';
import { SHAPES_CLASSES, renderShapesImage } from '@ssd/make-shapes-voc';
import { anchorConfigForModel, createSsdVgg16 } from '@ssd/vgg-ssd';
import { saveSsdModel } from '@ssd/vgg-ssd/node';
import sharp from 'sharp';
import {
  SITE_DIR,
  browserTestsAvailable,
  launchChromium,
  openApp,
  serveStatic,
} from '../../examples/web/harness/browser.mjs';

const args = process.argv.slice(2);
const option = (name, fallback) => {
  const i = args.indexOf(name);
  return i >= 0 && args[i + 1] !== undefined ? args[i + 1] : fallback;
};
const reps = Number(option('--reps', '10')) || 10;
const backends = option('--backends', 'webgpu,webgl,wasm,cpu').split(',');
const cores = option('--cores', '').split(',').filter(Boolean).map(Number);
const width = Number(option('--width', '0.125'));
const size = Number(option('--size', '128'));

const available = browserTestsAvailable();
if (!available.ok) {
  console.error(`web-inference: ${available.reason}`);
  process.exit(1);
}

const work = await mkdtemp(path.join(tmpdir(), 'ssd-web-bench-'));
let modelDir = option('--model', null);
if (modelDir === null) {
  await tf.setBackend('cpu');
  const model = createSsdVgg16({
    numClasses: SHAPES_CLASSES.length + 1,
    preset: SSD300_VOC,
    widthMultiplier: width,
    inputSize: size,
    inputScale: 1 / 58,
    seed: 1,
  });
  modelDir = path.join(work, 'model');
  await saveSsdModel(model, modelDir, {
    anchorConfig: anchorConfigForModel(model, SSD300_VOC),
    labels: SHAPES_CLASSES,
  });
  model.dispose();
}
const image = renderShapesImage(1, 0);
await sharp(Buffer.from(image.image), {
  raw: { width: image.width, height: image.height, channels: 3 },
})
  .png()
  .toFile(path.join(work, 'image.png'));

const median = (values) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];
const server = await serveStatic(SITE_DIR, {
  '/bench-model': path.resolve(modelDir),
  '/bench': work,
});
const browser = await launchChromium();
console.log(
  `Chromium ${browser.version()}, model ${option('--model', `shapes preset (width ${width}, ${size} px), fresh weights`)}, ` +
    `image ${image.width}×${image.height}, median of ${reps} after 2 warm-ups (ms)`,
);
console.log(
  'backend  device                              preprocess  forward  post-process  total',
);
try {
  const runs = backends.flatMap((backend) =>
    (cores.length > 0 ? cores : [null]).map((n) => ({ backend, n })),
  );
  for (const { backend, n } of runs) {
    const { page } = await openApp(browser, server.url, {
      backend,
      model: '/bench-model/model.json',
      ...(n !== null && {
        initScript: `Object.defineProperty(navigator, 'hardwareConcurrency', { get: () => ${n} });`,
      }),
    }).catch((error) => ({ page: null, error }));
    if (page === null) {
      console.log(`${backend.padEnd(8)} unavailable`);
      continue;
    }
    const result = await page.evaluate(async (n) => {
      const times = [];
      for (let i = 0; i < n + 2; i++) {
        await window.ssdApp.detect('/bench/image.png');
        if (i >= 2) times.push(window.ssdApp.lastTimes());
      }
      return { device: window.ssdApp.device, times };
    }, reps);
    const stage = (key) => median(result.times.map((t) => t[key]));
    const total = median(result.times.map((t) => t.preprocess + t.forward + t.postprocess));
    const software = /software/.test(result.device) ? ' *' : '';
    console.log(
      `${backend.padEnd(8)} ${(result.device + software).slice(0, 35).padEnd(35)} ` +
        `${stage('preprocess').toFixed(1).padStart(10)} ${stage('forward').toFixed(1).padStart(8)} ` +
        `${stage('postprocess').toFixed(1).padStart(13)} ${total.toFixed(1).padStart(6)}`,
    );
    await page.close();
  }
  console.log('* software adapter (SwiftShader, a CPU emulation): relative figures only.');
} finally {
  await browser.close();
  await server.close();
  await rm(work, { recursive: true, force: true });
}
