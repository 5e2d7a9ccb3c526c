// This package's GEMM convolution against tfjs-backend-wasm's stock XNNPACK one, side by
// side in one run: a fused conv2d (3×3, `same`, bias + ReLU) per layer, the stock kernel
// and ours alternating call by call (registerWasmTrainingKernels / unregister), on one
// thread. Prints the median ms of each, GFLOP/s (2·MACs of the convolution) and the ratio.
//
//   npx nx run-many -t build && node tools/bench/wasm-conv.mjs [--reps 15] [--full]
//
// Layers: the `npm start` network's (VGG16 ×1/8 at 128 px, one worker's 8 images); with
// --full also SSD300's (full width, batch 1), which take seconds each; the 512-channel
// ones run their reduction tap by tap (GemmCall.split).
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-wasm';
import { hasRelaxedSimd, registerWasmTrainingKernels } from '@ssd/backend';

const { values } = parseArgs({
  options: {
    reps: { type: 'string', default: '15' },
    full: { type: 'boolean', default: false },
  },
});
const reps = Number(values.reps);

// [batch, size, in channels, out channels]
const layers = [
  [8, 128, 3, 8],
  [8, 128, 8, 8],
  [8, 64, 8, 16],
  [8, 64, 16, 16],
  [8, 32, 16, 32],
  [8, 32, 32, 32],
  [8, 16, 32, 64],
  [8, 16, 64, 64],
  [8, 8, 64, 64],
];
if (values.full)
  layers.push(
    [1, 300, 64, 64],
    [1, 150, 128, 128],
    [1, 75, 256, 256],
    [1, 38, 512, 512],
    [1, 19, 512, 512],
  );

await tf.setBackend('wasm');
let ours = registerWasmTrainingKernels();

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

console.log(
  `fused conv2d 3×3 same + bias + ReLU, wasm, 1 thread, median of ${reps}; relaxed SIMD: ${hasRelaxedSimd()}`,
);
console.log(
  'layer                      stock ms   ours ms   stock GFLOP/s  ours GFLOP/s  stock/ours',
);
for (const [B, S, C, CO] of layers) {
  const x = tf.randomUniform([B, S, S, C], -1, 1);
  const filter = tf.randomUniform([3, 3, C, CO], -0.1, 0.1);
  const bias = tf.randomUniform([CO], -0.1, 0.1);
  // wasm kernels run synchronously: the call's time is the kernel's. (Reading the output
  // out of the heap, dataSync, would add a copy of it: ~2.5 ms for 4 MB.)
  const once = () => {
    const t0 = performance.now();
    const y = tf.fused.conv2d({ x, filter, bias, strides: 1, pad: 'same', activation: 'relu' });
    const ms = performance.now() - t0;
    y.dispose();
    return ms;
  };
  const stock = [];
  const mine = [];
  for (let r = -1; r < reps; r++) {
    ours.unregister();
    const s = once();
    ours = registerWasmTrainingKernels();
    const m = once();
    if (r >= 0) {
      stock.push(s);
      mine.push(m);
    }
  }
  const gflop = (2 * B * S * S * 9 * C * CO) / 1e9;
  const [s, m] = [median(stock), median(mine)];
  const name = `${B}×${S}×${S}, ${C} → ${CO}`.padEnd(26);
  console.log(
    `${name} ${s.toFixed(2).padStart(8)} ${m.toFixed(2).padStart(9)} ${((gflop / s) * 1000).toFixed(1).padStart(14)} ${((gflop / m) * 1000).toFixed(1).padStart(13)} ${(s / m).toFixed(2).padStart(11)}`,
  );
  tf.dispose([x, filter, bias]);
}
