// Where one training step's time goes: per-kernel time (tf.profile) of forward + MultiBox
// loss + gradients of @ssd/vgg-ssd, single thread, summed by kernel name (convolutions
// also by their channel counts), biggest first.
//
//   npx nx run-many -t build && node tools/bench/train-step-profile.mjs [--backend wasm] [--width 0.125] [--size 128] [--batch 8] [--steps 10]
//
// Defaults: the `npm start` network (width 1/8, 128 px) with one worker's slice of its
// batch of 16. Prints the mean wall time per step over --steps, then the kernel table of
// one profiled step (profiling adds some overhead of its own).
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
