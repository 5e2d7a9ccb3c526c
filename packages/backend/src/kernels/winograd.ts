/**
 * 3×3 stride-1 convolutions by Winograd's minimal filtering F(2×2, 3×3) (Lavin &
 * Gray, CVPR 2016): each 2×2 block of outputs takes 16 multiplies per channel pair
 * instead of 36, so the products shrink 2.25×, for the transforms' extra passes
 * over memory. Per tile t of 2×2 outputs (4×4 inputs at stride 2) and ξ < 16:
 *
 *   V_ξ[t, c]  = (Bᵀ d_{t,c} B)_ξ          (wasm SIMD, winograd-wasm.ts)
 *   U_ξ[c, o]  = (G g_{c,o} Gᵀ)_ξ          (the filter, once; kept like packed filters)
 *   M_ξ        = V_ξ · U_ξ                   (16 products on the GEMM, one call)
 *   Y_{t,o}    = Aᵀ M_{·}[t, o] A + bias    (wasm SIMD, then ReLU)
 *
 * with G = [1 0 0; ½ ½ ½; ½ −½ ½; 0 0 1]. The sums run in another order than a
 * direct convolution's, so results differ from it in the last bits (F(2×2, 3×3)'s
 * transforms only add, subtract and halve: its error stays near the direct one's).
 */
import type { TensorInfo } from '@tensorflow/tfjs-core';

import type { Gemm } from './gemm';
import { cachedFilterAt } from './filter-cache';
import { heapOffset, type HeapBackend } from './heap';
import type { KernelScope } from './kernel-scope';
import { PANEL } from './panels';

const F = Float32Array.BYTES_PER_ELEMENT;

/** Tiles along an output extent. */
export function winogradTiles(extent: number): number {
  return Math.ceil(extent / 2);
}

/** Bytes of the transformed filter: 16 planes of `[C, CO]` packed in panels of 8. */
function transformedBytes(C: number, CO: number): number {
  return 16 * Math.ceil(CO / PANEL) * C * PANEL * F;
}

/**
 * U = G g Gᵀ of a `[3, 3, C, CO]` filter (float32 values at byte `src`) into 16
 * planes at byte `dst`, each packed as the GEMM reads it: `[⌈CO/8⌉][C][8]`, zeros
 * past CO.
 */
function transformFilter(heap: ArrayBufferLike, src: number, dst: number, C: number, CO: number) {
  const g = new Float32Array(heap, src, 9 * C * CO);
  const P = Math.ceil(CO / PANEL);
  const plane = P * C * PANEL;
  const u = new Float32Array(heap, dst, 16 * plane);
  u.fill(0);
  const tap = C * CO;
  const t = new Float64Array(12);
  for (let c = 0; c < C; c++) {
    for (let o = 0; o < CO; o++) {
      const at = c * CO + o;
      // t = G g (4×3): rows of g are the kernel rows kh.
      for (let kw = 0; kw < 3; kw++) {
        const g0 = g[at + kw * tap] as number;
        const g1 = g[at + (3 + kw) * tap] as number;
        const g2 = g[at + (6 + kw) * tap] as number;
        t[kw] = g0;
        t[3 + kw] = (g0 + g1 + g2) / 2;
        t[6 + kw] = (g0 - g1 + g2) / 2;
        t[9 + kw] = g2;
      }
      // U = t Gᵀ (4×4).
      const d = ((o >> 3) * C + c) * PANEL + (o & 7);
      for (let i = 0; i < 4; i++) {
        const a = t[3 * i] as number;
        const b = t[3 * i + 1] as number;
        const e = t[3 * i + 2] as number;
        u[4 * i * plane + d] = a;
        u[(4 * i + 1) * plane + d] = (a + b + e) / 2;
        u[(4 * i + 2) * plane + d] = (a - b + e) / 2;
        u[(4 * i + 3) * plane + d] = e;
      }
    }
  }
}

/** What {@link winogradConv2D} needs of the convolution (NHWC, 3×3, stride 1). */
export interface WinogradConv {
  /** The zero-padded input: at least 2·⌈Ho/2⌉ + 2 rows and 2·⌈Wo/2⌉ + 2 columns. */
  xp: TensorInfo;
  Hp: number;
  Wp: number;
  B: number;
  C: number;
  CO: number;
  Ho: number;
  Wo: number;
  filter: TensorInfo;
  /** The bias padded to whole panels, or null. */
  bias: TensorInfo | null;
  relu: boolean;
  out: TensorInfo;
}

/**
 * Bytes of transformed inputs and products (V and M) one pass may take: tile rows
 * are transformed, multiplied and transformed back in chunks of about this much,
 * so the workspace stays small (SSD300's first layer would need 184 MB at once)
 * and a chunk's V is read back while still in cache.
 */
const CHUNK_BYTES = 4 * 2 ** 20;
/**
 * Fewest tiles a chunk holds: each chunk reads the whole transformed filter (16·C·CO
 * values) for 32·tiles·C·CO multiply-adds, so chunks of at least 512 tiles keep
 * that traffic small against the arithmetic.
 */
const MIN_CHUNK_TILES = 512;

/** The convolution by F(2×2, 3×3) into `out`; C and CO multiples of 4. */
export function winogradConv2D(scope: KernelScope, gemm: Gemm, p: WinogradConv): void {
  const { B, C, CO, Ho, Wo } = p;
  const tilesH = winogradTiles(Ho);
  const tilesW = winogradTiles(Wo);
  const rows = B * tilesH;
  const tileBytes = 16 * (C + CO) * F;
  const tiles = Math.max(MIN_CHUNK_TILES, Math.floor(CHUNK_BYTES / tileBytes));
  const chunk = Math.max(1, Math.min(rows, Math.floor(tiles / tilesW)));
  const T = chunk * tilesW;
  const wasm = scope.backend as unknown as HeapBackend;
  const v = scope.keepOut(wasm.makeOutput([16 * T * C], 'float32'));
  const m = scope.keepOut(wasm.makeOutput([16 * T * CO], 'float32'));
  const kind = `winograd ${C}×${CO}`;
  const u = cachedFilterAt(scope, p.filter, kind, transformedBytes(C, CO), (heap, dst) =>
    transformFilter(heap, heapOffset(scope.backend, p.filter), dst, C, CO),
  );
  const xAt = heapOffset(scope.backend, p.xp);
  const outAt = heapOffset(scope.backend, p.out);
  const biasAt = p.bias != null ? heapOffset(scope.backend, p.bias) : 0;
  const flags = (p.bias != null ? 4 : 0) | (p.relu ? 1 : 0);
  const vAt = heapOffset(scope.backend, v);
  const mAt = heapOffset(scope.backend, m);
  for (let r0 = 0; r0 < rows; r0 += chunk) {
    const r1 = Math.min(rows, r0 + chunk);
    // Where tile row 0 would be in V and M, so that row r0 lands at their start.
    const vBase = (vAt - r0 * tilesW * C * F) | 0;
    const mBase = (mAt - r0 * tilesW * CO * F) | 0;
    gemm.winogradInput(
      xAt,
      vBase,
      r0,
      r1,
      tilesH,
      tilesW,
      p.Wp * C * F,
      p.Hp * p.Wp * C * F,
      C / 4,
      T * C * F,
    );
    gemm.run({
      a: vAt,
      S: C * F,
      Wm: T,
      R: 0,
      Ks: F,
      KH: 1,
      KW: 1,
      TH: 0,
      TW: 0,
      Kc: C,
      bp: u,
      Bs: PANEL * F,
      PS: C * PANEL * F,
      c: mAt,
      ldc: CO * F,
      M: (r1 - r0) * tilesW,
      N: CO,
      bias: 0,
      flags: 0,
      reps: 16,
      aRep: T * C * F,
      bRep: Math.ceil(CO / PANEL) * C * PANEL * F,
      cRep: T * CO * F,
    });
    gemm.winogradOutput(
      mBase,
      outAt,
      r0,
      r1,
      biasAt,
      tilesH,
      tilesW,
      Ho,
      Wo,
      CO / 4,
      T * CO * F,
      flags,
    );
  }
}
