/**
 * Matching default boxes to ground truth on packed arrays.
 *
 * IoU is computed in IEEE float32, one rounding per operation, in the order of
 * torchvision's `box_iou` (and of `encodeTargetsBatch`): corners
 * x1 = cx − 0.5·w, areas (x2 − x1)·(y2 − y1), intersection
 * max(0, min(x2) − max(x1))·max(0, min(y2) − max(y1)), union
 * (area_gt + area_anchor) − intersection. Equal inputs therefore give equal IoUs
 * here, in torchvision and on the tfjs `cpu` backend, and the argmax
 * tie-breaking below decides the same way in all three.
 */
import { MatcherInputError } from './errors';
import { packedCount } from './coder';

const f = Math.fround;

/** Matched index of an anchor that is background. */
export const BACKGROUND = -1;
/** Matched index of an anchor inside the ignore band (excluded from both losses). */
export const IGNORED = -2;

/** How anchors are paired with ground-truth boxes. */
export type MatchStrategy = 'ssd' | 'bipartite';

/** What to do with a degenerate ground-truth box (width or height ≤ 0, or not finite). */
export type InvalidBoxPolicy = 'throw' | 'drop';

export interface MatchOptions {
  /**
   * `'ssd'` (default; Liu et al., ssd.pytorch, torchvision's `SSDMatcher`): every
   * ground-truth box takes its highest-IoU anchor, then every other anchor takes its
   * highest-IoU box if that IoU ≥ `iouThreshold`. `'bipartite'` (the Caffe
   * release's first stage): a greedy one-to-one assignment — highest IoU pair
   * first — then the same threshold rule.
   */
  strategy?: MatchStrategy;
  /** An anchor whose best IoU is ≥ this is a positive. Default 0.5. */
  iouThreshold?: number;
  /**
   * Optional ignore band: an unforced anchor whose best IoU lies in
   * [negativeIouThreshold, iouThreshold) is marked ignored (`-2`). Default: none
   * (every anchor below `iouThreshold` is background).
   */
  negativeIouThreshold?: number;
  /**
   * Degenerate ground-truth boxes: `'throw'` (default) raises `MatcherInputError`
   * naming the box; `'drop'` leaves the box unmatched and calls `onDrop`.
   */
  invalidBoxes?: InvalidBoxPolicy;
  /** Called once per dropped box when `invalidBoxes` is `'drop'`. */
  onDrop?: (index: number, box: readonly number[]) => void;
}

export interface ResolvedMatchOptions {
  strategy: MatchStrategy;
  iouThreshold: number;
  negativeIouThreshold: number | undefined;
  invalidBoxes: InvalidBoxPolicy;
  onDrop: ((index: number, box: readonly number[]) => void) | undefined;
}

export function resolveMatchOptions(options: MatchOptions | undefined): ResolvedMatchOptions {
  const strategy = options?.strategy ?? 'ssd';
  if (strategy !== 'ssd' && strategy !== 'bipartite') {
    throw new MatcherInputError(
      'options.strategy',
      strategy,
      `expected 'ssd' or 'bipartite', got '${strategy}'`,
    );
  }
  const iouThreshold = options?.iouThreshold ?? 0.5;
  if (!(iouThreshold > 0 && iouThreshold <= 1)) {
    throw new MatcherInputError(
      'options.iouThreshold',
      iouThreshold,
      `expected a number in (0, 1], got ${iouThreshold}`,
    );
  }
  const negativeIouThreshold = options?.negativeIouThreshold;
  if (
    negativeIouThreshold !== undefined &&
    !(negativeIouThreshold >= 0 && negativeIouThreshold <= iouThreshold)
  ) {
    throw new MatcherInputError(
      'options.negativeIouThreshold',
      negativeIouThreshold,
      `expected a number in [0, iouThreshold = ${iouThreshold}], got ${negativeIouThreshold}`,
    );
  }
  const invalidBoxes = options?.invalidBoxes ?? 'throw';
  if (invalidBoxes !== 'throw' && invalidBoxes !== 'drop') {
    throw new MatcherInputError(
      'options.invalidBoxes',
      invalidBoxes,
      `expected 'throw' or 'drop', got '${invalidBoxes}'`,
    );
  }
  return { strategy, iouThreshold, negativeIouThreshold, invalidBoxes, onDrop: options?.onDrop };
}

/**
 * Which ground-truth boxes take part: `valid[g]` is 1 unless the box is degenerate
 * (width or height ≤ 0, or a coordinate not finite) and the policy drops it.
 */
export function validateGtBoxes(
  gtBoxes: ArrayLike<number>,
  options: ResolvedMatchOptions,
): Uint8Array {
  const numGt = packedCount(gtBoxes, 'gtBoxes');
  const valid = new Uint8Array(numGt);
  for (let g = 0; g < numGt; g++) {
    const x1 = gtBoxes[g * 4]!;
    const y1 = gtBoxes[g * 4 + 1]!;
    const x2 = gtBoxes[g * 4 + 2]!;
    const y2 = gtBoxes[g * 4 + 3]!;
    const ok =
      Number.isFinite(x1) &&
      Number.isFinite(y1) &&
      Number.isFinite(x2) &&
      Number.isFinite(y2) &&
      f(x2 - x1) > 0 &&
      f(y2 - y1) > 0;
    if (ok) {
      valid[g] = 1;
      continue;
    }
    const box = [x1, y1, x2, y2];
    if (options.invalidBoxes === 'throw') {
      throw new MatcherInputError(
        `gtBoxes[${g}]`,
        box,
        `degenerate box [${box.join(', ')}] (xyxy): needs finite coordinates with xMax > xMin and yMax > yMin`,
      );
    }
    options.onDrop?.(g, box);
  }
  return valid;
}

/** The values as float32, as a tensor would hold them (no copy for a Float32Array). */
export function toFloat32(values: ArrayLike<number>): Float32Array {
  return values instanceof Float32Array ? values : Float32Array.from(values);
}

/** Anchor corners and areas in float32: `[P * 5]` (x1, y1, x2, y2, area). */
function anchorCorners(anchors: ArrayLike<number>, numAnchors: number): Float32Array {
  const out = new Float32Array(numAnchors * 5);
  for (let p = 0; p < numAnchors; p++) {
    const cx = anchors[p * 4]!;
    const cy = anchors[p * 4 + 1]!;
    const halfW = f(anchors[p * 4 + 2]! * 0.5);
    const halfH = f(anchors[p * 4 + 3]! * 0.5);
    const x1 = f(cx - halfW);
    const y1 = f(cy - halfH);
    const x2 = f(cx + halfW);
    const y2 = f(cy + halfH);
    const o = p * 5;
    out[o] = x1;
    out[o + 1] = y1;
    out[o + 2] = x2;
    out[o + 3] = y2;
    out[o + 4] = f(f(x2 - x1) * f(y2 - y1));
  }
  return out;
}

/** float32 IoU of anchor corners `a` (at offset ao) and gt box `g` (xyxy, with area). */
function iou(a: Float32Array, ao: number, gt: ArrayLike<number>, go: number, gtArea: number) {
  let w = f(Math.min(a[ao + 2]!, gt[go + 2]!) - Math.max(a[ao]!, gt[go]!));
  let h = f(Math.min(a[ao + 3]!, gt[go + 3]!) - Math.max(a[ao + 1]!, gt[go + 1]!));
  if (w < 0) w = 0;
  if (h < 0) h = 0;
  const inter = f(w * h);
  const union = f(f(gtArea + a[ao + 4]!) - inter);
  return union > 0 ? f(inter / union) : 0;
}

function gtAreas(gtBoxes: ArrayLike<number>, numGt: number): Float32Array {
  const areas = new Float32Array(numGt);
  for (let g = 0; g < numGt; g++) {
    const o = g * 4;
    areas[g] = f(f(gtBoxes[o + 2]! - gtBoxes[o]!) * f(gtBoxes[o + 3]! - gtBoxes[o + 1]!));
  }
  return areas;
}

/** The threshold rule for an anchor whose best box is `bestGt` at IoU `best`. */
function thresholdRule(best: number, bestGt: number, options: ResolvedMatchOptions): number {
  if (bestGt >= 0 && best >= options.iouThreshold) return bestGt;
  if (
    bestGt >= 0 &&
    options.negativeIouThreshold !== undefined &&
    best >= options.negativeIouThreshold
  ) {
    return IGNORED;
  }
  return BACKGROUND;
}

function matchSsd(
  corners: Float32Array,
  numAnchors: number,
  gtBoxes: ArrayLike<number>,
  valid: Uint8Array,
  options: ResolvedMatchOptions,
): Int32Array {
  const numGt = valid.length;
  const areas = gtAreas(gtBoxes, numGt);
  const gtBest = new Float32Array(numGt).fill(-1);
  const gtBestAnchor = new Int32Array(numGt).fill(-1);
  const matches = new Int32Array(numAnchors);
  for (let p = 0; p < numAnchors; p++) {
    let best = -1;
    let bestGt = -1;
    for (let g = 0; g < numGt; g++) {
      if (!valid[g]) continue;
      const v = iou(corners, p * 5, gtBoxes, g * 4, areas[g]!);
      // Strict comparisons: the lowest index wins a tie, as torch's max(dim).
      if (v > best) {
        best = v;
        bestGt = g;
      }
      if (v > gtBest[g]!) {
        gtBest[g] = v;
        gtBestAnchor[g] = p;
      }
    }
    matches[p] = thresholdRule(best, bestGt, options);
  }
  // Forced matches, in ascending box order: where one anchor is the best of two
  // boxes, the later box wins (torchvision's index assignment, ssd.pytorch's loop).
  // A box that overlaps no anchor at all is left unmatched.
  for (let g = 0; g < numGt; g++) {
    if (valid[g] && gtBest[g]! > 0) matches[gtBestAnchor[g]!] = g;
  }
  return matches;
}

function matchBipartite(
  corners: Float32Array,
  numAnchors: number,
  gtBoxes: ArrayLike<number>,
  valid: Uint8Array,
  options: ResolvedMatchOptions,
): Int32Array {
  const numGt = valid.length;
  const areas = gtAreas(gtBoxes, numGt);
  const table = new Float32Array(numGt * numAnchors); // [G, P]
  const matches = new Int32Array(numAnchors);
  for (let p = 0; p < numAnchors; p++) {
    let best = -1;
    let bestGt = -1;
    for (let g = 0; g < numGt; g++) {
      if (!valid[g]) continue;
      const v = iou(corners, p * 5, gtBoxes, g * 4, areas[g]!);
      table[g * numAnchors + p] = v;
      if (v > best) {
        best = v;
        bestGt = g;
      }
    }
    matches[p] = thresholdRule(best, bestGt, options);
  }
  // Greedy one-to-one assignment: the highest-IoU (box, free anchor) pair first;
  // ties go to the lower box index, then the lower anchor index. Pairs with IoU 0
  // are never assigned.
  const taken = new Uint8Array(numAnchors);
  const done = new Uint8Array(numGt);
  const cacheIou = new Float32Array(numGt);
  const cacheAnchor = new Int32Array(numGt);
  const rescan = (g: number) => {
    let best = 0;
    let bestP = -1;
    const row = g * numAnchors;
    for (let p = 0; p < numAnchors; p++) {
      if (!taken[p] && table[row + p]! > best) {
        best = table[row + p]!;
        bestP = p;
      }
    }
    cacheIou[g] = best;
    cacheAnchor[g] = bestP;
  };
  for (let g = 0; g < numGt; g++) if (valid[g]) rescan(g);
  for (;;) {
    let bestG = -1;
    for (let g = 0; g < numGt; g++) {
      if (valid[g] && !done[g] && cacheAnchor[g]! >= 0) {
        if (bestG < 0 || cacheIou[g]! > cacheIou[bestG]!) bestG = g;
      }
    }
    if (bestG < 0) break;
    const p = cacheAnchor[bestG]!;
    matches[p] = bestG;
    taken[p] = 1;
    done[bestG] = 1;
    for (let g = 0; g < numGt; g++) {
      if (valid[g] && !done[g] && cacheAnchor[g] === p) rescan(g);
    }
  }
  return matches;
}

/**
 * Matches default boxes to ground-truth boxes of one image.
 * @param anchors `[P * 4]`, cxcywh, relative.
 * @param gtBoxes `[G * 4]`, xyxy, relative (any common scale works).
 * @returns `[P]`: the matched box index in 0..G−1, `-1` background, `-2` ignored.
 */
export function matchAnchors(
  anchors: ArrayLike<number>,
  gtBoxes: ArrayLike<number>,
  options?: MatchOptions,
): Int32Array {
  const resolved = resolveMatchOptions(options);
  const valid = validateGtBoxes(gtBoxes, resolved);
  return matchValidated(anchors, gtBoxes, valid, resolved);
}

export function matchValidated(
  anchors: ArrayLike<number>,
  gtBoxes: ArrayLike<number>,
  valid: Uint8Array,
  options: ResolvedMatchOptions,
): Int32Array {
  const numAnchors = packedCount(anchors, 'anchors');
  if (!valid.includes(1)) return new Int32Array(numAnchors).fill(BACKGROUND);
  const corners = anchorCorners(toFloat32(anchors), numAnchors);
  const gt = toFloat32(gtBoxes);
  return options.strategy === 'bipartite'
    ? matchBipartite(corners, numAnchors, gt, valid, options)
    : matchSsd(corners, numAnchors, gt, valid, options);
}
