import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-wasm';
import { testRng } from '@ssd/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  ACCUMULATE,
  BIAS,
  configureWasmGemm,
  gemmFor,
  gemmModuleBytes,
  hasRelaxedSimd,
  RELU,
  type Gemm,
  type GemmCall,
} from './gemm';
import { heapOffset, type HeapBackend } from './heap';

/** One call's parameters, with pointers and strides in floats (the test turns them into bytes). */
type Call = GemmCall;

/**
 * The module comment's formula, in float64, over a copy of `arena` (offsets in
 * floats), repetitions included: the arena as the call leaves it.
 */
function reference(arena: Float32Array, call: Call): Float32Array {
  const after = Float32Array.from(arena);
  for (let rep = 0; rep < (call.reps ?? 1); rep++) {
    const p = {
      ...call,
      a: call.a + rep * (call.aRep ?? 0),
      bp: call.bp + rep * (call.bRep ?? 0),
      c: call.c + rep * (call.cRep ?? 0),
    };
    const out = product(after, p);
    for (let m = 0; m < p.M; m++) {
      for (let n = 0; n < p.N; n++) after[p.c + m * p.ldc + n] = out[m * p.N + n]!;
    }
  }
  return after;
}

function product(arena: Float32Array, p: Call): Float64Array {
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

/** Runs `call` (pointers and strides in floats) on the float arena `arena`. */
function runOn(gemm: Gemm, arena: tf.Tensor, call: Call): void {
  const at = heapOffset(tf.backend(), arena);
  const bytes = (n: number) => n * F;
  gemm.run({
    a: at + bytes(call.a),
    S: bytes(call.S),
    Wm: call.Wm,
    R: bytes(call.R),
    Ks: bytes(call.Ks),
    KH: call.KH,
    KW: call.KW,
    TH: bytes(call.TH),
    TW: bytes(call.TW),
    Kc: call.Kc,
    bp: at + bytes(call.bp),
    Bs: bytes(call.Bs),
    PS: bytes(call.PS),
    c: at + bytes(call.c),
    ldc: bytes(call.ldc),
    M: call.M,
    N: call.N,
    bias: at + bytes(call.bias),
    flags: call.flags,
    reps: call.reps ?? 1,
    aRep: bytes(call.aRep ?? 0),
    bRep: bytes(call.bRep ?? 0),
    cRep: bytes(call.cRep ?? 0),
    split: call.split ?? false,
  });
}

const ARENA = 3000;
const engine = (globalThis as unknown as { WebAssembly: { validate(b: Uint8Array): boolean } })
  .WebAssembly;

// Every parameter exercised: row groups, strided reduction steps, taps, a tail
// of 1–3 rows, a partial last panel, packed and row-major B, bias, ReLU, accumulation.
const convolutionLike: Call = {
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
};

const manyRows: Call = {
  a: 0,
  S: 1,
  Wm: 300,
  R: 0,
  Ks: 1,
  KH: 1,
  KW: 1,
  TH: 0,
  TW: 0,
  Kc: 2,
  bp: 400,
  Bs: 8,
  PS: 16,
  c: 500,
  ldc: 8,
  M: 300,
  N: 8,
  bias: 0,
  flags: RELU,
};

const calls: Array<[string, Call]> = [
  [
    'convolution-like: 2×3 taps, groups of 5 rows, packed B, 11 columns, bias + ReLU',
    convolutionLike,
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
  ['more rows than a block (300, blocks of 256), a reduction of 2', manyRows],
  [
    'three repetitions, moving A, B and C on (C accumulated in place by the second)',
    {
      a: 0,
      S: 4,
      Wm: 3,
      R: 0,
      Ks: 1,
      KH: 1,
      KW: 3,
      TH: 0,
      TW: 2,
      Kc: 4,
      bp: 300,
      Bs: 8,
      PS: 12 * 8,
      c: 1200,
      ldc: 8,
      M: 7,
      N: 8,
      bias: 0,
      flags: ACCUMULATE,
      reps: 3,
      aRep: 60,
      bRep: 100,
      cRep: 30,
    },
  ],
  [
    'tap by tap (split): 2×3 taps, groups of 5 rows, packed B, 16 columns, bias + ReLU',
    { ...convolutionLike, ldc: 16, N: 16, split: true },
  ],
  [
    'tap by tap, accumulated onto C (20 of 24 columns), two repetitions',
    {
      a: 0,
      S: 3,
      Wm: 4,
      R: 16,
      Ks: 1,
      KH: 2,
      KW: 2,
      TH: 16,
      TW: 2,
      Kc: 3,
      bp: 300,
      Bs: 8,
      PS: 12 * 8,
      c: 1200,
      ldc: 24,
      M: 9,
      N: 20,
      bias: 0,
      flags: ACCUMULATE | RELU,
      reps: 2,
      aRep: 50,
      bRep: 400,
      cRep: 240,
      split: true,
    },
  ],
  [
    'tap by tap over more rows than a block (300), bias',
    { ...manyRows, KW: 2, TW: 1, PS: 32, bias: 450, flags: BIAS, split: true },
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
    // Node ≥ 20.16 gets relaxed SIMD from its flag (hasRelaxedSimd turns it on); Node 22 ships it.
    const [major, minor] = process.versions.node.split('.').map(Number) as [number, number];
    expect(hasRelaxedSimd()).toBe(major > 20 || (major === 20 && minor >= 16));
    expect(engine.validate(gemmModuleBytes(true))).toBe(true);
    expect(engine.validate(gemmModuleBytes(true, true))).toBe(true);
  });

  it('packs a row-major [K, 8P] matrix into panels [P][K][8] (K across several blocks)', () => {
    const backend = tf.backend();
    const gemm = gemmFor(backend)!;
    const [K, P] = [150, 3];
    const rng = testRng(8);
    const src = tf.tensor1d(Float32Array.from({ length: K * P * 8 }, () => rng()));
    const dst = tf.zeros([K * P * 8 + 8]);
    gemm.pack(heapOffset(backend, src), heapOffset(backend, dst), K, P);
    const heap = backend as unknown as HeapBackend;
    const from = heap.typedArrayFromHeap(src) as Float32Array;
    const to = heap.typedArrayFromHeap(dst) as Float32Array;
    for (let j = 0; j < P; j++) {
      for (let k = 0; k < K; k++) {
        for (let l = 0; l < 8; l++) {
          expect(to[(j * K + k) * 8 + l]).toBe(from[k * P * 8 + j * 8 + l]);
        }
      }
    }
    expect(Array.from(to.subarray(K * P * 8))).toEqual(new Array(8).fill(0));
    tf.dispose([src, dst]);
  });

  it('skips an empty product, refuses an empty reduction, and can be switched off', () => {
    const backend = tf.backend();
    const gemm = gemmFor(backend)!;
    const call = {
      a: 0,
      S: 4,
      Wm: 1,
      R: 0,
      Ks: 4,
      KH: 1,
      KW: 1,
      TH: 0,
      TW: 0,
      Kc: 1,
      bp: 0,
      Bs: 32,
      PS: 32,
      c: 0,
      ldc: 32,
      M: 0,
      N: 8,
      bias: 0,
      flags: 0,
    };
    expect(() => gemm.run(call)).not.toThrow();
    expect(() => gemm.run({ ...call, M: 4, Kc: 0 })).toThrow(RangeError);
    // Tap by tap, C holds partial sums: a partial last panel would spill into the next row.
    expect(() => gemm.run({ ...call, M: 4, N: 12, split: true })).toThrow(RangeError);
    expect(configureWasmGemm({ enabled: false })).toEqual({
      enabled: false,
      fusedMultiplyAdd: true,
      cachePackedFilters: true,
      winograd: true,
    });
    expect(gemmFor(backend)).toBeNull();
    configureWasmGemm({ enabled: true, fusedMultiplyAdd: false });
    expect(gemmFor(backend)?.fused).toBe(false);
    configureWasmGemm({ fusedMultiplyAdd: true });
    expect(gemmFor(backend)).toBe(gemm);
  });

  it.each(calls.filter(([, call]) => call.split === true))(
    'tap by tap gives the bits of one pass: %s',
    (_name, call) => {
      const gemm = gemmFor(tf.backend(), { fma: hasRelaxedSimd() })!;
      const rng = testRng(6);
      const initial = Float32Array.from({ length: ARENA }, () => rng() * 2 - 1);
      const [split, whole] = [true, false].map((on) => {
        const arena = tf.tensor1d(initial);
        runOn(gemm, arena, { ...call, split: on });
        const values = arena.dataSync().slice();
        arena.dispose();
        return values;
      });
      expect(split).toEqual(whole);
      expect(split).not.toEqual(initial);
    },
  );

  for (const fma of [false, true]) {
    it.each(calls)(`${fma ? 'fused' : 'multiply + add'}: %s`, (_name, call) => {
      const backend = tf.backend();
      const gemm = gemmFor(backend, { fma })!;
      expect(gemm.fused).toBe(fma);
      const rng = testRng(5);
      const arena = tf.tensor1d(Float32Array.from({ length: ARENA }, () => rng() * 2 - 1));
      const values = (backend as unknown as HeapBackend).typedArrayFromHeap(arena) as Float32Array;
      const before = Float32Array.from(values);
      const expected = reference(before, call);
      runOn(gemm, arena, call);
      const after = (backend as unknown as HeapBackend).typedArrayFromHeap(arena) as Float32Array;
      // C's rows and columns as the formula gives them; everything else as it was, but
      // the padding of accumulated whole panels (call 3's columns 20–23, summed too).
      const width = call.flags & ACCUMULATE ? Math.ceil(call.N / 8) * 8 : call.N;
      let checked = 0;
      for (let i = 0; i < after.length; i++) {
        const r = Math.floor((i - call.c) / call.ldc);
        const col = i - call.c - r * call.ldc;
        const reps = call.reps ?? 1;
        const lastC = call.c + (reps - 1) * (call.cRep ?? 0);
        const inC = i >= call.c && i < lastC + call.M * call.ldc;
        if (inC && col < call.N) {
          const want = expected[i]!;
          expect(Math.abs(after[i]! - want), `value ${i}`).toBeLessThan(
            1e-5 * (1 + Math.abs(want)),
          );
          checked++;
        } else if (!(inC && col < width)) {
          expect(after[i], `value ${i}`).toBe(before[i]);
        }
      }
      expect(checked).toBeGreaterThanOrEqual(call.M * call.N);
      arena.dispose();
    });
  }
});
