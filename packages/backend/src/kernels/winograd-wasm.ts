/**
 * The data transforms of Winograd's minimal filtering F(2×2, 3×3) (Lavin & Gray,
 * "Fast Algorithms for Convolutional Neural Networks", CVPR 2016) in WebAssembly
 * SIMD, four channels at a time, for the GEMM module of `gemm.ts`:
 *
 *   input tile d (4×4, stride 2 over the padded input):  V = Bᵀ d B
 *   output tile (2×2) from the 16 products M:             Y = Aᵀ M A
 *
 * with Bᵀ = [1 0 −1 0; 0 1 1 0; 0 −1 1 0; 0 1 0 −1] and Aᵀ = [1 1 1 0; 0 1 −1 −1].
 * V and M are stored as 16 planes (ξ = 4i + k) of `[tiles, channels]`, so each
 * plane is one operand of the GEMM.
 */
import { FuncBuilder, I32, V128 } from './wasm-emit';

/** `flags` bits of the output transform (as the GEMM's). */
const RELU = 1;
const BIAS = 4;

/** t_i = (Bᵀ·x)_i for the four values named `x(0..3)`, into locals `out(0..3)`. */
function inputCombine(f: FuncBuilder, x: (i: number) => string, out: (i: number) => string): void {
  f.get(x(0)).get(x(2)).f32x4Sub().set(out(0));
  f.get(x(1)).get(x(2)).f32x4Add().set(out(1));
  f.get(x(2)).get(x(1)).f32x4Sub().set(out(2));
  f.get(x(1)).get(x(3)).f32x4Sub().set(out(3));
}

/**
 * `for (; R0 < R1; R0++) { b = R0 / tilesH; body }`: the tile rows of a transform,
 * with locals R0, R1, tilesH and b.
 */
function tileRows(f: FuncBuilder, body: () => void): void {
  f.block().loop();
  f.get('R0').get('R1').lt().eqz().brIf(1);
  f.get('R0').get('tilesH').divU().set('b');
  body();
  f.get('R0').i32(1).add().set('R0');
  f.br(0);
  f.end().end();
}

/** y_0 = x0 + x1 + x2 and y_1 = x1 − x2 − x3, into locals `out(0..1)`. */
function outputCombine(f: FuncBuilder, x: (i: number) => string, out: (i: number) => string): void {
  f.get(x(0)).get(x(1)).f32x4Add().get(x(2)).f32x4Add().set(out(0));
  f.get(x(1)).get(x(2)).f32x4Sub().get(x(3)).f32x4Sub().set(out(1));
}

/**
 * `winogradInput(x, v, R0, R1, tilesH, tilesW, row, image, C4, plane)`: for tile
 * rows R in [R0, R1) (R = b·tilesH + ty over the images b), every tile tx and group
 * of 4 channels, the 4×4 window of the padded NHWC input at byte
 * x + b·image + 2ty·row + 2tx·16·C4 (row: bytes of a padded row; image: of a
 * padded image), transformed, to v + ξ·plane + t·16·C4 (t = R·tilesW + tx, the
 * tile's index; plane: bytes of one ξ plane).
 */
export function winogradInputBody(): FuncBuilder {
  const f = new FuncBuilder([
    'x',
    'v',
    'R0',
    'R1',
    'tilesH',
    'tilesW',
    'row',
    'image',
    'C4',
    'plane',
  ]);
  for (const l of ['b', 'tx', 'c', 'px', 'p', 'q', 'pv']) f.local(l, I32);
  for (let i = 0; i < 4; i++) for (let j = 0; j < 4; j++) f.local(`t${i}${j}`, V128);
  for (let i = 0; i < 4; i++) f.local(`d${i}`, V128).local(`u${i}`, V128);
  f.get('C4').i32(16).mul().set('px');
  tileRows(f, () => {
    // p = x + b·image + 2·ty·row with (b, ty) = R0 divided by tilesH; pv = v + R0·tilesW·px.
    f.get('x').get('b').get('image').mul().add();
    f.get('R0').get('b').get('tilesH').mul().sub().get('row').mul().i32(2).mul().add().set('p');
    f.get('v').get('R0').get('tilesW').mul().get('px').mul().add().set('pv');
    f.get('tilesW').set('tx');
    f.block().loop();
    f.get('tx').eqz().brIf(1);
    f.get('C4').set('c');
    f.block().loop();
    f.get('c').eqz().brIf(1);
    // Columns j: the 4 rows' values, combined down the rows into t[·][j].
    for (let j = 0; j < 4; j++) {
      for (let i = 0; i < 4; i++) {
        f.get('p');
        if (i > 0) f.get('row').i32(i).mul().add();
        if (j > 0) f.get('px').i32(j).mul().add();
        f.v128Load(0).set(`d${i}`);
      }
      inputCombine(
        f,
        (i) => `d${i}`,
        (i) => `t${i}${j}`,
      );
    }
    // Rows i: combined across the columns, stored to planes 4i .. 4i + 3.
    f.get('pv').set('q');
    for (let i = 0; i < 4; i++) {
      inputCombine(
        f,
        (j) => `t${i}${j}`,
        (k) => `u${k}`,
      );
      for (let k = 0; k < 4; k++) {
        f.get('q').get(`u${k}`).v128Store(0);
        f.get('q').get('plane').add().set('q');
      }
    }
    f.get('p').i32(16).add().set('p');
    f.get('pv').i32(16).add().set('pv');
    f.get('c').i32(1).sub().set('c');
    f.br(0);
    f.end().end();
    // Next tile: two columns on (the channel loop moved p by one column).
    f.get('p').get('px').add().set('p');
    f.get('tx').i32(1).sub().set('tx');
    f.br(0);
    f.end().end();
  });
  return f;
}

/**
 * `winogradOutput(m, out, R0, R1, bias, tilesH, tilesW, Ho, Wo, C4, plane, flags)`:
 * for tile rows R in [R0, R1) (R = b·tilesH + ty), every tile tx and group of 4
 * output channels, the 16 products at m + ξ·plane + t·16·C4 (t = R·tilesW + tx)
 * transformed to the 2×2 outputs at rows 2ty, 2ty + 1 and columns 2tx, 2tx + 1 of
 * image b of the NHWC output (those inside Ho × Wo), plus the bias (flags & 4, at
 * byte `bias`), then ReLU (flags & 1).
 */
export function winogradOutputBody(): FuncBuilder {
  const f = new FuncBuilder([
    'm',
    'out',
    'R0',
    'R1',
    'bias',
    'tilesH',
    'tilesW',
    'Ho',
    'Wo',
    'C4',
    'plane',
    'flags',
  ]);
  for (const l of ['b', 'ty', 'tx', 'c', 'px', 'orow', 'pr', 'p', 'q', 'pm']) f.local(l, I32);
  for (let i = 0; i < 4; i++) f.local(`m${i}`, V128);
  for (let j = 0; j < 4; j++) f.local(`s${j}`, V128).local(`r${j}`, V128);
  for (let k = 0; k < 2; k++) f.local(`y${k}`, V128);
  f.local('bv', V128);
  f.get('C4').i32(16).mul().set('px');
  f.get('Wo').get('px').mul().set('orow');
  tileRows(f, () => {
    // (b, ty) = R0 divided by tilesH; pr = out + (b·Ho + 2·ty)·orow; pm = m + R0·tilesW·px.
    f.get('R0').get('b').get('tilesH').mul().sub().set('ty');
    f.get('out').get('b').get('Ho').mul().get('ty').i32(2).mul().add().get('orow').mul().add();
    f.set('pr');
    f.get('m').get('R0').get('tilesW').mul().get('px').mul().add().set('pm');
    f.i32(0).set('tx');
    f.block().loop();
    f.get('tx').get('tilesW').lt().eqz().brIf(1);
    f.get('pr').get('tx').i32(2).mul().get('px').mul().add().set('p');
    f.i32(0).set('c');
    f.block().loop();
    f.get('c').get('C4').lt().eqz().brIf(1);
    // Columns j: the four products of rows 0..3, combined into s_j (row 0) and r_j (row 1).
    for (let j = 0; j < 4; j++) {
      f.get('pm').get('plane').i32(j).mul().add().set('q');
      for (let i = 0; i < 4; i++) {
        f.get('q');
        if (i > 0)
          f.get('plane')
            .i32(4 * i)
            .mul()
            .add();
        f.v128Load(0).set(`m${i}`);
      }
      f.get('m0').get('m1').f32x4Add().get('m2').f32x4Add().set(`s${j}`);
      f.get('m1').get('m2').f32x4Sub().get('m3').f32x4Sub().set(`r${j}`);
    }
    f.get('flags').i32(BIAS).and().if();
    f.get('bias').get('c').i32(16).mul().add().v128Load(0).set('bv');
    f.else();
    f.v128Zero().set('bv');
    f.end();
    for (let i = 0; i < 2; i++) {
      outputCombine(
        f,
        (j) => `${i === 0 ? 's' : 'r'}${j}`,
        (k) => `y${k}`,
      );
      // Row 2ty + i (if inside), columns 2tx + k (if inside).
      f.get('ty').i32(2).mul().i32(i).add().get('Ho').lt().if();
      for (let k = 0; k < 2; k++) {
        f.get(`y${k}`).get('bv').f32x4Add().set(`y${k}`);
        f.get('flags').i32(RELU).and().if();
        f.get(`y${k}`).v128Zero().f32x4Max().set(`y${k}`);
        f.end();
        f.get('tx').i32(2).mul().i32(k).add().get('Wo').lt().if();
        f.get('p').get('c').i32(16).mul().add();
        if (i > 0) f.get('orow').add();
        if (k > 0) f.get('px').add();
        f.get(`y${k}`).v128Store(0);
        f.end();
      }
      f.end();
    }
    f.get('pm').i32(16).add().set('pm');
    f.get('c').i32(1).add().set('c');
    f.br(0);
    f.end().end();
    f.get('tx').i32(1).add().set('tx');
    f.br(0);
    f.end().end();
  });
  return f;
}
