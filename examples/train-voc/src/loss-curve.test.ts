import { promises as fs } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import sharp from 'sharp';
import { describe, expect, it } from 'vitest';
import { appendJsonl } from './jsonl';
import { smooth, writeLossCurve } from './loss-curve';

describe('loss curve', () => {
  it('smooths with an EMA that starts at the first finite value and skips non-finite ones', () => {
    const s = smooth([NaN, 10, 20, Infinity, 20], 0.5);
    expect(s[0]).toBeNaN();
    expect(s.slice(1)).toEqual([10, 15, 15, 17.5]);
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
