/**
 * The SSD box coder on packed `Float32Array`s: ground-truth corners ⇄ offsets
 * relative to a default box, scaled by the variances.
 *
 * Arithmetic is IEEE float32, one rounding per operation (`Math.fround`), in the
 * same order as the tensor twins in `tensor.ts`, so on the tfjs `cpu` backend the
 * two produce identical bits.
 */
import { BoxShapeError, packedBoxCount, type PackedBoxes } from '@ssd/geometry';
import { MatcherInputError } from './errors';

const f = Math.fround;

/**
 * The SSD variances `[v_cx, v_cy, v_w, v_h]` of the Caffe release and ssd.pytorch.
 * torchvision's `BoxCoder(weights=(10, 10, 5, 5))` uses their reciprocals.
 */
export const VARIANCES: readonly [number, number, number, number] = Object.freeze([
  0.1, 0.1, 0.2, 0.2,
]) as readonly [number, number, number, number];

/**
 * The largest `loc_w·v_w` (and `loc_h·v_h`) that decoding exponentiates:
 * log(1000/16), as torchvision's `BoxCoder.bbox_xform_clip`. A wild prediction
 * thus decodes to at most 62.5 × the default box, never Inf.
 */
export const DECODE_EXP_CLIP = Math.log(1000 / 16);

/** Options of the box coder. */
export interface BoxCoderOptions {
  /** `[v_cx, v_cy, v_w, v_h]`; default {@link VARIANCES}. */
  variances?: readonly number[];
}

/** Checks and returns the variances of `options` (default `VARIANCES`). */
export function resolveVariances(options: BoxCoderOptions | undefined): readonly number[] {
  const variances = options?.variances ?? VARIANCES;
  if (variances.length !== 4 || !variances.every((v) => Number.isFinite(v) && v > 0)) {
    throw new MatcherInputError(
      'options.variances',
      variances,
      `expected four positive numbers, got [${variances.join(', ')}]`,
    );
  }
  return variances;
}

/**
 * Writes the code of ground-truth box `gt` (xyxy, at `boxes[g*4]`) relative to
 * default box `p` (cxcywh, at `anchors[p*4]`) into `out[p*4 .. p*4+3]`:
 * ((g_cx − d_cx)/(d_w·v0), (g_cy − d_cy)/(d_h·v1), log(g_w/d_w)/v2, log(g_h/d_h)/v3).
 * `v` must hold the variances already rounded to float32.
 */
export function encodeOne(
  boxes: ArrayLike<number>,
  g: number,
  anchors: ArrayLike<number>,
  p: number,
  v: ArrayLike<number>,
  out: Float32Array,
): void {
  const go = g * 4;
  const ao = p * 4;
  const x1 = boxes[go]!;
  const y1 = boxes[go + 1]!;
  const x2 = boxes[go + 2]!;
  const y2 = boxes[go + 3]!;
  const gcx = f(f(x1 + x2) * 0.5);
  const gcy = f(f(y1 + y2) * 0.5);
  const gw = f(x2 - x1);
  const gh = f(y2 - y1);
  const acx = anchors[ao]!;
  const acy = anchors[ao + 1]!;
  const aw = anchors[ao + 2]!;
  const ah = anchors[ao + 3]!;
  out[ao] = f(gcx - acx) / f(aw * v[0]!);
  out[ao + 1] = f(gcy - acy) / f(ah * v[1]!);
  out[ao + 2] = f(Math.log(f(gw / aw))) / v[2]!;
  out[ao + 3] = f(Math.log(f(gh / ah))) / v[3]!;
}

/**
 * Encodes one ground-truth box per default box (`boxes[i]` against `anchors[i]`).
 * @param boxes `[N * 4]`, xyxy, relative.
 * @param anchors `[N * 4]`, cxcywh, relative.
 * @returns `[N * 4]` offsets; `decodeBoxesPacked` inverts them.
 */
export function encodeBoxesPacked(
  boxes: PackedBoxes<'xyxy', 'relative'>,
  anchors: PackedBoxes<'cxcywh', 'relative'>,
  options?: BoxCoderOptions,
): Float32Array {
  const n = packedBoxCount(boxes, 'boxes');
  if (packedBoxCount(anchors, 'anchors') !== n) {
    throw new BoxShapeError('anchors', `[${n} * 4] (one per box)`, `length ${anchors.length}`);
  }
  const v = Float32Array.from(resolveVariances(options));
  const out = new Float32Array(n * 4);
  for (let i = 0; i < n; i++) encodeOne(boxes, i, anchors, i, v, out);
  return out;
}

/**
 * Decodes predicted offsets against the default boxes — the exact inverse of the
 * encoding, with `loc_w·v_w` and `loc_h·v_h` clamped at {@link DECODE_EXP_CLIP}.
 * @param loc `[P * 4]` offsets.
 * @param anchors `[P * 4]`, cxcywh, relative.
 * @returns `[P * 4]`, xyxy, relative (not clipped to the image).
 */
export function decodeBoxesPacked(
  loc: ArrayLike<number>,
  anchors: PackedBoxes<'cxcywh', 'relative'>,
  options?: BoxCoderOptions,
): PackedBoxes<'xyxy', 'relative'> {
  const n = packedBoxCount(anchors, 'anchors');
  if (loc.length !== n * 4) {
    throw new BoxShapeError('loc', `[${n} * 4] (one per anchor)`, `length ${loc.length}`);
  }
  const v = resolveVariances(options);
  const out = new Float32Array(n * 4);
  for (let i = 0; i < n; i++) {
    const o = i * 4;
    const aw = anchors[o + 2]!;
    const ah = anchors[o + 3]!;
    const cx = anchors[o]! + loc[o]! * v[0]! * aw;
    const cy = anchors[o + 1]! + loc[o + 1]! * v[1]! * ah;
    const halfW = 0.5 * aw * Math.exp(Math.min(loc[o + 2]! * v[2]!, DECODE_EXP_CLIP));
    const halfH = 0.5 * ah * Math.exp(Math.min(loc[o + 3]! * v[3]!, DECODE_EXP_CLIP));
    out[o] = cx - halfW;
    out[o + 1] = cy - halfH;
    out[o + 2] = cx + halfW;
    out[o + 3] = cy + halfH;
  }
  return out;
}
