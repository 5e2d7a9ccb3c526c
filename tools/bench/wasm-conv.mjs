// This package's convolutions against tfjs-backend-wasm's stock XNNPACK one, side by
// side in one run: a fused conv2d (3×3, `same`, bias + ReLU) per layer, the stock kernel,
// ours on the direct GEMM (configureWasmGemm({ winograd: false })) and ours by Winograd's
// F(2×2, 3×3) (layers of ≥ 32 channels) alternating call by call
// (registerWasmTrainingKernels / unregister), on one thread. Prints the median ms of
// each, GFLOP/s (2·MACs of the direct convolution) and the best speed-up.
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
import { configureWasmGemm, hasRelaxedSimd, registerWasmTrainingKernels } from '@ssd/backend';

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
  'GFLOP/s: 2·MACs of the direct convolution per second (Winograd does 2.25× fewer multiply-adds)',
);
console.log(
  'layer                      XNNPACK ms  GEMM ms  Winograd ms   XNNPACK GF/s  GEMM GF/s  Winograd GF/s  best speed-up',
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
  // Winograd runs where both channel counts are ≥ 32 (the kept, transformed filter, as
  // in inference; the GEMM's packed filter is kept too).
  const winograd = Math.min(C, CO) >= 32;
  const stock = [];
  const gemm = [];
  const wino = [];
  for (let r = -2; r < reps; r++) {
    ours.unregister();
    const s = once();
    ours = registerWasmTrainingKernels();
    configureWasmGemm({ winograd: false });
    const g = once();
    configureWasmGemm({ winograd: true });
    const w = winograd ? once() : null;
    if (r >= 0) {
      stock.push(s);
      gemm.push(g);
      if (w != null) wino.push(w);
    }
  }
  const gflop = (2 * B * S * S * 9 * C * CO) / 1e9;
  const [s, g] = [median(stock), median(gemm)];
  const w = winograd ? median(wino) : null;
  const name = `${B}×${S}×${S}, ${C} → ${CO}`.padEnd(26);
  const rate = (ms) => ((gflop / ms) * 1000).toFixed(1);
  console.log(
    `${name} ${s.toFixed(2).padStart(10)} ${g.toFixed(2).padStart(8)} ${(w == null ? '—' : w.toFixed(2)).padStart(12)} ${rate(s).padStart(14)} ${rate(g).padStart(10)} ${(w == null ? '—' : rate(w)).padStart(14)} ${(s / Math.min(g, w ?? g)).toFixed(2).padStart(14)}`,
  );
  tf.dispose([x, filter, bias]);
}
