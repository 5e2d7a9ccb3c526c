// Where one training step's time goes: per-kernel time (tf.profile) of forward + MultiBox
// loss + gradients of @ssd/vgg-ssd, single thread, summed by kernel name (convolutions
// also by their channel counts), biggest first.
//
//   npx nx run-many -t build && node tools/bench/train-step-profile.mjs [--backend wasm] [--width 0.125] [--size 128] [--batch 8] [--steps 10] [--cpu] [--normalization batch]
//
// Defaults: the `npm start` network (width 1/8, 128 px) with one worker's slice of its
// batch of 16. Prints the mean wall time per step over --steps, then the kernel table of
// one profiled step (profiling adds some overhead of its own).
// --cpu: on a shared machine wall-clock kernel times swing with the load; this instead
// wraps every kernel of the backend and charges it the CPU time of this process
// (process.cpuUsage), over --steps steps of the app's own replica
// (examples/train-voc/dist/replica.js, `shapes` recipe): per kernel type, the time
// outside kernels, the kernel calls and tensors per step, and the phases of a worker's
// step (gradients, reading them out, the Adam update with its non-finite check).
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-layers';
import { SSD300_VOC, generateAnchorsPacked } from '@ssd/anchors';
import { selectBackend } from '@ssd/backend';
import { multiboxLoss } from '@ssd/loss';
import { createRng } from '@ssd/random';
import { anchorConfigForInputSize, createSsdVgg16 } from '@ssd/vgg-ssd';

const { values } = parseArgs({
  options: {
    backend: { type: 'string', default: 'wasm' },
    width: { type: 'string', default: '0.125' },
    size: { type: 'string', default: '128' },
    batch: { type: 'string', default: '8' },
    steps: { type: 'string', default: '10' },
    top: { type: 'string', default: '25' },
    cpu: { type: 'boolean', default: false },
    normalization: { type: 'string', default: 'none' },
  },
});

const S = Number(values.size);
const B = Number(values.batch);
const C = 7;
const selection = await selectBackend({ prefer: values.backend });
const model = createSsdVgg16({
  numClasses: C,
  preset: SSD300_VOC,
  widthMultiplier: Number(values.width),
  inputSize: S,
  normalization: values.normalization,
  seed: 1,
});
const P = generateAnchorsPacked(anchorConfigForInputSize(SSD300_VOC, S)).length / 4;
const trainable = model.trainableWeights.map((w) => w.read());

const rng = createRng(1);
const images = tf.tensor4d(
  Float32Array.from({ length: B * S * S * 3 }, () => (rng() - 0.5) * 200),
  [B, S, S, 3],
);
const locTargets = tf.tensor3d(
  Float32Array.from({ length: B * P * 4 }, () => rng() - 0.5),
  [B, P, 4],
);
const labelData = new Int32Array(B * P);
for (let i = 0; i < B * 20; i++) labelData[Math.floor(rng() * B * P)] = 1 + (i % (C - 1));
const labels = tf.tensor2d(labelData, [B, P], 'int32');
if (values.cpu) {
  await cpuProfile();
  process.exit(0);
}

function step() {
  const { value, grads } = tf.variableGrads(() => {
    const [locPred, logits] = model.apply(images, { training: true });
    return multiboxLoss({ locPred, logits }, { locTargets, labels }).total;
  }, trainable);
  value.dataSync();
  tf.dispose([value, ...Object.values(grads)]);
}

step();
step();
const steps = Number(values.steps);
const start = performance.now();
for (let i = 0; i < steps; i++) step();
const ms = (performance.now() - start) / steps;
console.log(
  `${selection.backend}: width ${values.width}, ${S} px, batch ${B}, ${P} anchors: ` +
    `${ms.toFixed(0)} ms/step (${(ms / B / 1000).toFixed(3)} s/image), mean of ${steps}`,
);

const profile = await tf.profile(step);
const byKernel = new Map();
for (const k of profile.kernels) {
  const channels = k.name.startsWith('Conv')
    ? ` [${k.inputShapes.map((s) => (s ? s[3] : '-')).join(', ')}]`
    : '';
  const key = k.name + channels;
  const entry = byKernel.get(key) ?? { ms: 0, calls: 0 };
  entry.ms += await k.kernelTimeMs;
  entry.calls += 1;
  byKernel.set(key, entry);
}
const total = [...byKernel.values()].reduce((a, e) => a + e.ms, 0);
console.log(`profiled step: ${total.toFixed(0)} ms in kernels\n     ms      %  calls  kernel`);
[...byKernel.entries()]
  .sort((a, b) => b[1].ms - a[1].ms)
  .slice(0, Number(values.top))
  .forEach(([key, e]) =>
    console.log(
      `${e.ms.toFixed(1).padStart(7)} ${((100 * e.ms) / total).toFixed(1).padStart(6)} ${String(e.calls).padStart(6)}  ${key}`,
    ),
  );

/** The --cpu profile: per-kernel CPU time of the app's replica step. */
async function cpuProfile() {
  const { SHAPES_RECIPE } = await import('../../examples/train-voc/dist/index.js');
  const { createReplica } = await import('../../examples/train-voc/dist/replica.js');
  await selectBackend({ prefer: values.backend });
  const backendName = tf.getBackend();
  const cpuMs = () => {
    const u = process.cpuUsage();
    return (u.user + u.system) / 1000;
  };
  // Wrap every kernel: CPU time of the outermost kernel (composite kernels call others).
  const table = new Map();
  let depth = 0;
  for (const config of tf.getKernelsForBackend(backendName)) {
    const inner = config.kernelFunc;
    tf.unregisterKernel(config.kernelName, backendName);
    tf.registerKernel({
      ...config,
      kernelFunc: (args) => {
        if (depth > 0) return inner(args);
        depth++;
        const start = cpuMs();
        try {
          return inner(args);
        } finally {
          depth--;
          const entry = table.get(config.kernelName) ?? { ms: 0, calls: 0 };
          entry.ms += cpuMs() - start;
          entry.calls++;
          table.set(config.kernelName, entry);
        }
      },
    });
  }
  const config = {
    ...SHAPES_RECIPE,
    ...{ data: null, classes: null, backboneWeights: null, weights: null, backend: 'wasm' },
    ...{ workers: 1, seed: 1, out: '', method: 'voc07', draw: 0 },
  };
  const replica = await createReplica({ config, numClasses: C });
  const variables = replica.model.trainableWeights.map((w) => w.read());
  const batch = { images: tf.mul(tf.add(images, 100), 1.2), locTargets, labels };
  const flat = new Float32Array(variables.reduce((a, v) => a + v.size, 0));
  const phases = { gradients: 0, read: 0, update: 0 };
  const steps = Number(values.steps);
  let tensors = 0;
  for (let i = 0; i < 2 + steps; i++) {
    if (i === 2) table.clear();
    const before = tf.memory().numTensors;
    const t0 = cpuMs();
    const { value, grads } = tf.variableGrads(() => replica.loss(batch).loss, variables);
    await value.data();
    const t1 = cpuMs();
    // As the trainer's runner: the gradients into one flat array, applied from it.
    let at = 0;
    for (const v of variables) {
      flat.set(await grads[v.name].data(), at);
      at += v.size;
    }
    const t2 = cpuMs();
    if (replica.applyFlatGradients) replica.applyFlatGradients(flat, undefined);
    else {
      tf.tidy(() => {
        const named = {};
        let start = 0;
        for (const v of variables) {
          named[v.name] = tf.tensor(flat.slice(start, start + v.size), v.shape);
          start += v.size;
        }
        replica.optimizer.applyGradients(named);
      });
    }
    const t3 = cpuMs();
    tf.dispose([value, ...Object.values(grads)]);
    if (i >= 2) {
      phases.gradients += t1 - t0;
      phases.read += t2 - t1;
      phases.update += t3 - t2;
      tensors += tf.memory().numTensors - before;
    }
  }
  const total = phases.gradients + phases.read + phases.update;
  const inKernels = [...table.values()].reduce((a, e) => a + e.ms, 0);
  const calls = [...table.values()].reduce((a, e) => a + e.calls, 0);
  console.log(
    `${backendName}: the app's replica, ${S} px, batch ${B}: ${(total / steps).toFixed(0)} CPU ms/step ` +
      `(gradients ${(phases.gradients / steps).toFixed(0)}, reading them ${(phases.read / steps).toFixed(1)}, ` +
      `update ${(phases.update / steps).toFixed(1)}), mean of ${steps}`,
  );
  console.log(
    `${(calls / steps).toFixed(0)} kernel calls/step; ${((total - inKernels) / steps).toFixed(1)} CPU ms/step outside kernels; ` +
      `tensor count change per step ${tensors / steps}; ${(tf.memory().numBytes / 2 ** 20).toFixed(0)} MiB in tensors`,
  );
  console.log('  CPU ms/step      %  calls/step  kernel');
  [...table.entries()]
    .sort((a, b) => b[1].ms - a[1].ms)
    .slice(0, Number(values.top))
    .forEach(([name, e]) =>
      console.log(
        `${(e.ms / steps).toFixed(1).padStart(13)} ${((100 * e.ms) / total).toFixed(1).padStart(6)} ${(e.calls / steps).toFixed(0).padStart(11)}  ${name}`,
      ),
    );
}
