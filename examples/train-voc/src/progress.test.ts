import { describe, expect, it } from 'vitest';
import { formatDuration, formatProgress, slowRunWarning } from './progress';

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

describe('slowRunWarning', () => {
  it('warns once a CPU run needs more than a few hours, suggesting the small preset or a GPU', () => {
    const w = slowRunWarning({
      device: 'cpu',
      backend: 'wasm × 2 workers',
      preset: 'ssd300',
      etaSeconds: 2149 * 3600,
    });
    expect(w).toContain('2149h00m');
    expect(w).toContain('--preset shapes');
    expect(w).toContain('GPU');
    expect(
      slowRunWarning({ device: 'cpu', backend: 'wasm', preset: 'ssd300', etaSeconds: 3600 }),
    ).toBeNull();
    expect(
      slowRunWarning({ device: 'gpu', backend: 'tensorflow', preset: 'ssd300', etaSeconds: 1e7 }),
    ).toBeNull();
    expect(
      slowRunWarning({ device: 'cpu', backend: 'cpu', preset: 'shapes', etaSeconds: 1e5 }),
    ).toContain('--input-size');
  });
});
