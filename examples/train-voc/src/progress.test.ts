import { describe, expect, it } from 'vitest';
import { formatDuration, formatProgress } from './progress';

describe('formatProgress', () => {
  it('shows bar, ETA, speed, loss parts, lr and data wait', () => {
    const line = formatProgress({
      iteration: 50,
      totalIterations: 200,
      elapsedSeconds: 100,
      iterationsThisRun: 50,
      imagesPerSecond: 8.04,
      loss: { total: 3.25, localization: 1.5, confidence: 1.75 },
      learningRate: 1e-3,
      dataWaitFraction: 0.034,
    });
    expect(line).toContain(' 50/200');
    expect(line).toContain(' 25%');
    expect(line).toContain('1m40s<5m00s'); // 2 s per iteration, 150 to go
    expect(line).toContain('8.0 img/s');
    expect(line).toContain('loss 3.250 (loc 1.500 conf 1.750)');
    expect(line).toContain('lr 1.00e-3');
    expect(line).toContain('data-wait 3%');
  });

  it('formats durations', () => {
    expect(formatDuration(5)).toBe('5s');
    expect(formatDuration(65)).toBe('1m05s');
    expect(formatDuration(3725)).toBe('1h02m');
    expect(formatDuration(NaN)).toBe('?');
  });
});
