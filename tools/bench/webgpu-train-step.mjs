// One training step of the app's `shapes` network (examples/train-voc: its buildNetwork,
// Adam and @ssd/loss's MultiBox loss, as `train` runs it in one thread) on wasm and on
// webgpu in Node, side by side: forward, loss, gradients and the optimizer update, timed
// until the updated weights can be read back. Two networks: the preset's (width 1/8,
// 128 px, what `npm start` trains) and a tiny one (width 1/16, 96 px, the tests' size).
//
//   npx nx run-many -t build
//   VK_ICD_FILENAMES=/usr/lib/chromium/vk_swiftshader_icd.json \
//     node tools/bench/webgpu-train-step.mjs [--batch 4] [--steps 3] [--backends wasm,webgpu]
//
// The first step of each (kernel compilation, wasm warm-up) is reported on its own; the
// mean is over --steps after it. On a software adapter (SwiftShader, llvmpipe: a CPU
// emulation) webgpu's figures are marked "relative only (software adapter)": they check
// the code path, they say nothing about a GPU's speed.
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import * as tf from '@tensorflow/tfjs-core';
import { adapterName, selectBackend } from '@ssd/backend';
import { multiboxLoss } from '@ssd/loss';
import { createRng } from '@ssd/random';
import { preprocess } from '@ssd/vgg-ssd';
// The app has no package entry (it is a CLI): its built library module.
import {
  SHAPES_RECIPE,
  buildNetwork,
  createOptimizer,
} from '../../examples/train-voc/dist/index.js';

const { values } = parseArgs({
  options: {
    batch: { type: 'string', default: '4' },
    steps: { type: 'string', default: '3' },
    backends: { type: 'string', default: 'wasm,webgpu' },
  },
});
const B = Number(values.batch);
const STEPS = Number(values.steps);
const NUM_CLASSES = 7; // the shapes set's six classes + background
const VARIANTS = [
  {
    name: `shapes preset (width ${SHAPES_RECIPE.widthMultiplier}, ${SHAPES_RECIPE.inputSize} px)`,
    widthMultiplier: SHAPES_RECIPE.widthMultiplier,
    inputSize: SHAPES_RECIPE.inputSize,
  },
  { name: 'tiny (width 0.0625, 96 px)', widthMultiplier: 0.0625, inputSize: 96 },
];

/** A synthetic batch: pixels 0–255, sparse positives with random offsets. */
function syntheticBatch(size, numAnchors) {
  const rng = createRng(1);
  const labels = new Int32Array(B * numAnchors);
  for (let i = 0; i < B * 20; i++) {
    labels[Math.floor(rng() * B * numAnchors)] = 1 + (i % (NUM_CLASSES - 1));
  }
  return {
    images: Float32Array.from({ length: B * size * size * 3 }, () => rng() * 255),
    locTargets: Float32Array.from({ length: B * numAnchors * 4 }, () => rng() - 0.5),
    labels,
  };
}

async function measure(variant) {
  const net = buildNetwork({
    preset: 'shapes',
    numClasses: NUM_CLASSES,
    inputSize: variant.inputSize,
    widthMultiplier: variant.widthMultiplier,
    inputScale: SHAPES_RECIPE.inputScale,
    normalization: SHAPES_RECIPE.normalization,
    seed: 1,
    heInit: true,
  });
  const optimizer = createOptimizer('adam', net.params, SHAPES_RECIPE);
  const variables = net.params.map((p) => p.variable);
  const host = syntheticBatch(variant.inputSize, net.numAnchors);
  const S = variant.inputSize;
  const batch = {
    images: tf.tidy(() => preprocess(tf.tensor4d(host.images, [B, S, S, 3]))),
    locTargets: tf.tensor3d(host.locTargets, [B, net.numAnchors, 4]),
    labels: tf.tensor2d(host.labels, [B, net.numAnchors], 'int32'),
  };
  const step = async () => {
    const t0 = performance.now();
    const { value, grads } = tf.variableGrads(() => {
      const [locPred, logits] = net.forward(batch.images);
      return multiboxLoss({ locPred, logits }, batch).total;
    }, variables);
    optimizer.apply(
      variables.map((v) => grads[v.name]),
      SHAPES_RECIPE.lr,
    );
    const loss = (await value.data())[0];
    await variables[0].data(); // the update has run
    tf.dispose([value, ...Object.values(grads)]);
    if (!Number.isFinite(loss)) throw new Error(`non-finite loss ${loss}`);
    return performance.now() - t0;
  };
  const first = await step();
  let total = 0;
  for (let i = 0; i < STEPS; i++) total += await step();
  tf.dispose(Object.values(batch));
  optimizer.dispose();
  net.dispose();
  return { first, mean: total / STEPS };
}

const rows = [];
for (const prefer of values.backends.split(',')) {
  let selection;
  try {
    selection = await selectBackend({ prefer });
  } catch (error) {
    console.log(`${prefer}: unavailable (${error.message.split('\n')[0]})`);
    continue;
  }
  const software = selection.adapter?.software === true;
  const label = selection.adapter
    ? `${selection.backend} (${adapterName(selection.adapter)})`
    : selection.backend;
  for (const variant of VARIANTS) {
    const { first, mean } = await measure(variant);
    rows.push({ variant: variant.name, backend: label, software, first, mean });
    console.error(`${variant.name}, ${label}: ${mean.toFixed(0)} ms/step`);
  }
}

const wasmOf = (variant) => rows.find((r) => r.variant === variant && r.backend === 'wasm');
const header = ['network', 'backend', 'first step', 'ms/step', 'images/s', 'vs wasm', 'note'];
const lines = rows.map((r) => {
  const wasm = wasmOf(r.variant);
  return [
    r.variant,
    r.backend,
    `${(r.first / 1000).toFixed(1)} s`,
    r.mean.toFixed(0),
    ((1000 * B) / r.mean).toFixed(2),
    wasm ? `${(wasm.mean / r.mean).toFixed(3)}×` : '',
    r.software ? 'relative only (software adapter)' : '',
  ];
});
console.log(
  `One train step (forward, MultiBox loss, gradients, Adam), batch ${B}, mean of ${STEPS} ` +
    `after a first step; tfjs ${tf.version_core}:\n`,
);
console.log(`| ${header.join(' | ')} |`);
console.log(`| ${header.map(() => '---').join(' | ')} |`);
for (const l of lines) console.log(`| ${l.join(' | ')} |`);
