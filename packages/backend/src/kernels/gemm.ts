/**
 * A strided implicit GEMM in WebAssembly SIMD, generated at run time and run on
 * the wasm backend's own heap (it imports tfjs-backend-wasm's memory, so
 * operands are never copied).
 *
 * For rows m < M and columns n < N (bytes for every stride and pointer):
 *
 *   C[m, n] = Σ_{kh<KH, kw<KW, k<Kc} A(row(m) + kh·TH + kw·TW + k·Ks) · B[kh, kw, k, n]
 *
 * where row(m) = a + g·R + w·S for m = g·Wm + w: rows come in groups of Wm
 * (an output row of a convolution), S apart within a group and R apart from
 * one group to the next; C's rows are ldc apart throughout. B is read in
 * panels of 8 columns: panel j starts at bp + j·PS, and each step of the
 * reduction moves Bs bytes on (a row-major `[K, N]` matrix with N a multiple
 * of 8: PS = 32, Bs = 4N; packed `[⌈N/8⌉][K][8]`: PS = 32K, Bs = 32). The
 * result optionally gets a bias (8-padded) added, then a ReLU, or is
 * accumulated onto C (whole panels: C's rows padded to a multiple of 8).
 *
 * A convolution is one call per image: A = the padded input from the top-left
 * tap, Wm = the output width, S = stride·Cin·4, R = stride × the padded row,
 * Ks = 4, TH = the padded row, TW = Cin·4 (both times the dilation), Kc = Cin.
 * A kernel gradient is one call per tap and chunk of the reduction over
 * positions: KH = KW = 1, M = Cin rows 4 bytes apart, Ks = Cin·4 (A = the
 * padded input itself, shifted by the tap), B = the output gradient.
 *
 * The tile is 4 rows × 8 columns (eight 4-lane accumulators) with a 1-row
 * tail; the multiply-add is `f32x4.relaxed_madd` where the engine has relaxed
 * SIMD (one fused instruction on x86 with FMA), else multiply then add. The
 * summation order is fixed, so results are deterministic on one machine; they
 * may differ in the last bits between machines that do and do not fuse.
 */
import { backend as activeBackend, type KernelBackend } from '@tensorflow/tfjs-core';

import { keptFilterBytes, setFilterCaching } from './filter-cache';
import { hasHeapOffsets } from './heap';
import { emitModule, FuncBuilder, I32, V128 } from './wasm-emit';
import { winogradInputBody, winogradOutputBody } from './winograd-wasm';

/** `flags` bits of {@link GemmCall}. */
export const RELU = 1;
export const ACCUMULATE = 2;
export const BIAS = 4;

const PARAMS = [
  'a',
  'S',
  'Wm',
  'R',
  'Ks',
  'KH',
  'KW',
  'TH',
  'TW',
  'Kc',
  'bp',
  'Bs',
  'PS',
  'c',
  'ldc',
  'M0',
  'M',
  'N',
  'bias',
  'flags',
  'reps',
  'aRep',
  'bRep',
  'cRep',
  'MB',
  'split',
] as const;

const MAX_ROWS = 4;
/** Rows of a block that `pack` transposes. */
const PACK_ROWS = 64;
/** Bytes of A (its rows' reductions) one block of rows should take: they stay in L2 across the panels. */
const BLOCK_BYTES = 1 << 19;

function acc(r: number, h: number): string {
  return `acc${r}${h}`;
}

/** One reduction step of a tile: B's 8 columns at pb, A's rows at p_r. */
function step(f: FuncBuilder, rows: number, fma: boolean): void {
  f.get('pb').v128Load(0).set('b0');
  f.get('pb').v128Load(16).set('b1');
  for (let r = 0; r < rows; r++) {
    f.get(`p${r}`).v128Load32Splat().set('av');
    for (let h = 0; h < 2; h++) {
      if (fma) {
        f.get('av').get(`b${h}`).get(acc(r, h)).f32x4RelaxedMadd().set(acc(r, h));
      } else {
        f.get(acc(r, h)).get('av').get(`b${h}`).f32x4Mul().f32x4Add().set(acc(r, h));
      }
    }
  }
}

/** While w ≥ Wm: w −= Wm, g += 1 (a row index's quotient and rest, counted on). */
function carry(f: FuncBuilder, g: string, w: string): void {
  f.block().loop();
  f.get(w).get('Wm').lt().brIf(1);
  f.get(w).get('Wm').sub().set(w);
  f.get(g).i32(1).add().set(g);
  f.br(0);
  f.end().end();
}

/** One tile of `rows` rows at row `m`, panel `j` (accumulators to stores). */
function tile(f: FuncBuilder, rows: number, fma: boolean): void {
  // pc = c + m·ldc + j·4
  f.get('c').get('m').get('ldc').mul().add().get('j').i32(4).mul().add().set('pc');
  // Accumulators: C (accumulate, or a later chunk of the reduction), the bias, or zero.
  f.get('ld').if();
  for (let r = 0; r < rows; r++) {
    for (let h = 0; h < 2; h++) {
      f.get('pc');
      if (r > 0) f.get('ldc').i32(r).mul().add();
      f.v128Load(16 * h).set(acc(r, h));
    }
  }
  f.else();
  f.get('flags').i32(BIAS).and().if();
  for (let h = 0; h < 2; h++) {
    f.get('bias')
      .get('j')
      .i32(4)
      .mul()
      .add()
      .v128Load(16 * h)
      .set(`b${h}`);
  }
  for (let r = 0; r < rows; r++) for (let h = 0; h < 2; h++) f.get(`b${h}`).set(acc(r, h));
  f.else();
  for (let r = 0; r < rows; r++) for (let h = 0; h < 2; h++) f.v128Zero().set(acc(r, h));
  f.end();
  f.end();

  // Row r starts at a + g·R + w·S, with (g, w) = (m + r) divided by Wm (rest w),
  // counted on from the tile's first row (g0, w0).
  for (let r = 0; r < rows; r++) {
    f.get('w0').i32(r).add().set('w');
    f.get('g0').set('g');
    carry(f, 'g', 'w');
    f.get('a').get('g').get('R').mul().add().get('w').get('S').mul().add();
    f.get('tk').add().set(`q${r}`);
  }
  // The reduction: taps (kh, kw) at offset kh·TH + kw·TW, then Kc elements of each row.
  f.get('pbp').set('pb');
  f.i32(0).set('pk');
  f.get('KHc').set('kh');
  f.loop();
  f.get('pk').set('pt');
  f.get('KWc').set('kw');
  f.loop();
  for (let r = 0; r < rows; r++) f.get(`q${r}`).get('pt').add().set(`p${r}`);
  f.get('Kc').set('k');
  f.loop();
  step(f, rows, fma);
  for (let r = 0; r < rows; r++) f.get(`p${r}`).get('Ks').add().set(`p${r}`);
  f.get('pb').get('Bs').add().set('pb');
  f.get('k').i32(1).sub().set('k');
  f.get('k').brIf(0);
  f.end();
  f.get('pt').get('TW').add().set('pt');
  f.get('kw').i32(1).sub().set('kw');
  f.get('kw').brIf(0);
  f.end();
  f.get('pk').get('TH').add().set('pk');
  f.get('kh').i32(1).sub().set('kh');
  f.get('kh').brIf(0);
  f.end();

  // ReLU (after the last chunk).
  f.get('rl').if();
  for (let r = 0; r < rows; r++) {
    for (let h = 0; h < 2; h++) f.get(acc(r, h)).v128Zero().f32x4Max().set(acc(r, h));
  }
  f.end();

  // Stores: whole panels, or lane by lane in the last, partial one.
  f.get('j').i32(8).add().get('N').le().get('flags').i32(ACCUMULATE).and().add().if();
  for (let r = 0; r < rows; r++) {
    for (let h = 0; h < 2; h++) {
      f.get('pc');
      if (r > 0) f.get('ldc').i32(r).mul().add();
      f.get(acc(r, h)).v128Store(16 * h);
    }
  }
  f.else();
  f.get('N').get('j').sub().set('nrem');
  for (let r = 0; r < rows; r++) {
    for (let lane = 0; lane < 8; lane++) {
      f.i32(lane).get('nrem').lt().if();
      f.get('pc');
      if (r > 0) f.get('ldc').i32(r).mul().add();
      f.get(acc(r, lane >> 2))
        .f32x4ExtractLane(lane & 3)
        .f32Store(4 * lane);
      f.end();
    }
  }
  f.end();
}

/**
 * The module's bytes: `igemm(...PARAMS)`, with or without relaxed multiply-add,
 * importing a shared memory (the threaded build's) or not.
 */
export function gemmModuleBytes(fma: boolean, shared = false): Uint8Array {
  const f = new FuncBuilder(PARAMS);
  const scalars = [
    'j',
    'pbp',
    'm',
    'mb',
    'me',
    'pc',
    'pb',
    'pk',
    'pt',
    'kh',
    'kw',
    'k',
    'nrem',
    'g',
    'w',
    'g0',
    'w0',
    'ch',
    'nch',
    'KHc',
    'KWc',
    'tk',
    'bk',
    'ld',
    'rl',
  ];
  for (const l of scalars) {
    f.local(l, I32);
  }
  for (let r = 0; r < MAX_ROWS; r++) f.local(`p${r}`, I32).local(`q${r}`, I32);
  for (const l of ['av', 'b0', 'b1']) f.local(l, V128);
  for (let r = 0; r < MAX_ROWS; r++) for (let h = 0; h < 2; h++) f.local(acc(r, h), V128);

  // The reduction in one chunk (all taps), or with `split` one chunk per tap (kh, kw).
  f.get('split').if();
  f.get('KH').get('KW').mul().set('nch');
  f.i32(1).set('KHc');
  f.i32(1).set('KWc');
  f.else();
  f.i32(1).set('nch');
  f.get('KH').set('KHc');
  f.get('KW').set('KWc');
  f.end();

  // Repetitions (reps ≥ 1), each moving a, bp and c on by aRep, bRep, cRep.
  f.loop();
  // Blocks of BLOCK_ROWS rows (their A stays in cache across the panels), then
  // panels of 8 columns, then tiles of MAX_ROWS rows and single rows.
  f.get('M0').set('mb');
  f.block().loop();
  f.get('mb').get('M').lt().eqz().brIf(1);
  f.get('mb').get('MB').add().set('me');
  f.get('me').get('M').gt().if();
  f.get('M').set('me');
  f.end();
  // Chunks of the reduction: the tap's offsets into A (tk) and B's panels (bk); C is
  // loaded after the first (or always, accumulating) and the ReLU follows the last.
  f.i32(0).set('ch');
  f.loop();
  f.get('ch').get('KW').divU().set('kh');
  f.get('ch').get('kh').get('KW').mul().sub().set('kw');
  f.get('kh').get('TH').mul().get('kw').get('TW').mul().add().set('tk');
  f.get('ch').get('Kc').mul().get('Bs').mul().set('bk');
  f.get('flags').i32(ACCUMULATE).and().get('ch').add().set('ld');
  f.get('flags').i32(RELU).and().get('ch').i32(1).add().get('nch').lt().eqz().and().set('rl');
  f.i32(0).set('j');
  f.get('bp').get('bk').add().set('pbp');
  f.block().loop();
  f.get('j').get('N').lt().eqz().brIf(1);
  f.get('mb').set('m');
  f.get('mb').get('Wm').divU().set('g0');
  f.get('mb').get('g0').get('Wm').mul().sub().set('w0');
  for (const rows of [MAX_ROWS, 1]) {
    f.block().loop();
    f.get('m').i32(rows).add().get('me').le().eqz().brIf(1);
    tile(f, rows, fma);
    f.get('m').i32(rows).add().set('m');
    f.get('w0').i32(rows).add().set('w0');
    carry(f, 'g0', 'w0');
    f.br(0);
    f.end().end();
  }
  f.get('j').i32(8).add().set('j');
  f.get('pbp').get('PS').add().set('pbp');
  f.br(0);
  f.end().end();
  f.get('ch').i32(1).add().set('ch');
  f.get('ch').get('nch').lt().brIf(0);
  f.end();
  f.get('me').set('mb');
  f.br(0);
  f.end().end();
  f.get('a').get('aRep').add().set('a');
  f.get('bp').get('bRep').add().set('bp');
  f.get('c').get('cRep').add().set('c');
  f.get('reps').i32(1).sub().set('reps');
  f.get('reps').brIf(0);
  f.end();
  return emitModule(
    [
      { name: 'igemm', body: f },
      { name: 'pack', body: packBody() },
      { name: 'maxPoolGrad2x2', body: maxPoolGrad2x2Body() },
      { name: 'winogradInput', body: winogradInputBody() },
      { name: 'winogradOutput', body: winogradOutputBody() },
    ],
    { shared },
  );
}

/**
 * `maxPoolGrad2x2(x, dy, dx, rows, Wo, C4)`: the max-pool gradient of 2×2 windows
 * at stride 2 tiling an NHWC input exactly (rows = batch × output rows, Wo
 * output columns, C = 4·C4 channels), four channels at a time. In each window
 * the first value (row-major) strictly larger than all before it, starting from
 * −∞, gets dy, the others 0 (NaN never wins; all −∞ gives nothing): tfjs' cpu rule.
 * Every dx value is written (the windows tile the input).
 */
function maxPoolGrad2x2Body(): FuncBuilder {
  const f = new FuncBuilder(['x', 'dy', 'dx', 'rows', 'Wo', 'C4']);
  for (const l of ['q', 'd', 'col', 'row', 'r', 'w', 'k']) f.local(l, I32);
  for (const l of ['v0', 'v1', 'v2', 'v3', 'best', 'g0', 'g1', 'g2', 'g3', 'dyv']) {
    f.local(l, V128);
  }
  const address = (k: number, base: 'q' | 'd') => {
    f.get(base);
    if (k === 1 || k === 3) f.get('col').add();
    if (k >= 2) f.get('row').add();
  };
  f.get('C4').i32(16).mul().set('col');
  f.get('Wo').get('col').mul().i32(2).mul().set('row');
  f.get('x').set('q');
  f.get('dx').set('d');
  f.get('rows').set('r');
  f.block().loop();
  f.get('r').eqz().brIf(1);
  f.get('Wo').set('w');
  f.block().loop();
  f.get('w').eqz().brIf(1);
  f.get('C4').set('k');
  f.block().loop();
  f.get('k').eqz().brIf(1);
  for (let i = 0; i < 4; i++) {
    address(i, 'q');
    f.v128Load(0).set(`v${i}`);
  }
  f.f32x4Const(-Infinity).set('best');
  for (let i = 0; i < 4; i++) {
    f.get(`v${i}`).get('best').f32x4Gt().set(`g${i}`);
    if (i < 3) f.get(`v${i}`).get('best').get(`g${i}`).v128Bitselect().set('best');
  }
  f.get('dy').v128Load(0).set('dyv');
  // Window value i wins where g_i holds and no later g does.
  for (let i = 0; i < 4; i++) {
    address(i, 'd');
    f.get(`g${i}`);
    for (let later = i + 1; later < 4; later++) f.get(`g${later}`).v128AndNot();
    f.get('dyv').v128And().v128Store(0);
  }
  f.get('q').i32(16).add().set('q');
  f.get('d').i32(16).add().set('d');
  f.get('dy').i32(16).add().set('dy');
  f.get('k').i32(1).sub().set('k');
  f.br(0);
  f.end().end();
  // The window's second column.
  f.get('q').get('col').add().set('q');
  f.get('d').get('col').add().set('d');
  f.get('w').i32(1).sub().set('w');
  f.br(0);
  f.end().end();
  // Past the windows' second input row (`row` bytes: one input row).
  f.get('q').get('row').add().set('q');
  f.get('d').get('row').add().set('d');
  f.get('r').i32(1).sub().set('r');
  f.br(0);
  f.end().end();
  return f;
}

/**
 * `pack(src, dst, K, P)`: a row-major `[K, 8P]` matrix into panels
 * `[P][K][8]`, 32 bytes at a time, in blocks of PACK_ROWS rows: a block's rows
 * stay in cache while each panel's run of the block is written in order.
 */
function packBody(): FuncBuilder {
  const f = new FuncBuilder(['src', 'dst', 'K', 'P']);
  for (const l of ['kb', 'kn', 'k', 'j', 'ps', 'pd', 'row']) f.local(l, I32);
  f.get('P').i32(32).mul().set('row');
  f.i32(0).set('kb');
  f.loop();
  // kn = min(PACK_ROWS, K − kb)
  f.get('K').get('kb').sub().set('kn');
  f.get('kn').i32(PACK_ROWS).gt().if();
  f.i32(PACK_ROWS).set('kn');
  f.end();
  f.i32(0).set('j');
  f.loop();
  f.get('src').get('kb').get('row').mul().add().get('j').i32(32).mul().add().set('ps');
  f.get('dst').get('j').get('K').mul().get('kb').add().i32(32).mul().add().set('pd');
  f.get('kn').set('k');
  f.loop();
  for (const offset of [0, 16]) f.get('pd').get('ps').v128Load(offset).v128Store(offset);
  f.get('ps').get('row').add().set('ps');
  f.get('pd').i32(32).add().set('pd');
  f.get('k').i32(1).sub().set('k');
  f.get('k').brIf(0);
  f.end();
  f.get('j').i32(1).add().set('j');
  f.get('j').get('P').lt().brIf(0);
  f.end();
  f.get('kb').get('kn').add().set('kb');
  f.get('kb').get('K').lt().brIf(0);
  f.end();
  return f;
}

/**
 * One product (bytes for pointers and strides; see the module comment). Rows
 * `[0, M)` are computed; `reps` (default 1) repeats the whole product with a,
 * bp and c moved on by aRep, bRep and cRep each time (a convolution's images,
 * a kernel gradient's chunks of the reduction).
 */
export interface GemmCall {
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
  reps?: number;
  aRep?: number;
  bRep?: number;
  cRep?: number;
  /**
   * Run the reduction tap by tap over each block of rows (default false): a tap's
   * part of B stays in the first-level cache across the block, C holding the partial
   * sums in between (the same sums in the same order). C's panels must be whole
   * (N a multiple of 8, or rows padded to one).
   */
  split?: boolean;
}

/** The wasm function's arguments in {@link PARAMS} order, for rows `[m0, m1)`. */
function gemmArgs(p: GemmCall, m0: number, m1: number): number[] {
  return [
    p.a,
    p.S,
    p.Wm,
    p.R,
    p.Ks,
    p.KH,
    p.KW,
    p.TH,
    p.TW,
    p.Kc,
    p.bp,
    p.Bs,
    p.PS,
    p.c,
    p.ldc,
    m0,
    m1,
    p.N,
    p.bias,
    p.flags,
    p.reps ?? 1,
    p.aRep ?? 0,
    p.bRep ?? 0,
    p.cRep ?? 0,
    blockRows(p),
    p.split === true ? 1 : 0,
  ];
}

/** Rows per block: a multiple of the tile, 16–256, whose reductions take about BLOCK_BYTES. */
function blockRows(p: GemmCall): number {
  const rowBytes = (p.split === true ? 1 : p.KH * p.KW) * p.Kc * 4;
  return Math.max(16, Math.min(256, Math.floor(BLOCK_BYTES / rowBytes / MAX_ROWS) * MAX_ROWS));
}

/** Number of arguments of the wasm function, and the index of its first row (`M0`; `M` follows). */
export const GEMM_ARGS = PARAMS.length;
const GEMM_FIRST_ROW_ARG = PARAMS.indexOf('M0');

/**
 * The module's functions that helper threads run, by index, with the argument
 * index of the first of their two row-range arguments `[start, end)`. Every
 * function has at most GEMM_ARGS arguments.
 */
export const HELPER_FUNCTIONS: ReadonlyArray<{ readonly name: string; readonly firstRow: number }> =
  [
    { name: 'igemm', firstRow: GEMM_FIRST_ROW_ARG },
    { name: 'winogradInput', firstRow: 2 },
    { name: 'winogradOutput', firstRow: 2 },
  ];
const IGEMM = 0;
const WINOGRAD_INPUT = 1;
const WINOGRAD_OUTPUT = 2;

type IGemm = (...args: number[]) => void;

/**
 * Threads that run row ranges of a product alongside the caller on a shared
 * memory (the threaded build's); `@ssd/backend/node`'s `enableWasmThreads`
 * provides them in Node.
 */
export interface GemmHelpers {
  /** How many helper threads. */
  readonly count: number;
  /**
   * Starts helper i on rows `ranges[i]` of function `fn` of HELPER_FUNCTIONS with
   * arguments `args` (its row range ignored).
   */
  start(
    fn: number,
    args: readonly number[],
    ranges: ReadonlyArray<readonly [number, number]>,
  ): void;
  /** Returns once every started helper has finished. */
  wait(): void;
}

/** Makes the helpers for one memory and module (bytes of {@link gemmModuleBytes}). */
export type GemmHelpersFactory = (memory: WasmMemory, moduleBytes: Uint8Array) => GemmHelpers;

let helpersFactory: GemmHelpersFactory | null = null;

/**
 * Sets (or, null, clears) where GEMMs on a shared memory get helper threads;
 * applies to kernels instantiated afterwards.
 */
export function setGemmHelpers(factory: GemmHelpersFactory | null): void {
  helpersFactory = factory;
}

/** Fewer multiply-adds than this run on the calling thread alone (a hand-off costs ~10 µs). */
const MIN_SPLIT_WORK = 1 << 18;

/** The instantiated kernel over one wasm memory. */
export interface Gemm {
  /** Whether the multiply-add is `f32x4.relaxed_madd`. */
  readonly fused: boolean;
  /** Threads a product runs on (1 + helpers). */
  readonly threads: number;
  run(call: GemmCall): void;
  /** Packs the row-major `[K, 8P]` matrix at byte `src` into panels `[P][K][8]` at `dst`. */
  pack(src: number, dst: number, K: number, P: number): void;
  /**
   * The max-pool gradient of 2×2 windows at stride 2 that tile an NHWC input with
   * a multiple of 4 channels (`C4` = channels / 4), from byte offsets x, dy, dx.
   */
  maxPoolGrad2x2(x: number, dy: number, dx: number, rows: number, Wo: number, C4: number): void;
  /**
   * Winograd F(2×2, 3×3)'s input transform (see `winograd-wasm.ts`) of tile rows
   * `[r0, r1)` (of images × tilesH); `v` is where tile row 0's would go (mod 2³²).
   */
  winogradInput(
    x: number,
    v: number,
    r0: number,
    r1: number,
    tilesH: number,
    tilesW: number,
    row: number,
    image: number,
    C4: number,
    plane: number,
  ): void;
  /**
   * Winograd F(2×2, 3×3)'s output transform of tile rows `[r0, r1)` (see
   * `winograd-wasm.ts`); `m` is where tile row 0's products would be (mod 2³²).
   */
  winogradOutput(
    m: number,
    out: number,
    r0: number,
    r1: number,
    bias: number,
    tilesH: number,
    tilesW: number,
    Ho: number,
    Wo: number,
    C4: number,
    plane: number,
    flags: number,
  ): void;
}

/** The part of the `WebAssembly` global used here (not in this package's type libraries). */
export interface WasmMemory {
  readonly buffer: ArrayBuffer | SharedArrayBuffer;
}
interface WasmApi {
  Memory: abstract new (...args: never[]) => WasmMemory;
  Module: new (bytes: Uint8Array) => object;
  Instance: new (
    module: object,
    imports: { env: { memory: WasmMemory } },
  ) => { exports: Record<string, unknown> };
  validate(bytes: Uint8Array): boolean;
}
/** Absent where an engine has no WebAssembly (e.g. Safari's Lockdown Mode). */
const wasmApi = (globalThis as unknown as { WebAssembly?: WasmApi }).WebAssembly as WasmApi;

/**
 * tfjs-backend-wasm 4.22's Emscripten module: the heap's `WebAssembly.Memory` is
 * an export of the single-threaded builds and `wasmMemory` of the threaded one.
 */
interface WasmModuleBackend {
  wasm?: { asm?: { memory?: unknown }; wasmMemory?: unknown };
}

let relaxed: boolean | undefined;
let simd: boolean | undefined;

/** Node ≥ 20.16's synchronous access to its built-in modules (absent in browsers). */
interface NodeProcess {
  getBuiltinModule?: (id: 'node:v8') => { setFlagsFromString(flags: string): void } | undefined;
}

/** What {@link configureWasmGemm} sets. */
export interface WasmGemmOptions {
  /**
   * Run wasm convolutions and their gradients on this package's GEMM (default
   * true); false leaves them to XNNPACK (the stock `Conv2D`/`FusedConv2D` and
   * XNNPACK products in the gradients), as before this GEMM.
   */
  enabled?: boolean;
  /**
   * Use relaxed SIMD's multiply-add where the engine has it (default true; in
   * Node 20 this turns on V8's `--experimental-wasm-relaxed-simd`). false keeps
   * a multiply and an add: slower, and the same bits on every machine.
   */
  fusedMultiplyAdd?: boolean;
  /**
   * Keep a packed (or Winograd-transformed) copy of a filter used more than once
   * (default true), as inference uses its weights: it saves repacking every wide
   * filter on every call (~3 % of an SSD300 forward pass, more with Winograd) for up
   * to 16/9 of the weights' size in wasm memory (a Winograd copy is 16/9 of its
   * filter; one used both ways is kept twice), freed with the filter and not counted
   * by `tf.memory()`. false frees every kept copy. See `filter-cache.ts`.
   */
  cachePackedFilters?: boolean;
  /**
   * Run 3×3 stride-1 convolutions of 32 or more input and output channels by
   * Winograd's F(2×2, 3×3) (default true): 2.25× fewer multiply-adds, results
   * that differ from a direct convolution's in the last bits. false keeps the
   * direct convolution for every layer. See `winograd.ts`.
   */
  winograd?: boolean;
}

const settings: Required<WasmGemmOptions> = {
  enabled: true,
  fusedMultiplyAdd: true,
  cachePackedFilters: true,
  winograd: true,
};

/**
 * Sets how wasm convolutions run, for every kernel call from now on (kernels
 * look the GEMM up per call). Returns the settings in force.
 */
export function configureWasmGemm(options: WasmGemmOptions): Required<WasmGemmOptions> {
  if (options.enabled !== undefined) settings.enabled = options.enabled;
  if (options.fusedMultiplyAdd !== undefined) settings.fusedMultiplyAdd = options.fusedMultiplyAdd;
  if (options.winograd !== undefined) settings.winograd = options.winograd;
  if (options.cachePackedFilters !== undefined) {
    settings.cachePackedFilters = options.cachePackedFilters;
    setFilterCaching(options.cachePackedFilters);
  }
  return { ...settings };
}

/** Whether convolutions that can run by Winograd's F(2×2, 3×3) do (see {@link WasmGemmOptions}). */
export function winogradEnabled(): boolean {
  return settings.winograd;
}

/**
 * Whether this engine runs relaxed-SIMD code. Browsers ship it (Chrome 114+)
 * and so does Node 22; Node 20's V8 has it behind `--experimental-wasm-relaxed-simd`,
 * which is turned on here (once, before any relaxed module is compiled) when
 * validation fails and Node's `v8` module is at hand (Node ≥ 20.16).
 */
export function hasRelaxedSimd(): boolean {
  if (relaxed !== undefined) return relaxed;
  if (wasmApi == null) return (relaxed = false);
  const bytes = gemmModuleBytes(true);
  relaxed = wasmApi.validate(bytes);
  if (!relaxed) {
    try {
      const node = (globalThis as unknown as { process?: NodeProcess }).process;
      node?.getBuiltinModule?.('node:v8')?.setFlagsFromString('--experimental-wasm-relaxed-simd');
      relaxed = wasmApi.validate(bytes);
    } catch {
      relaxed = false;
    }
  }
  return relaxed;
}

/** Whether this engine has 128-bit wasm SIMD at all (tfjs then runs its non-SIMD build). */
function hasSimd(): boolean {
  simd ??= wasmApi != null && wasmApi.validate(gemmModuleBytes(false));
  return simd;
}

/** What the wasm convolutions run on: see {@link wasmGemmInfo}. */
export interface WasmGemmInfo {
  /** Whether the multiply-add is relaxed SIMD's (fused on x86 with FMA). */
  fused: boolean;
  /** Threads a large product runs on: 1, or 1 + the helpers of `enableWasmThreads` (Node). */
  threads: number;
  /**
   * Bytes of wasm memory held by kept filters (see `cachePackedFilters` of
   * {@link WasmGemmOptions}), which `tf.memory()` does not count.
   */
  keptFilterBytes: number;
}

/**
 * How this package's GEMM (every wasm convolution and its gradients) runs on
 * `backend` (default: the active one, `tf.backend()`, which initialises it), or
 * null where it does not run there: not tfjs-backend-wasm 4.22's wasm backend, an
 * engine without wasm SIMD, or `configureWasmGemm({ enabled: false })`. The stock
 * kernels then run.
 */
export function wasmGemmInfo(backend?: KernelBackend): WasmGemmInfo | null {
  const target = backend ?? activeBackend();
  const gemm = gemmFor(target);
  return gemm == null
    ? null
    : { fused: gemm.fused, threads: gemm.threads, keptFilterBytes: keptFilterBytes(target) };
}

/** Per memory, per variant (fused or not). */
const cache = new WeakMap<WasmMemory, Map<boolean, Gemm>>();

/**
 * The GEMM kernel over `backend`'s heap, or null where it cannot or should not run
 * there (see {@link wasmGemmInfo}). On the threaded build it splits a product's
 * rows with the helper threads of {@link setGemmHelpers}, if any; every output is
 * summed the same way on any thread, so results do not depend on the build or
 * thread count. `fma` forces the multiply-add variant (tests and benchmarks); by
 * default the fused one where the engine has relaxed SIMD and the settings allow.
 */
export function gemmFor(backend: KernelBackend, options: { fma?: boolean } = {}): Gemm | null {
  if (!settings.enabled && options.fma === undefined) return null;
  const module = (backend as unknown as WasmModuleBackend).wasm;
  const memory = module?.asm?.memory ?? module?.wasmMemory;
  if (wasmApi == null || !(memory instanceof wasmApi.Memory) || !hasHeapOffsets(backend)) {
    return null;
  }
  if (!hasSimd()) return null;
  const shared =
    typeof SharedArrayBuffer !== 'undefined' && memory.buffer instanceof SharedArrayBuffer;
  const fused = options.fma ?? (settings.fusedMultiplyAdd && hasRelaxedSimd());
  let variants = cache.get(memory);
  if (variants == null) cache.set(memory, (variants = new Map()));
  const hit = variants.get(fused);
  if (hit != null) return hit;
  const gemm = instantiate(memory, fused, shared);
  variants.set(fused, gemm);
  return gemm;
}

function instantiate(memory: WasmMemory, fused: boolean, shared: boolean): Gemm {
  const bytes = gemmModuleBytes(fused, shared);
  const { exports } = new wasmApi.Instance(new wasmApi.Module(bytes), { env: { memory } });
  const functions = HELPER_FUNCTIONS.map(({ name }) => exports[name] as IGemm);
  const pack = exports.pack as Gemm['pack'];
  const helpers = shared && helpersFactory != null ? helpersFactory(memory, bytes) : null;

  /**
   * Runs function `fn` over rows `[start, end)` (its range arguments at
   * HELPER_FUNCTIONS[fn].firstRow), split in multiples of `align` rows with the
   * helpers where there are any and the work is worth a hand-off.
   */
  function spread(
    fn: number,
    args: number[],
    start: number,
    end: number,
    align: number,
    work: number,
  ): void {
    const first = HELPER_FUNCTIONS[fn]!.firstRow;
    const call = (from: number, to: number) => {
      args[first] = from;
      args[first + 1] = to;
      functions[fn]!(...args);
    };
    if (helpers == null || helpers.count === 0 || work < MIN_SPLIT_WORK) {
      call(start, end);
      return;
    }
    const parts = helpers.count + 1;
    const step = Math.ceil((end - start) / parts / align) * align;
    const ranges: Array<[number, number]> = [];
    for (let i = 1; i < parts; i++) {
      ranges.push([Math.min(end, start + i * step), Math.min(end, start + (i + 1) * step)]);
    }
    helpers.start(fn, args, ranges);
    try {
      call(start, Math.min(end, start + step));
    } finally {
      // Never hand the heap back while a helper may still write to it.
      helpers.wait();
    }
  }

  return {
    fused,
    threads: 1 + (helpers?.count ?? 0),
    pack(src, dst, K, P) {
      if (K > 0 && P > 0) pack(src, dst, K, P);
    },
    maxPoolGrad2x2: exports.maxPoolGrad2x2 as Gemm['maxPoolGrad2x2'],
    winogradInput(x, v, r0, r1, tilesH, tilesW, row, image, C4, plane) {
      const args = [x, v, 0, 0, tilesH, tilesW, row, image, C4, plane];
      spread(WINOGRAD_INPUT, args, r0, r1, 1, (r1 - r0) * tilesW * C4 * 64);
    },
    winogradOutput(m, out, r0, r1, bias, tilesH, tilesW, Ho, Wo, C4, plane, flags) {
      const args = [m, out, 0, 0, bias, tilesH, tilesW, Ho, Wo, C4, plane, flags];
      spread(WINOGRAD_OUTPUT, args, r0, r1, 1, (r1 - r0) * tilesW * C4 * 64);
    },
    run(call) {
      if (call.M <= 0 || call.N <= 0) return;
      if (call.KH < 1 || call.KW < 1 || call.Kc < 1 || (call.reps ?? 1) < 1) {
        throw new RangeError('@ssd/backend: a GEMM with an empty reduction or no repetitions');
      }
      if (call.split === true && call.N % 8 !== 0 && (call.flags & ACCUMULATE) === 0) {
        throw new RangeError('@ssd/backend: a split GEMM needs whole panels in C');
      }
      const work = call.M * call.N * call.KH * call.KW * call.Kc * (call.reps ?? 1);
      // Rows split in whole tiles: every output is summed the same way on any thread.
      spread(IGEMM, gemmArgs(call, 0, 0), 0, call.M, MAX_ROWS, work);
    },
  };
}
