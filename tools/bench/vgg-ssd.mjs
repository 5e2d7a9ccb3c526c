#!/usr/bin/env node
// Usage: npx nx run-many -t build -p @ssd/vgg-ssd @ssd/loss @ssd/backend && node tools/bench/vgg-ssd.mjs [--reps N] [--threads N] [--cpu-train] [--no-cpu] [--no-torch]
//
// SSD300 (VGG16, 21 classes, 300×300) per available tfjs backend: inference at batch 1
// (preprocess + forward) and one training step at batch 2 (forward, @ssd/loss
// multiboxLoss, backward, SGD update), beside torchvision's ssd300_vgg16 for the same
// (tools/bench/vgg_ssd_torchvision.py, run with /usr/bin/python3 when it has torch) in
// the same run. Medians of --reps timed runs after one warm-up. Both sides use --threads
// threads (default: every core): wasm through @ssd/backend's enableWasmThreads (its
// threaded SIMD build; 1 keeps the single-threaded one), PyTorch through set_num_threads.
//
// wasm trains only with @ssd/backend's Conv2DBackpropFilter kernel (registered here when
// @ssd/backend is built); the cpu backend's training step takes many minutes on the full
// network, so it runs only with --cpu-train.
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import os from 'node:os';
import { performance } from 'node:perf_hooks';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import '@tensorflow/tfjs-backend-wasm';
import { SSD300_VOC } from '@ssd/anchors';
import { createSsdVgg16, preprocess } from '@ssd/vgg-ssd';
import { multiboxLoss } from '@ssd/loss';
import { createRng } from '@ssd/random';

const args = process.argv.slice(2);
const flag = (name) => args.includes(name);
const reps = Number(args[args.indexOf('--reps') + 1] ?? 3) || 3;
const threads = flag('--threads')
  ? Number(args[args.indexOf('--threads') + 1])
  : Math.min(os.availableParallelism(), 8);
tf.enableProdMode(); // no per-kernel debug checks while timing

async function timed(fn, n) {
  await fn(); // warm-up (kernel compilation, weight upload)
  const times = [];
  for (let i = 0; i < n; i++) {
    const start = performance.now();
    await fn();
    times.push(performance.now() - start);
  }
  times.sort((a, b) => a - b);
  return times[Math.floor(times.length / 2)];
}

let wasmTraining = 'stock wasm (no Conv2DBackpropFilter)';
let wasmThreads = 1;
try {
  const { registerWasmTrainingKernels } = await import('@ssd/backend');
  registerWasmTrainingKernels();
  wasmTraining = '@ssd/backend training kernels';
  const { enableWasmThreads } = await import('@ssd/backend/node');
  wasmThreads = await enableWasmThreads(threads);
} catch {
  // @ssd/backend not built: wasm cannot train conv nets, and runs on one thread.
}

await tf.setBackend('wasm');
const { getThreadsCount } = await import('@tensorflow/tfjs-backend-wasm');
if (getThreadsCount() !== wasmThreads) {
  throw new Error(`wasm runs ${getThreadsCount()} threads, asked for ${wasmThreads}`);
}
const random = createRng(1);
const pixels = (batch) =>
  tf.tensor4d(
    Float32Array.from({ length: batch * 300 * 300 * 3 }, () => Math.floor(random() * 256)),
    [batch, 300, 300, 3],
  );
const numAnchors = 8732;
const numClasses = 21;
const locTargets = tf.tensor3d(
  Float32Array.from({ length: 2 * numAnchors * 4 }, () => random() - 0.5),
  [2, numAnchors, 4],
);
const labels = tf.tensor2d(
  Int32Array.from({ length: 2 * numAnchors }, () =>
    random() < 0.02 ? 1 + Math.floor(random() * 20) : 0,
  ),
  [2, numAnchors],
  'int32',
);

const rows = [];
const backends = ['wasm', ...(flag('--no-cpu') ? [] : ['cpu'])];
for (const backend of backends) {
  await tf.setBackend(backend);
  await tf.ready();
  const model = createSsdVgg16({ numClasses, preset: SSD300_VOC, seed: 1 });
  const image = pixels(1);
  const inferenceReps = backend === 'cpu' ? 1 : reps;
  const inference = await timed(async () => {
    const outputs = tf.tidy(() => model.predict(preprocess(image)));
    await Promise.all(outputs.map((t) => t.data()));
    tf.dispose(outputs);
  }, inferenceReps);
  let train = null;
  let note = '';
  if (backend === 'cpu' && !flag('--cpu-train')) {
    note = 'training step skipped (--cpu-train)';
  } else {
    const batch = tf.tidy(() => preprocess(pixels(2)));
    const optimizer = tf.train.sgd(1e-4);
    try {
      train = await timed(
        async () => {
          const loss = optimizer.minimize(() => {
            const [locPred, logits] = model.apply(batch, { training: true });
            return multiboxLoss({ locPred, logits }, { locTargets, labels }).total;
          }, true);
          await loss.data();
          loss.dispose();
        },
        backend === 'cpu' ? 1 : reps,
      );
      if (backend === 'wasm') note = wasmTraining;
    } catch (error) {
      note = `training failed: ${String(error.message ?? error)
        .split('\n')[0]
        .slice(0, 80)}`;
    }
    optimizer.dispose();
    batch.dispose();
  }
  const label =
    backend === 'wasm'
      ? `tfjs wasm (${wasmThreads} thread${wasmThreads > 1 ? 's' : ''})`
      : 'tfjs cpu';
  rows.push({ backend: label, inference, train, note });
  image.dispose();
  model.dispose();
}

if (!flag('--no-torch') && existsSync('/usr/bin/python3')) {
  try {
    const script = new URL('./vgg_ssd_torchvision.py', import.meta.url).pathname;
    const out = execFileSync('/usr/bin/python3', [script, String(reps), String(threads)], {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'ignore'],
    });
    const torch = JSON.parse(out.trim().split('\n').pop());
    rows.push({
      backend: `torchvision ${torch.torchvision} (torch ${torch.torch}, ${torch.threads} threads)`,
      inference: torch.inference_ms,
      train: torch.train_step_ms,
      note: '',
    });
  } catch (error) {
    rows.push({
      backend: 'torchvision',
      inference: null,
      train: null,
      note: `unavailable: ${error.message.split('\n')[0]}`,
    });
  }
}

const fmt = (ms) => (ms == null ? '—' : `${(ms / 1000).toFixed(2)} s`);
const reference = rows.find((r) => r.backend.startsWith('torchvision'));
const ratio = (ms, ref) => (ms == null || ref == null ? '' : ` (${(ms / ref).toFixed(1)}×)`);
console.log(`SSD300 VGG16, 21 classes, 300×300; median of ${reps} after a warm-up (cpu: 1)`);
console.log('backend | inference, batch 1 | training step, batch 2 | note');
for (const r of rows) {
  console.log(
    `${r.backend} | ${fmt(r.inference)}${ratio(r.inference, reference?.inference)} | ${fmt(r.train)}${ratio(r.train, reference?.train)} | ${r.note}`,
  );
}
tf.dispose([locTargets, labels]);
