/**
 * Parity with torchvision's ssd300_vgg16 (backbone + head, before post-processing)
 * on the fixture made by tools/fixtures/vgg_ssd_torchvision.py: both sides fill
 * every weight by the same formula, so only the input and outputs are committed.
 * Runs the full-size network forward on the wasm backend (~2 s; ~70 s on cpu).
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-wasm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { expectArrayClose } from '@ssd/testing';
import { SSD300_VOC } from '@ssd/anchors';
import { createSsdVgg16, loadTorchvisionWeights, preprocess, type SafetensorsEntry } from './index';

const fixture = (name: string) => fileURLToPath(new URL(`./fixtures/${name}`, import.meta.url));
const f32 = (name: string) => {
  const bytes = readFileSync(fixture(name));
  return new Float32Array(bytes.buffer, bytes.byteOffset, bytes.byteLength / 4);
};

/** lowbias32 (Chris Wellons' hash), exactly as the Python script's uint32 arithmetic. */
function lowbias32(x: number): number {
  x ^= x >>> 16;
  x = Math.imul(x, 0x7feb352d);
  x ^= x >>> 15;
  x = Math.imul(x, 0x846ca68b);
  x ^= x >>> 16;
  return x >>> 0;
}

function uniform(t: number, n: number): Float64Array {
  const out = new Float64Array(n);
  const base = (t * 0x01000193) % 2 ** 32;
  for (let i = 0; i < n; i++) out[i] = lowbias32((base + i) >>> 0) / 2 ** 32;
  return out;
}

function filled(t: number, name: string, shape: number[]): Float32Array {
  const n = shape.reduce((a, b) => a * b, 1);
  const u = uniform(t, n);
  const out = new Float32Array(n);
  if (name.endsWith('scale_weight')) for (let i = 0; i < n; i++) out[i] = 20 * (0.5 + u[i]!);
  else if (name.endsWith('.bias')) for (let i = 0; i < n; i++) out[i] = 0.1 * (2 * u[i]! - 1);
  else {
    const limit = Math.sqrt(6 / shape.slice(1).reduce((a, b) => a * b, 1));
    for (let i = 0; i < n; i++) out[i] = (2 * u[i]! - 1) * limit;
  }
  return out;
}

let previousBackend = 'cpu';
beforeAll(async () => {
  previousBackend = tf.getBackend();
  expect(await tf.setBackend('wasm')).toBe(true);
});
afterAll(async () => {
  await tf.setBackend(previousBackend);
});

describe('parity with torchvision ssd300_vgg16', () => {
  const meta = JSON.parse(readFileSync(fixture('vgg_ssd_torchvision.json'), 'utf8')) as {
    parameters: number;
    tensors: { name: string; shape: number[] }[];
  };

  it('the JS formula reproduces the fixture input bit for bit', () => {
    const input = f32('vgg_ssd_torchvision_input.f32');
    const u = uniform(1000, input.length);
    let mismatches = 0;
    for (let i = 0; i < input.length; i++) if (Math.floor(256 * u[i]!) !== input[i]) mismatches++;
    expect(mismatches).toBe(0);
  });

  it('box offsets and class logits agree within 1e-4 relative', async () => {
    expect(meta.parameters).toBe(26_285_486);
    // Filled tensor by tensor, yielding between them: a minute of synchronous work
    // on a loaded machine starves vitest's worker RPC.
    const tensors = new Map<string, SafetensorsEntry>();
    for (const [t, { name, shape }] of meta.tensors.entries()) {
      const values = filled(t, name, shape);
      tensors.set(name, { dtype: 'F32', shape, values: () => values });
      await new Promise((resolve) => setTimeout(resolve, 0));
    }
    const model = createSsdVgg16({ numClasses: 21, preset: SSD300_VOC });
    const set = loadTorchvisionWeights(model, tensors, { source: 'formula' });
    expect(set).toHaveLength(13 + 2 + 8 + 12 + 1); // VGG, fc6/fc7, extras, heads, L2Norm
    expect(new Set(set).size).toBe(set.length);

    await new Promise((resolve) => setTimeout(resolve, 0));
    const image = tf.tensor4d(f32('vgg_ssd_torchvision_input.f32'), [1, 300, 300, 3]);
    const x = preprocess(image);
    const [loc, logits] = model.predict(x) as tf.Tensor[];
    expect(loc!.shape).toEqual([1, 8732, 4]);
    expect(logits!.shape).toEqual([1, 8732, 21]);
    for (const [actual, file] of [
      [loc!, 'vgg_ssd_torchvision_loc.f32'],
      [logits!, 'vgg_ssd_torchvision_logits.f32'],
    ] as const) {
      const got = (await actual.data()) as Float32Array;
      const want = f32(file);
      // 1e-4 relative, floored at the typical magnitude (mean |e| ≈ 60): an element
      // near zero still carries the float32 rounding of sums of terms ~60 in size.
      let meanAbs = 0;
      for (const v of want) meanAbs += Math.abs(v) / want.length;
      expectArrayClose(got, want, { rtol: 1e-4, atol: 1e-4 * meanAbs });
    }
    tf.dispose([image, x, loc!, logits!]);
    model.dispose();
  });
});
