import { describe, expect, it } from 'vitest';
import {
  averagePrecision,
  coco101AveragePrecision,
  COCO_IOU_THRESHOLDS,
  COCO_RECALL_THRESHOLDS,
  voc07AveragePrecision,
  voc12AveragePrecision,
  VOC07_RECALL_THRESHOLDS,
} from './index';

describe('average precision from a curve', () => {
  it('VOC07 thresholds are MATLAB 0:0.1:1, bit for bit', () => {
    expect(VOC07_RECALL_THRESHOLDS).toEqual([
      0, 0.1, 0.2, 0.30000000000000004, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1,
    ]);
  });

  it('COCO thresholds are numpy linspace, bit for bit at the ends', () => {
    expect(COCO_RECALL_THRESHOLDS).toHaveLength(101);
    expect(COCO_RECALL_THRESHOLDS[0]).toBe(0);
    expect(COCO_RECALL_THRESHOLDS[50]).toBe(0.5);
    expect(COCO_RECALL_THRESHOLDS[100]).toBe(1);
    expect(COCO_IOU_THRESHOLDS).toHaveLength(10);
    expect(COCO_IOU_THRESHOLDS[0]).toBe(0.5);
    expect(COCO_IOU_THRESHOLDS[5]).toBeCloseTo(0.75, 15);
    expect(COCO_IOU_THRESHOLDS[9]).toBe(0.95);
  });

  // recall .2 .4 .4 .8, precision 1 1 2/3 1/2
  const recall = [0.2, 0.4, 0.4, 0.8];
  const precision = [1, 1, 2 / 3, 0.5];

  it('11-point: mean over t of the best precision at recall >= t', () => {
    // t = 0 … 0.4 → 1 (5 points), t = 0.5 … 0.8 → 0.5 (4 points), t = 0.9, 1 → 0.
    expect(voc07AveragePrecision(recall, precision)).toBeCloseTo(7 / 11, 15);
    expect(averagePrecision(recall, precision, 'voc07')).toBe(
      voc07AveragePrecision(recall, precision),
    );
  });

  it('area: the envelope summed where recall changes (VOCap.m)', () => {
    // 0.2·1 + 0.2·1 + 0.4·0.5 + 0.2·0
    expect(voc12AveragePrecision(recall, precision)).toBeCloseTo(0.6, 15);
    expect(averagePrecision(recall, precision, 'voc12')).toBe(
      voc12AveragePrecision(recall, precision),
    );
  });

  it('101-point: envelope read at the first rank reaching each recall', () => {
    // 51 thresholds 0..0.5 read precision 1, 50 thresholds above read 0.5.
    expect(coco101AveragePrecision([0.5, 1], [1, 0.5])).toBeCloseTo((51 + 25) / 101, 15);
    // Recall stopping at 0.5: the thresholds past it read 0.
    expect(coco101AveragePrecision([0.5], [1])).toBeCloseTo(51 / 101, 15);
  });

  it('an empty curve has AP 0', () => {
    expect(voc07AveragePrecision([], [])).toBe(0);
    expect(voc12AveragePrecision([], [])).toBe(0);
    expect(coco101AveragePrecision([], [])).toBe(0);
  });

  it('precision made monotone: a later, higher precision lifts earlier thresholds', () => {
    // FP then TP: precision 0 then 1/2 at recall 0 then 1.
    expect(voc12AveragePrecision([0, 1], [0, 0.5])).toBeCloseTo(0.5, 15);
    expect(voc07AveragePrecision([0, 1], [0, 0.5])).toBeCloseTo(0.5, 15);
  });
});
