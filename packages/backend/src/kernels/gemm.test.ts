import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-wasm';
import { testRng } from '@ssd/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ACCUMULATE, BIAS, gemmFor, gemmModuleBytes, hasRelaxedSimd, RELU } from './gemm';
import { heapOffset, type HeapBackend } from './heap';

/** One call's parameters, in floats (the test turns them into bytes). */
interface Call {
  a: number;
  S: number;
  Wm: number;
  R: number;
  Ks: number;
  KH: number;
  KW: number;
  TH: number;
  TW: number;
  Kc: number;
  bp: number;
  Bs: number;
  PS: number;
  c: number;
  ldc: number;
  M: number;
  N: number;
  bias: number;
  flags: number;
}

/** The module comment's formula, in float64, over `arena` (offsets in floats). */
function reference(arena: Float32Array, p: Call): Float64Array {
  const out = new Float64Array(p.M * p.N);
  for (let m = 0; m < p.M; m++) {
    const g = Math.floor(m / p.Wm);
    const row = p.a + g * p.R + (m - g * p.Wm) * p.S;
    for (let n = 0; n < p.N; n++) {
      let sum = p.flags & ACCUMULATE ? arena[p.c + m * p.ldc + n]! : 0;
      if (p.flags & BIAS) sum += arena[p.bias + n]!;
      let k = 0;
      for (let kh = 0; kh < p.KH; kh++) {
        for (let kw = 0; kw < p.KW; kw++) {
          for (let i = 0; i < p.Kc; i++, k++) {
            const av = arena[row + kh * p.TH + kw * p.TW + i * p.Ks]!;
            const bv = arena[p.bp + (n >> 3) * p.PS + k * p.Bs + (n & 7)]!;
            sum += av * bv;
          }
        }
      }
      out[m * p.N + n] = p.flags & RELU ? Math.max(0, sum) : sum;
    }
  }
  return out;
}

const F = Float32Array.BYTES_PER_ELEMENT;
const engine = (globalThis as unknown as { WebAssembly: { validate(b: Uint8Array): boolean } })
  .WebAssembly;

// Every parameter exercised: row groups, strided reduction steps, taps, a tail
// of 1–3 rows, a partial last panel, packed and row-major B, bias, ReLU, accumulation.
const calls: Array<[string, Call]> = [
  [
    'convolution-like: 2×3 taps, groups of 5 rows, packed B, 11 columns, bias + ReLU',
    {
      a: 0,
      S: 6,
      Wm: 5,
      R: 40,
      Ks: 1,
      KH: 2,
      KW: 3,
      TH: 40,
      TW: 6,
      Kc: 6,
      bp: 800,
      Bs: 8,
      PS: 36 * 8,
      c: 1500,
      ldc: 11,
      M: 13,
      N: 11,
      bias: 1400,
      flags: BIAS | RELU,
    },
  ],
  [
    'row-major B (16 columns), strided reduction, 6 rows, no bias',
    {
      a: 0,
      S: 1,
      Wm: 6,
      R: 0,
      Ks: 7,
      KH: 1,
      KW: 1,
      TH: 0,
      TW: 0,
      Kc: 50,
      bp: 400,
      Bs: 16,
      PS: 8,
      c: 1400,
      ldc: 16,
      M: 6,
      N: 16,
      bias: 0,
      flags: 0,
    },
  ],
  [
    'accumulated onto C (rows padded to 24), 9 rows, 20 columns',
    {
      a: 0,
      S: 3,
      Wm: 9,
      R: 0,
      Ks: 29,
      KH: 1,
      KW: 1,
      TH: 0,
      TW: 0,
      Kc: 17,
      bp: 600,
      Bs: 8,
      PS: 17 * 8,
      c: 1100,
      ldc: 24,
      M: 9,
      N: 20,
      bias: 0,
      flags: ACCUMULATE,
    },
  ],
];

describe('the strided implicit GEMM', () => {
  let initial: string;
  beforeAll(async () => {
    initial = tf.getBackend();
    expect(await tf.setBackend('wasm')).toBe(true);
  });
  afterAll(async () => {
    await tf.setBackend(initial);
  });

  it('emits a module the engine validates, with and without relaxed SIMD', () => {
    expect(engine.validate(gemmModuleBytes(false))).toBe(true);
    // Node 20 gets relaxed SIMD from its flag (hasRelaxedSimd turns it on); browsers and Node 22 ship it.
    expect(hasRelaxedSimd()).toBe(true);
    expect(engine.validate(gemmModuleBytes(true))).toBe(true);
    expect(engine.validate(gemmModuleBytes(true, true))).toBe(true);
  });

  for (const fma of [false, true]) {
    it.each(calls)(`${fma ? 'fused' : 'multiply + add'}: %s`, (_name, call) => {
      const backend = tf.backend();
      const gemm = gemmFor(backend, { fma })!;
      expect(gemm.fused).toBe(fma);
      const rng = testRng(5);
      const arena = tf.tensor1d(Float32Array.from({ length: 3000 }, () => rng() * 2 - 1));
      const values = (backend as unknown as HeapBackend).typedArrayFromHeap(arena) as Float32Array;
      const before = Float32Array.from(values);
      const expected = reference(before, call);
      const at = heapOffset(backend, arena);
      const bytes = (n: number) => n * F;
      gemm.run(
        at + bytes(call.a),
        bytes(call.S),
        call.Wm,
        bytes(call.R),
        bytes(call.Ks),
        call.KH,
        call.KW,
        bytes(call.TH),
        bytes(call.TW),
        call.Kc,
        at + bytes(call.bp),
        bytes(call.Bs),
        bytes(call.PS),
        at + bytes(call.c),
        bytes(call.ldc),
        call.M,
        call.N,
        at + bytes(call.bias),
        call.flags,
      );
      const after = (backend as unknown as HeapBackend).typedArrayFromHeap(arena) as Float32Array;
      for (let m = 0; m < call.M; m++) {
        for (let n = 0; n < call.N; n++) {
          const want = expected[m * call.N + n]!;
          const got = after[call.c + m * call.ldc + n]!;
          expect(Math.abs(got - want), `C[${m}, ${n}]`).toBeLessThan(1e-5 * (1 + Math.abs(want)));
        }
      }
      // Nothing outside C's rows and columns is written, but the padding of
      // accumulated whole panels (here columns 20–23, which are summed too).
      const written = (i: number) => {
        const r = Math.floor((i - call.c) / call.ldc);
        const col = i - call.c - r * call.ldc;
        const width = call.flags & ACCUMULATE ? Math.ceil(call.N / 8) * 8 : call.N;
        return i >= call.c && r < call.M && col < width;
      };
      for (let i = 0; i < 3000; i++) {
        if (!written(i)) expect(after[i], `value ${i}`).toBe(before[i]);
      }
      arena.dispose();
    });
  }
});
