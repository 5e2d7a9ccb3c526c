// One SSD300 training step (batch 2) on every way this machine can run it, side by side.
//
//   npx nx run-many -t build && node tools/bench/backend-train-step.mjs [--width 1] [--steps 3] [--cpu-steps 1] [--cpu-timeout 600] [--skip cpu,torch]
//
// Model: @ssd/vgg-ssd createSsdVgg16 (SSD300_VOC, 21 classes, widthMultiplier --width)
// and @ssd/loss multiboxLoss, momentum SGD; random 300×300 inputs with ~20 positive
// anchors per image. A step = forward + loss + gradients + optimizer update.
//   cpu          tfjs-backend-cpu, in a child process stopped after --cpu-timeout seconds:
//                its Conv2DBackpropFilter is a naive loop (~37 s for one 75×75×32→32 layer),
//                so a full-width step takes hours; a stopped run gives a lower bound
//                (the step took longer than the timeout) and the ratio a lower bound too.
//   wasm         tfjs-backend-wasm + @ssd/backend training kernels, this thread
//   wasm ×1/×2   createDataParallelTrainer with 1 and 2 worker threads
//   torchvision  ssd300_vgg16 with torch.set_num_threads(2) (/usr/bin/python3), when installed
// Goals: wasm ≥ 30× cpu; 2 workers ≥ 1.7× 1 worker; within 3× torchvision's time.
import { spawnSync } from 'node:child_process';
import os from 'node:os';
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import * as tf from '@tensorflow/tfjs-core';
import { selectBackend } from '@ssd/backend';
import { createDataParallelTrainer } from '@ssd/backend/node';
import { createRng } from '@ssd/random';
import { createReplica } from './backend-train-step-replica.mjs';

const { values } = parseArgs({
  options: {
    width: { type: 'string', default: '1' },
    steps: { type: 'string', default: '3' },
    'cpu-steps': { type: 'string', default: '1' },
    batch: { type: 'string', default: '2' },
    skip: { type: 'string', default: '' },
    'cpu-timeout': { type: 'string', default: '600' },
    'cpu-child': { type: 'boolean', default: false },
  },
});
const widthMultiplier = Number(values.width);
const steps = Number(values.steps);
const cpuSteps = Number(values['cpu-steps']);
const batchSize = Number(values.batch);
const skip = new Set(values.skip.split(',').filter(Boolean));
const P = 8732;
const C = 21;

/** A seeded batch: random images, ~20 positive anchors per image, small loc targets. */
function makeBatch(seed) {
  const rng = createRng(seed);
  const images = new Float32Array(batchSize * 300 * 300 * 3);
  for (let i = 0; i < images.length; i++) images[i] = rng() * 255 - 120;
  const locTargets = new Float32Array(batchSize * P * 4);
  for (let i = 0; i < locTargets.length; i++) locTargets[i] = rng() - 0.5;
  const labels = new Int32Array(batchSize * P);
  for (let b = 0; b < batchSize; b++) {
    for (let k = 0; k < 20; k++)
      labels[b * P + Math.floor(rng() * P)] = 1 + Math.floor(rng() * (C - 1));
  }
  return {
    images: { data: images, shape: [batchSize, 300, 300, 3] },
    locTargets: { data: locTargets, shape: [batchSize, P, 4] },
    labels: { data: labels, shape: [batchSize, P] },
  };
}

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

/** Steps in this thread on the active backend; returns per-step ms (after `warmup` untimed steps). */
async function inThread(count, warmup) {
  const replica = createReplica({ widthMultiplier });
  const trainable = replica.model.trainableWeights.map((w) => w.read());
  const times = [];
  for (let i = 0; i < warmup + count; i++) {
    const batch = makeBatch(i + 1);
    const start = performance.now();
    const loss = tf.tidy(() => {
      const inputs = {
        images: tf.tensor(batch.images.data, batch.images.shape),
        locTargets: tf.tensor(batch.locTargets.data, batch.locTargets.shape),
        labels: tf.tensor(batch.labels.data, batch.labels.shape, 'int32'),
      };
      const { value, grads } = tf.variableGrads(() => {
        const out = replica.loss(inputs);
        return tf.div(out.loss, tf.maximum(out.normalizer, 1));
      }, trainable);
      replica.optimizer.applyGradients(grads);
      return value;
    });
    await loss.data();
    loss.dispose();
    if (i >= warmup) times.push(performance.now() - start);
  }
  replica.optimizer.dispose();
  replica.model.dispose();
  return times;
}

async function withWorkers(workers) {
  const trainer = await createDataParallelTrainer({
    replicaModule: new URL('./backend-train-step-replica.mjs', import.meta.url),
    replicaOptions: { widthMultiplier },
    workers,
  });
  try {
    const times = [];
    for (let i = 0; i < 1 + steps; i++) {
      const batch = makeBatch(i + 1);
      const start = performance.now();
      await trainer.step(batch);
      if (i >= 1) times.push(performance.now() - start);
    }
    await trainer.getWeights(); // the last update is applied lazily; include it
    return times;
  } finally {
    await trainer.dispose();
  }
}

function torchvisionStep() {
  const run = spawnSync(
    '/usr/bin/python3',
    [
      new URL('./torch-train-step.py', import.meta.url).pathname,
      '--threads',
      '2',
      '--steps',
      String(steps),
      '--batch',
      String(batchSize),
    ],
    { encoding: 'utf8' },
  );
  if (run.error || run.status !== 0)
    return { error: (run.stderr || String(run.error)).trim().split('\n').pop() };
  return JSON.parse(run.stdout.trim().split('\n').pop());
}

if (values['cpu-child']) {
  // The cpu measurement, run by the parent in a child process it can stop.
  await selectBackend({ prefer: 'cpu' });
  console.log(JSON.stringify({ times: await inThread(cpuSteps, 0) }));
  process.exit(0);
}

/** The cpu step in a child process; `{ times }`, or `{ atLeast }` ms when it was stopped. */
function cpuStep() {
  const timeoutMs = Number(values['cpu-timeout']) * 1000;
  const start = performance.now();
  const run = spawnSync(
    process.execPath,
    [
      new URL(import.meta.url).pathname,
      '--cpu-child',
      '--width',
      String(widthMultiplier),
      '--batch',
      String(batchSize),
      '--cpu-steps',
      String(cpuSteps),
    ],
    { encoding: 'utf8', timeout: timeoutMs, killSignal: 'SIGKILL', maxBuffer: 1 << 26 },
  );
  if (run.status === 0) return JSON.parse(run.stdout.trim().split('\n').pop());
  if (run.signal === 'SIGKILL') return { atLeast: performance.now() - start };
  return { error: (run.stderr || String(run.error)).trim().split('\n').pop() };
}

const rows = [];
const log = (name, times, note = '', atLeast = false) => {
  const ms = median(times);
  rows.push({ name, ms, note, atLeast });
  console.log(
    `${name.padEnd(22)} ${(atLeast ? '> ' : '') + ms.toFixed(0).padStart(8)} ms/step  (${times.map((t) => t.toFixed(0)).join(', ')}) ${note}`,
  );
};

console.log(
  `SSD300 VGG16 training step, batch ${batchSize}, width ×${widthMultiplier}; ${os.cpus().length} cores, load ${os
    .loadavg()
    .map((l) => l.toFixed(1))
    .join(' ')}`,
);
if (!skip.has('wasm')) {
  await selectBackend({ prefer: 'wasm' });
  log('wasm (this thread)', await inThread(steps, 1));
}
if (!skip.has('workers')) {
  log('wasm, 1 worker', await withWorkers(1));
  log('wasm, 2 workers', await withWorkers(2));
}
if (!skip.has('cpu')) {
  const cpu = cpuStep();
  if (cpu.error) console.log(`cpu                    failed: ${cpu.error}`);
  else if (cpu.atLeast != null)
    log(
      'cpu (child process)',
      [cpu.atLeast],
      `stopped after --cpu-timeout ${values['cpu-timeout']} s`,
      true,
    );
  else log('cpu (child process)', cpu.times, '(no warm-up step)');
}
if (!skip.has('torch')) {
  const torch = torchvisionStep();
  if (torch.error) console.log(`torchvision            skipped: ${torch.error}`);
  else if (widthMultiplier !== 1)
    console.log('torchvision            skipped: only full width (--width 1) compares');
  else
    log('torchvision (2 thr.)', torch.ms, `torch ${torch.torch}, torchvision ${torch.torchvision}`);
}

const get = (name) => rows.find((r) => r.name === name)?.ms;
const ratio = (a, b) => (a != null && b != null ? (a / b).toFixed(2) : 'n/a');
const cpuRow = rows.find((r) => r.name === 'cpu (child process)');
console.log('\nratios (goal in brackets)');
console.log(
  `  cpu / wasm              ${cpuRow?.atLeast ? '> ' : ''}${ratio(cpuRow?.ms, get('wasm (this thread)'))}  [≥ 30]`,
);
console.log(
  `  1 worker / 2 workers    ${ratio(get('wasm, 1 worker'), get('wasm, 2 workers'))}  [≥ 1.7]`,
);
console.log(
  `  2 workers / torchvision ${ratio(get('wasm, 2 workers'), get('torchvision (2 thr.)'))}  [≤ 3]`,
);
