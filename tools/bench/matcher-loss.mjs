#!/usr/bin/env node
// Benchmark of @ssd/matcher's encodeTargets and @ssd/loss's multiboxLoss, side by side
// with torchvision's equivalents measured in the same run (when /usr/bin/python3 can
// import torchvision).
//
//   npx nx run-many -t build -p @ssd/matcher @ssd/loss && node tools/bench/matcher-loss.mjs
//
// Per image: encodeTargets over the 8732 SSD300_VOC anchors with 1, 10, 50 random
// ground-truth boxes (torchvision: box_iou + SSDMatcher + BoxCoder.encode_single).
// Loss: multiboxLoss forward + backward at batch 8, 21 classes, tfjs `cpu` backend
// (torchvision: SSD.compute_loss + backward, one thread).
import { execFileSync } from 'node:child_process';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import '@tensorflow/tfjs-layers'; // registers the gradients in Node
import { SSD300_VOC, generateAnchorsPacked } from '@ssd/anchors';
import { encodeTargets } from '@ssd/matcher';
import { multiboxLoss } from '@ssd/loss';
import { createRng } from '@ssd/random';

const REPEATS = Number(process.env.BENCH_REPEATS ?? 50);
tf.env().set('IS_TEST', true); // no tfjs-node banner
await tf.setBackend('cpu');

const random = createRng(1); // the benchmark's only randomness

function randomImage(count) {
  const boxes = new Float32Array(count * 4);
  const labels = new Int32Array(count);
  for (let i = 0; i < count; i++) {
    const w = 0.02 + 0.78 * random();
    const h = 0.02 + 0.78 * random();
    const x = random() * (1 - w);
    const y = random() * (1 - h);
    boxes.set([x, y, x + w, y + h], i * 4);
    labels[i] = 1 + Math.floor(random() * 20);
  }
  return { boxes, labels };
}

const anchors = generateAnchorsPacked(SSD300_VOC);
const P = anchors.length / 4;
const ours = { encodeMs: {} };
// Warm the JIT on every size first, as the Python side's first call warms torch.
for (const count of [1, 10, 50, 1, 10, 50]) {
  for (let i = 0; i < 20; i++) {
    const image = randomImage(count);
    encodeTargets(anchors, image.boxes, image.labels);
  }
}
for (const count of [1, 10, 50]) {
  const images = Array.from({ length: REPEATS }, () => randomImage(count));
  const start = performance.now();
  for (const image of images) encodeTargets(anchors, image.boxes, image.labels);
  ours.encodeMs[count] = (performance.now() - start) / REPEATS;
}

const B = 8;
const C = 21;
const locTargets = new Float32Array(B * P * 4);
const labels = new Int32Array(B * P);
for (let b = 0; b < B; b++) {
  const image = randomImage(10);
  const targets = encodeTargets(anchors, image.boxes, image.labels);
  locTargets.set(targets.locTargets, b * P * 4);
  labels.set(targets.labels, b * P);
}
const targets = {
  locTargets: tf.tensor3d(locTargets, [B, P, 4]),
  labels: tf.tensor2d(labels, [B, P], 'int32'),
};
const locPred = tf.variable(tf.randomNormal([B, P, 4], 0, 1, 'float32', 2));
const logits = tf.variable(tf.randomNormal([B, P, C], 0, 1, 'float32', 3));
const step = async () => {
  const { value, grads } = tf.variableGrads(
    () => multiboxLoss({ locPred, logits }, targets).total,
    [locPred, logits],
  );
  await grads[logits.name].data();
  tf.dispose([value, ...Object.values(grads)]);
};
await step();
const LOSS_RUNS = 5;
let start = performance.now();
for (let i = 0; i < LOSS_RUNS; i++) await step();
ours.lossMs = (performance.now() - start) / LOSS_RUNS;

let theirs = null;
try {
  const script = fileURLToPath(new URL('./matcher_loss_torchvision.py', import.meta.url));
  theirs = JSON.parse(
    execFileSync('/usr/bin/python3', [script, String(REPEATS)], {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'ignore'],
    }),
  );
} catch {
  theirs = null;
}

const fmt = (ms) => (ms === undefined ? '—' : ms < 10 ? ms.toFixed(2) : ms.toFixed(1));
const ratio = (a, b) => (b === undefined ? '—' : `${(a / b).toFixed(2)}×`);
console.log(
  `@ssd/matcher + @ssd/loss vs torchvision ${theirs ? `${theirs.torch ?? ''} (torch, ${theirs.threads} thread)` : '(not available)'}; node ${process.version}, tfjs ${tf.version_core} cpu backend`,
);
console.log('| measurement | ours (ms) | torchvision (ms) | ours / torchvision |');
console.log('| --- | ---: | ---: | ---: |');
for (const count of [1, 10, 50]) {
  const t = theirs?.encodeMs[count];
  console.log(
    `| encodeTargets, 8732 anchors, ${count} box${count === 1 ? '' : 'es'}, per image | ${fmt(ours.encodeMs[count])} | ${fmt(t)} | ${ratio(ours.encodeMs[count], t)} |`,
  );
}
console.log(
  `| loss forward + backward, batch 8 × 8732 × 21 | ${fmt(ours.lossMs)} | ${fmt(theirs?.lossMs)} | ${ratio(ours.lossMs, theirs?.lossMs)} |`,
);
tf.dispose([locPred, logits, targets.locTargets, targets.labels]);
