import { describe, expect, it } from 'vitest';
import { MatcherInputError, encodeTargets, matchAnchors } from './index';

// Every coordinate below is a dyadic rational, exact in float32, so the IoUs in
// the comments are exact and "exactly 0.5" really is 0.5.

describe('matchAnchors, strategy ssd', () => {
  // gt [0.25, 0.25, 0.75, 0.5]: A0 equals it (IoU 1); A1 = [.25, .25, .75, .75]
  // overlaps 0.125 of a 0.25 union (IoU exactly 0.5); A2 is 1/128 taller than A1
  // (IoU 0.125 / 0.25390625 = 0.4923); A3 is far away (IoU 0).
  const anchors = new Float32Array([
    0.5, 0.375, 0.5, 0.25, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5078125, 0.1, 0.1, 0.1, 0.1,
  ]);
  const gt = new Float32Array([0.25, 0.25, 0.75, 0.5]);

  it('takes IoU ≥ 0.5 as positive, exactly 0.5 included', () => {
    expect(Array.from(matchAnchors(anchors, gt))).toEqual([0, 0, -1, -1]);
  });

  it('marks the ignore band [negativeIouThreshold, iouThreshold) as -2', () => {
    expect(Array.from(matchAnchors(anchors, gt, { negativeIouThreshold: 0.4 }))).toEqual([
      0, 0, -2, -1,
    ]);
    // A2 and A3 both below 0.49: only A2 (0.4923) is in [0.49, 0.5).
    expect(Array.from(matchAnchors(anchors, gt, { negativeIouThreshold: 0.49 }))).toEqual([
      0, 0, -2, -1,
    ]);
    expect(Array.from(matchAnchors(anchors, gt, { negativeIouThreshold: 0.495 }))).toEqual([
      0, 0, -1, -1,
    ]);
  });

  it('forces each box onto its best anchor even below the threshold', () => {
    // Only A1 and A2 remain; the best (A1, 0.5) is forced at threshold 0.9 too.
    const two = anchors.slice(4, 12);
    expect(Array.from(matchAnchors(two, gt, { iouThreshold: 0.9 }))).toEqual([0, -1]);
    // A small box inside A1: IoU 1/16 with A1, 1/16.25 with A2 → forced onto A1.
    const small = new Float32Array([0.5, 0.5, 0.625, 0.625]);
    expect(Array.from(matchAnchors(anchors, small))).toEqual([-1, 0, -1, -1]);
  });

  it('gives all-background matches without ground truth', () => {
    expect(Array.from(matchAnchors(anchors, new Float32Array(0)))).toEqual([-1, -1, -1, -1]);
  });

  // Two boxes competing for one anchor. A0 = [.25, .25, .75, .75];
  // gt0 = [.25, .25, .75, .625] and gt1 = [.25, .375, .75, .75] both have IoU 0.75
  // with A0, their best anchor. A1 = [.25, .5, .75, .75]: IoU 2/3 with gt1, 1/4 with gt0.
  const compete = new Float32Array([0.5, 0.5, 0.5, 0.5, 0.5, 0.625, 0.5, 0.25]);
  const gtPair = new Float32Array([0.25, 0.25, 0.75, 0.625, 0.25, 0.375, 0.75, 0.75]);

  it('resolves an anchor that is the best of two boxes to the later box (as torchvision)', () => {
    // Threshold rule alone would give A0 to gt0 (tie → lower index); forcing then
    // gives A0 to gt1, the later box: gt0 ends up with no anchor, as in
    // torchvision's SSDMatcher and ssd.pytorch.
    expect(Array.from(matchAnchors(compete, gtPair))).toEqual([1, 1]);
    // Swapped, A0 still goes to the later box (now the former gt0), and A1 by the
    // threshold rule to the former gt1, now box 0.
    const swapped = new Float32Array([...gtPair.slice(4), ...gtPair.slice(0, 4)]);
    expect(Array.from(matchAnchors(compete, swapped))).toEqual([1, 0]);
  });

  it('breaks an IoU tie between two boxes towards the lower box index', () => {
    // A single anchor that is nobody's forced best: add an exact copy of each box
    // as anchors, so A0 is matched by the threshold rule only.
    const withCopies = new Float32Array([
      ...compete.slice(0, 4),
      0.5,
      0.4375,
      0.5,
      0.375, // = gt0
      0.5,
      0.5625,
      0.5,
      0.375, // = gt1
    ]);
    expect(Array.from(matchAnchors(withCopies, gtPair))).toEqual([0, 0, 1]);
  });

  it('bipartite gives every box its own anchor', () => {
    expect(Array.from(matchAnchors(compete, gtPair, { strategy: 'bipartite' }))).toEqual([0, 1]);
    const swapped = new Float32Array([...gtPair.slice(4), ...gtPair.slice(0, 4)]);
    // The tie on A0 goes to the lower box index; the other box takes A1 although
    // A1 overlaps it by only 0.25 (the threshold rule would give A1 to box 0).
    expect(Array.from(matchAnchors(compete, swapped, { strategy: 'bipartite' }))).toEqual([0, 1]);
  });

  it('bipartite then applies the threshold rule to the other anchors', () => {
    expect(Array.from(matchAnchors(anchors, gt, { strategy: 'bipartite' }))).toEqual([
      0, 0, -1, -1,
    ]);
  });
});

describe('degenerate input', () => {
  const anchors = new Float32Array([0.5, 0.5, 0.5, 0.5]);

  it('throws MatcherInputError naming the box', () => {
    for (const bad of [
      [0.2, 0.2, 0.2, 0.5],
      [0.2, 0.5, 0.4, 0.3],
      [0.2, NaN, 0.4, 0.6],
      [0.2, 0.2, Infinity, 0.6],
    ]) {
      const gt = new Float32Array([0.1, 0.1, 0.9, 0.9, ...bad]);
      expect(() => matchAnchors(anchors, gt)).toThrow(MatcherInputError);
      expect(() => encodeTargets(anchors, gt, new Int32Array([1, 2]))).toThrow(/gtBoxes\[1\]/);
    }
  });

  it("'drop' leaves the box unmatched and reports it", () => {
    const dropped: number[] = [];
    const gt = new Float32Array([0.2, 0.2, 0.2, 0.5, 0.25, 0.25, 0.75, 0.75]);
    const matches = matchAnchors(anchors, gt, {
      invalidBoxes: 'drop',
      onDrop: (index) => dropped.push(index),
    });
    expect(Array.from(matches)).toEqual([1]);
    expect(dropped).toEqual([0]);
  });

  it('rejects bad labels, lengths and options', () => {
    const gt = new Float32Array([0.25, 0.25, 0.75, 0.75]);
    expect(() => encodeTargets(anchors, gt, new Int32Array([0]))).toThrow(
      'gtLabels[0]: expected an integer ≥ 1 (0 is the background), got 0',
    );
    expect(() => encodeTargets(anchors, gt, new Int32Array([21]), { numClasses: 21 })).toThrow(
      /gtLabels\[0\]: expected an integer in 1..20/,
    );
    expect(() => encodeTargets(anchors, gt, new Int32Array([1, 2]))).toThrow(/gtLabels/);
    expect(() => matchAnchors(anchors, new Float32Array(5))).toThrow(/gtBoxes/);
    expect(() => matchAnchors(anchors, gt, { iouThreshold: 0 })).toThrow(/iouThreshold/);
    expect(() => matchAnchors(anchors, gt, { negativeIouThreshold: 0.7 })).toThrow(
      /negativeIouThreshold/,
    );
    expect(() => matchAnchors(anchors, gt, { strategy: 'hungarian' as unknown as 'ssd' })).toThrow(
      /strategy/,
    );
  });
});
