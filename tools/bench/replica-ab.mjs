// A/B of two builds of the app's replica module in ONE process: the `npm start` training
// step (shapes recipe, batch 16) through createDataParallelTrainer, alternating A and B
// step by step, charged this process's CPU time (worker threads included). On a shared
// machine this resolves changes that separate bench runs cannot; it also checks that the
// two builds train bit-identical model weights.
//
//   npx nx run-many -t build
//   cp -r examples/train-voc/dist node_modules/.ab-old   # before the change; then rebuild
//   node tools/bench/replica-ab.mjs --a node_modules/.ab-old/replica.js [--workers 2] [--steps 8] [--batch 16]
//
// --b defaults to examples/train-voc/dist/replica.js. Keep the old copy under the repo
// (node_modules/…) so that its imports resolve to this checkout's packages.
import { parseArgs } from 'node:util';
import { pathToFileURL } from 'node:url';
import * as path from 'node:path';
import { createDataParallelTrainer } from '@ssd/backend/node';
import { createRng } from '@ssd/random';
import { SHAPES_RECIPE } from '../../examples/train-voc/dist/index.js';

const { values } = parseArgs({
  options: {
    a: { type: 'string' },
    b: { type: 'string', default: 'examples/train-voc/dist/replica.js' },
    workers: { type: 'string', default: '2' },
    steps: { type: 'string', default: '8' },
    batch: { type: 'string', default: '16' },
  },
});
if (!values.a) throw new Error('--a <replica.js of the other build> is required');
const workers = Number(values.workers);
const steps = Number(values.steps);
const B = Number(values.batch);
const [S, P, C] = [128, 1560, 7];
const config = {
  ...SHAPES_RECIPE,
  ...{ data: null, classes: null, backboneWeights: null, weights: null, backend: 'wasm' },
  ...{ workers, seed: 1, out: '', method: 'voc07', draw: 0 },
};
const trainers = {};
for (const [key, file] of [
  ['A', values.a],
  ['B', values.b],
]) {
  trainers[key] = await createDataParallelTrainer({
    replicaModule: pathToFileURL(path.resolve(file)),
    replicaOptions: { config, numClasses: C },
    workers,
  });
}
const rng = createRng(1);
const images = new Float32Array(B * S * S * 3).map(() => Math.floor(rng() * 256));
const locTargets = new Float32Array(B * P * 4).map(() => rng() - 0.5);
const labels = new Int32Array(B * P);
for (let b = 0; b < B; b++) {
  for (let k = 0; k < 10; k++)
    labels[b * P + Math.floor(rng() * P)] = 1 + Math.floor(rng() * (C - 1));
}
// The trainer transfers the arrays, so every step gets copies.
const batch = () => ({
  images: { data: images.slice(), shape: [B, S, S, 3], dtype: 'float32' },
  locTargets: { data: locTargets.slice(), shape: [B, P, 4] },
  labels: { data: labels.slice(), shape: [B, P] },
});
const cpu = { A: [], B: [] };
for (let i = 0; i < steps + 2; i++) {
  for (const key of i % 2 ? ['B', 'A'] : ['A', 'B']) {
    const before = process.cpuUsage();
    await trainers[key].step(batch(), { learningRate: SHAPES_RECIPE.lr });
    const used = process.cpuUsage(before);
    if (i >= 2) cpu[key].push((used.user + used.system) / 1000 / B);
  }
}
const median = (xs) => {
  const s = [...xs].sort((x, y) => x - y);
  return (s[(s.length - 1) >> 1] + s[s.length >> 1]) / 2;
};
const [wa, wb] = [await trainers.A.getWeights(), await trainers.B.getWeights()];
// Model weights come first in both; optimizer slots may be laid out differently.
const modelCount = trainers.A.variables.length;
let identical = true;
for (let i = 0; i < modelCount; i++) {
  const [x, y] = [wa[i].data, wb[i].data];
  for (let j = 0; j < x.length && identical; j++) identical = Object.is(x[j], y[j]);
}
console.log(`${workers} worker(s), batch ${B}, ${steps} timed steps each, alternating`);
for (const key of ['A', 'B']) {
  console.log(`${key}: ${median(cpu[key]).toFixed(1)} CPU ms/img (median)`);
}
console.log(
  `B/A per pair: ${cpu.B.map((v, i) => (v / cpu.A[i]).toFixed(2)).join(' ')}; ` +
    `trainable weights bit-identical: ${identical}`,
);
await Promise.all(Object.values(trainers).map((t) => t.dispose()));
