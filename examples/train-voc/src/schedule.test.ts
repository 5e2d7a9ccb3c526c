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
