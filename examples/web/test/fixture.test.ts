import type { Detection } from '@ssd/detect';
import { describe, expect, it } from 'vitest';
import { unmatchedDetections } from './fixture';

const detection = (score: number, shift = 0, classId = 1): Detection => ({
  box: { xMin: 10 + shift, yMin: 20, xMax: 50, yMax: 60 + shift },
  classId,
  score,
});
const TOLERANCE = { boxPixels: 0.5, score: 1e-3, scoreThreshold: 0.2 };

describe('unmatchedDetections (the browser comparison)', () => {
  it('pairs detections within the tolerances, in any order', () => {
    const expected = [detection(0.5), detection(0.4, 5)];
    const actual = [detection(0.4004, 5.3), detection(0.5009, -0.4)];
    expect(unmatchedDetections(expected, actual, TOLERANCE)).toEqual({ missing: [], extra: [] });
  });

  it('reports a box off by more than 0.5 px, a score off by more than 1e-3, another class', () => {
    for (const wrong of [detection(0.5, 0.6), detection(0.5012), detection(0.5, 0, 2)]) {
      expect(unmatchedDetections([detection(0.5)], [wrong], TOLERANCE)).toEqual({
        missing: [detection(0.5)],
        extra: [wrong],
      });
    }
  });

  it('reports a missing or an extra detection, except one at the score threshold', () => {
    expect(unmatchedDetections([detection(0.5)], [], TOLERANCE).missing).toHaveLength(1);
    expect(unmatchedDetections([], [detection(0.5)], TOLERANCE).extra).toHaveLength(1);
    expect(unmatchedDetections([detection(0.2005)], [], TOLERANCE)).toEqual({
      missing: [],
      extra: [],
    });
  });
});
