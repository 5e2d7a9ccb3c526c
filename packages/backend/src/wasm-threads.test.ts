import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-wasm';
import { testRng } from '@ssd/testing';
import { describe, expect, it } from 'vitest';
import { createDataParallelTrainer } from './data-parallel';
import { hasRelaxedSimd } from './kernels/gemm';
import { selectBackend } from './select-backend';
import { enableWasmThreads, MAX_WASM_THREADS } from './wasm-threads';

interface OpsRun {
  threads: number;
  gemm: { fused: boolean; threads: number; keptFilterBytes: number } | null;
  results: Record<string, { sha256: string; head: number[] }>;
}

/** The fixture's ops in a fresh Node process on `threads` wasm threads. */
function runOps(threads: number): OpsRun {
  const script = fileURLToPath(new URL('./fixtures/wasm-ops.mjs', import.meta.url));
  const out = execFileSync(process.execPath, [script, String(threads)], {
    encoding: 'utf8',
    timeout: 120_000,
  });
  return JSON.parse(out.trim().split('\n').pop()!) as OpsRun;
}

describe('enableWasmThreads', () => {
  it('runs the threaded build on 2 threads with the same bits as the single-threaded one', () => {
    const one = runOps(1);
    const two = runOps(2);
    expect(one.threads).toBe(1);
    expect(two.threads).toBe(2);
    // The convolutions' GEMM splits its rows with one helper thread on the threaded build.
    expect(one.gemm).toEqual({ fused: hasRelaxedSimd(), threads: 1, keptFilterBytes: 0 });
    expect(two.gemm).toEqual({ fused: hasRelaxedSimd(), threads: 2, keptFilterBytes: 0 });
    const names = Object.keys(one.results);
    expect(names).toEqual([
      'conv',
      'convStride2',
      'fusedBiasRelu',
      'matMul',
      'winograd',
      'convGradients',
    ]);
    for (const name of names) {
      expect(two.results[name]!.sha256, name).toBe(one.results[name]!.sha256);
    }
    // The product is a real one, not zeros: a 3×3×16 dot product of uniform(-½, ½) values.
    expect(one.results.conv!.head.some((v) => Math.abs(v) > 0.05)).toBe(true);
  });

  it('checks its argument, and must run before the backend initialises', async () => {
    for (const bad of [0, 1.5, MAX_WASM_THREADS + 1]) {
      await expect(enableWasmThreads(bad)).rejects.toThrow(RangeError);
    }
    expect(await enableWasmThreads(2)).toBe(2);
    expect(await enableWasmThreads(2)).toBe(2); // idempotent
    await expect(enableWasmThreads(3)).rejects.toThrow(/already enabled with 2 threads/);
    const selection = await selectBackend({ prefer: 'wasm' });
    expect(selection.backend).toBe('wasm');
    expect(selection.threads).toBe(2);
    // Conv on the threaded build agrees with the cpu backend.
    const rng = testRng(3);
    const x = tf.tensor4d(Float32Array.from({ length: 2 * 12 * 12 * 8 }, rng), [2, 12, 12, 8]);
    const w = tf.tensor4d(Float32Array.from({ length: 3 * 3 * 8 * 16 }, rng), [3, 3, 8, 16]);
    const onWasm = await tf.conv2d(x, w, 1, 'same').data();
    await tf.setBackend('cpu');
    const onCpu = await tf.conv2d(x, w, 1, 'same').data();
    onWasm.forEach((v, i) => expect(Math.abs(v - onCpu[i]!)).toBeLessThan(1e-4));
    await tf.setBackend('wasm');
    expect(await enableWasmThreads(2)).toBe(2);
    await expect(enableWasmThreads(3)).rejects.toThrow();
  });

  it('threadsPerWorker: a worker on 2 threads trains to the same bits as on 1', async () => {
    const replicaModule = new URL('./fixtures/conv-replica.mjs', import.meta.url);
    const weights = async (threadsPerWorker: number) => {
      const trainer = await createDataParallelTrainer({
        replicaModule,
        replicaOptions: { normalized: true },
        workers: 1,
        threadsPerWorker,
      });
      try {
        const rng = testRng(9);
        for (let s = 0; s < 3; s++) {
          const rows = 4;
          const x = Float32Array.from({ length: rows * 9 * 9 * 2 }, () => rng() * 2 - 1);
          const y = Int32Array.from({ length: rows }, () => Math.floor(rng() * 3));
          await trainer.step(
            {
              x: { data: x, shape: [rows, 9, 9, 2] },
              y: { data: y, shape: [rows] },
              weight: { data: new Int32Array(rows).fill(1), shape: [rows] },
            },
            { learningRate: 0.05 },
          );
        }
        expect(trainer.threadsPerWorker).toBe(threadsPerWorker);
        return await trainer.getWeights();
      } finally {
        await trainer.dispose();
      }
    };
    const single = await weights(1);
    const threaded = await weights(2);
    expect(threaded.map((w) => w.name)).toEqual(single.map((w) => w.name));
    threaded.forEach((w, i) => expect(Array.from(w.data)).toEqual(Array.from(single[i]!.data)));
    await expect(
      createDataParallelTrainer({ replicaModule, workers: 1, threadsPerWorker: 0 }),
    ).rejects.toThrow(/threadsPerWorker/);
  });
});
