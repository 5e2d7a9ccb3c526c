import { promises as fs } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import sharp from 'sharp';
import { describe, expect, it } from 'vitest';
import { appendJsonl } from './jsonl';
import { smooth, writeLossCurve } from './loss-curve';

describe('loss curve', () => {
  it('smooths with a bias-corrected EMA that starts at the first finite value and skips non-finite ones', () => {
    const s = smooth([NaN, 10, 20, Infinity, 20], 0.5);
    expect(s[0]).toBeNaN();
    // m: 5, 12.5, 12.5, 16.25 over 1 − 0.5^t: 0.5, 0.75, 0.75, 0.875.
    expect(s[1]).toBe(10);
    expect(s[2]).toBeCloseTo(12.5 / 0.75, 12);
    expect(s[3]).toBe(s[2]);
    expect(s[4]).toBeCloseTo(16.25 / 0.875, 12);
  });

  it('does not lag on a short run: a constant loss is smoothed to itself', () => {
    // Without the correction (the average started at the first value) a falling
    // loss was far above the raw values for ~1/alpha steps; a constant stays exact.
    const constant = smooth(new Array(10).fill(3));
    for (const v of constant) expect(v).toBeCloseTo(3, 12);
    // A drop from 10 to 1 at step 5: after 20 more steps at alpha 0.05 the average is
    // 1 + 9 * (weight of the first 5 values) = 1 + 9 * 0.95^20 (1 − 0.95^5) / (1 − 0.95^25).
    const drop = smooth([...new Array(5).fill(10), ...new Array(20).fill(1)]);
    const expected = 1 + (9 * 0.95 ** 20 * (1 - 0.95 ** 5)) / (1 - 0.95 ** 25);
    expect(drop[24]).toBeCloseTo(expected, 10);
  });

  it('draws the training records of metrics.jsonl as a PNG', async () => {
    const dir = await fs.mkdtemp(path.join(tmpdir(), 'loss-curve-'));
    const metrics = path.join(dir, 'metrics.jsonl');
    for (let i = 1; i <= 20; i++) {
      await appendJsonl(metrics, {
        type: 'train',
        iteration: i,
        loss: 10 / i,
        localization: 4 / i,
        confidence: 6 / i,
      });
    }
    await appendJsonl(metrics, { type: 'eval', iteration: 20, mAP: 0.5 });
    await writeLossCurve(metrics, path.join(dir, 'loss.png'));
    const meta = await sharp(path.join(dir, 'loss.png')).metadata();
    expect(meta.format).toBe('png');
    expect(meta.width).toBeGreaterThan(100);
    await fs.rm(dir, { recursive: true });
  });
});
