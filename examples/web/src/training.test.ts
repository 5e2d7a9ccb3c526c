import { describe, expect, it } from 'vitest';
import { BROWSER_TRAIN_DEFAULTS, learningRateAt } from './training';

describe('learningRateAt (the Train page schedule: npm start’s, stretched to the run)', () => {
  const run = { learningRate: 2e-3, steps: 1600 };

  it('warms up linearly from a third of the rate over 30 steps', () => {
    expect(learningRateAt(0, run)).toBeCloseTo(2e-3 / 3, 12);
    expect(learningRateAt(15, run)).toBeCloseTo(2e-3 * (1 / 3 + (2 / 3) * 0.5), 12);
    expect(learningRateAt(29, run)).toBeLessThan(2e-3);
    expect(learningRateAt(30, run)).toBe(2e-3);
  });

  it('drops ×0.1 at 1380 and 1540 of 1600 (86.25 % and 96.25 %), and at the same fractions of a shorter run', () => {
    expect(learningRateAt(1379, run)).toBe(2e-3);
    expect(learningRateAt(1380, run)).toBeCloseTo(2e-4, 12);
    expect(learningRateAt(1539, run)).toBeCloseTo(2e-4, 12);
    expect(learningRateAt(1540, run)).toBeCloseTo(2e-5, 12);
    expect(learningRateAt(5000, run)).toBeCloseTo(2e-5, 12);
    const page = { learningRate: 2e-3, steps: BROWSER_TRAIN_DEFAULTS.steps }; // 800
    expect(learningRateAt(689, page)).toBe(2e-3);
    expect(learningRateAt(690, page)).toBeCloseTo(2e-4, 12);
    expect(learningRateAt(770, page)).toBeCloseTo(2e-5, 12);
  });
});
