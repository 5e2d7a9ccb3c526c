import { describe, expect, it } from 'vitest';
import { ScheduleError, learningRateAt, schedulePhase, validateSchedule } from './schedule';

const paper = {
  baseLr: 1e-3,
  steps: [80_000, 100_000],
  gamma: 0.1,
  warmupIterations: 0,
  warmupFactor: 1 / 3,
};

describe('learningRateAt', () => {
  it('is the paper’s step schedule: 1e-3, ×0.1 at 80k and at 100k', () => {
    expect(learningRateAt(0, paper)).toBe(1e-3);
    expect(learningRateAt(79_999, paper)).toBe(1e-3);
    expect(learningRateAt(80_000, paper)).toBeCloseTo(1e-4, 12);
    expect(learningRateAt(99_999, paper)).toBeCloseTo(1e-4, 12);
    expect(learningRateAt(100_000, paper)).toBeCloseTo(1e-5, 12);
    expect(schedulePhase(100_000, paper)).toBe(2);
    expect(schedulePhase(5, paper)).toBe(0);
  });

  it('warms up linearly from factor·lr to lr', () => {
    const s = { ...paper, warmupIterations: 100 };
    expect(learningRateAt(0, s)).toBeCloseTo(1e-3 / 3, 12);
    expect(learningRateAt(50, s)).toBeCloseTo(1e-3 * (1 / 3 + (2 / 3) * 0.5), 12);
    expect(learningRateAt(100, s)).toBe(1e-3);
  });

  it('rejects impossible schedules', () => {
    expect(() => validateSchedule({ ...paper, steps: [100, 50] })).toThrow(ScheduleError);
    expect(() => validateSchedule({ ...paper, baseLr: 0 })).toThrow(/baseLr/);
    expect(() => validateSchedule({ ...paper, warmupFactor: 0 })).toThrow(/warmupFactor/);
    expect(() => validateSchedule(paper)).not.toThrow();
  });
});

describe('cosine schedule', () => {
  const cosine = {
    ...paper,
    kind: 'cosine' as const,
    steps: [],
    baseLr: 2e-3,
    totalIterations: 1030,
    warmupIterations: 30,
  };

  it('warms up linearly, then follows half a cosine from baseLr to minLrFactor·baseLr', () => {
    expect(learningRateAt(0, cosine)).toBeCloseTo(2e-3 / 3, 12);
    expect(learningRateAt(15, cosine)).toBeCloseTo((2e-3 / 3) * 2, 12);
    expect(learningRateAt(30, cosine)).toBeCloseTo(2e-3, 12);
    expect(learningRateAt(530, cosine)).toBeCloseTo(1e-3, 12); // halfway
    expect(learningRateAt(280, cosine)).toBeCloseTo(1e-3 * (1 + Math.SQRT1_2), 12);
    expect(learningRateAt(1030, cosine)).toBe(0);
    expect(learningRateAt(5000, cosine)).toBe(0);
    const floor = { ...cosine, minLrFactor: 0.1 };
    expect(learningRateAt(1030, floor)).toBeCloseTo(2e-4, 12);
    expect(learningRateAt(530, floor)).toBeCloseTo(2e-4 + 0.9e-3, 12);
    // Strictly decreasing after warm-up.
    for (let i = 31; i <= 1030; i++) {
      expect(learningRateAt(i, cosine)).toBeLessThan(learningRateAt(i - 1, cosine));
    }
    expect(schedulePhase(800, cosine)).toBe(0);
  });

  it('rejects a cosine without a length past the warm-up', () => {
    expect(() => validateSchedule({ ...cosine, totalIterations: 30 })).toThrow(/totalIterations/);
    expect(() => validateSchedule({ ...cosine, totalIterations: undefined })).toThrow(
      /totalIterations/,
    );
    expect(() => validateSchedule({ ...cosine, minLrFactor: 2 })).toThrow(/minLrFactor/);
    expect(() => validateSchedule(cosine)).not.toThrow();
  });
});
