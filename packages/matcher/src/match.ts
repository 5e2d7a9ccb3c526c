/**
 * Matching default boxes to ground truth on packed arrays.
 *
 * IoU comes from `@ssd/geometry`'s `pairwiseIouPacked` in float32 precision: one
 * rounding per operation, in the order of torchvision's `box_iou` (and of
 * `encodeTargetsBatch`): corners x1 = cx − w/2, areas (x2 − x1)·(y2 − y1),
 * intersection max(0, min(x2) − max(x1))·max(0, min(y2) − max(y1)), union
 * (area_anchor + area_gt) − intersection. Equal inputs therefore give equal IoUs
 * here, in torchvision and on the tfjs `cpu` backend, and the argmax
 * tie-breaking below decides the same way in all three.
 */
import {
  convertBoxesPacked,
  packedBoxCount,
  pairwiseIouPacked,
  type PackedBoxes,
} from '@ssd/geometry';
import { MatcherInputError } from './errors';

const f = Math.fround;

/**
 * Match result of an anchor whose best IoU is below every threshold: it matches no
 * box and trains as background (label 0). torchvision's `Matcher.BELOW_LOW_THRESHOLD`.
 */
export const MATCH_BELOW_THRESHOLD = -1;
/**
 * Match result of an anchor in the ignore band `[negativeIouThreshold,
 * iouThreshold)`: excluded from both losses (label −1). torchvision's
 * `Matcher.BETWEEN_THRESHOLDS`.
 */
export const MATCH_BETWEEN_THRESHOLDS = -2;

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
  const numGt = packedBoxCount(gtBoxes, 'gtBoxes');
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

/** The threshold rule for an anchor whose best box is `bestGt` at IoU `best`. */
function thresholdRule(best: number, bestGt: number, options: ResolvedMatchOptions): number {
  if (bestGt >= 0 && best >= options.iouThreshold) return bestGt;
  if (
    bestGt >= 0 &&
    options.negativeIouThreshold !== undefined &&
    best >= options.negativeIouThreshold
  ) {
    return MATCH_BETWEEN_THRESHOLDS;
  }
  return MATCH_BELOW_THRESHOLD;
}

/**
 * Per anchor: its best box and the threshold rule. Boxes are visited in ascending
 * order with strict comparisons, so the lowest index wins a tie, as torch's
 * max(dim). Also returns each box's best anchor (the first maximum) and its IoU.
 */
function bestPerAnchor(
  ious: Float32Array,
  numAnchors: number,
  valid: Uint8Array,
  options: ResolvedMatchOptions,
): { matches: Int32Array; gtBest: Float32Array; gtBestAnchor: Int32Array } {
  const numGt = valid.length;
  const best = new Float32Array(numAnchors).fill(-1);
  const bestGt = new Int32Array(numAnchors).fill(-1);
  const gtBest = new Float32Array(numGt).fill(-1);
  const gtBestAnchor = new Int32Array(numGt).fill(-1);
  for (let g = 0; g < numGt; g++) {
    if (!valid[g]) continue;
    const row = g * numAnchors;
    let bestOfBox = -1;
    let bestAnchorOfBox = -1;
    for (let p = 0; p < numAnchors; p++) {
      const v = ious[row + p]!;
      if (v > best[p]!) {
        best[p] = v;
        bestGt[p] = g;
      }
      if (v > bestOfBox) {
        bestOfBox = v;
        bestAnchorOfBox = p;
      }
    }
    gtBest[g] = bestOfBox;
    gtBestAnchor[g] = bestAnchorOfBox;
  }
  const matches = new Int32Array(numAnchors);
  for (let p = 0; p < numAnchors; p++) matches[p] = thresholdRule(best[p]!, bestGt[p]!, options);
  return { matches, gtBest, gtBestAnchor };
}

function matchSsd(
  ious: Float32Array,
  numAnchors: number,
  valid: Uint8Array,
  options: ResolvedMatchOptions,
): Int32Array {
  const { matches, gtBest, gtBestAnchor } = bestPerAnchor(ious, numAnchors, valid, options);
  // Forced matches, in ascending box order: where one anchor is the best of two
  // boxes, the later box wins (torchvision's index assignment, ssd.pytorch's loop).
  // A box that overlaps no anchor at all is left unmatched.
  for (let g = 0; g < valid.length; g++) {
    if (valid[g] && gtBest[g]! > 0) matches[gtBestAnchor[g]!] = g;
  }
  return matches;
}

function matchBipartite(
  ious: Float32Array,
  numAnchors: number,
  valid: Uint8Array,
  options: ResolvedMatchOptions,
): Int32Array {
  const numGt = valid.length;
  const { matches } = bestPerAnchor(ious, numAnchors, valid, options);
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
      const v = ious[row + p]!;
      if (!taken[p] && v > best) {
        best = v;
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
 * @returns `[P]`: the matched box index in 0..G−1, {@link MATCH_BELOW_THRESHOLD}
 *   (`-1`, background) or {@link MATCH_BETWEEN_THRESHOLDS} (`-2`, ignored).
 */
export function matchAnchors(
  anchors: PackedBoxes<'cxcywh', 'relative'>,
  gtBoxes: PackedBoxes<'xyxy', 'relative'>,
  options?: MatchOptions,
): Int32Array {
  const resolved = resolveMatchOptions(options);
  const valid = validateGtBoxes(gtBoxes, resolved);
  return matchValidated(anchors, gtBoxes, valid, resolved);
}

export function matchValidated(
  anchors: PackedBoxes<'cxcywh', 'relative'>,
  gtBoxes: PackedBoxes<'xyxy', 'relative'>,
  valid: Uint8Array,
  options: ResolvedMatchOptions,
): Int32Array {
  const numAnchors = packedBoxCount(anchors, 'anchors');
  if (!valid.includes(1)) return new Int32Array(numAnchors).fill(MATCH_BELOW_THRESHOLD);
  // float32 anchor corners: fround(cx ∓ w/2), w/2 being exact in float32.
  const corners = convertBoxesPacked(toFloat32(anchors), 'cxcywh', 'xyxy');
  const ious = pairwiseIouPacked(toFloat32(gtBoxes), corners, 'xyxy', { precision: 'float32' }); // [G, P]
  return options.strategy === 'bipartite'
    ? matchBipartite(ious, numAnchors, valid, options)
    : matchSsd(ious, numAnchors, valid, options);
}
