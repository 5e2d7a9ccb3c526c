import { describe, expect, it } from 'vitest';
import { evaluateDetections, type EvaluationDetection, type EvaluationGroundTruth } from './index';

const NAMES = ['cat', 'dog'];
const det = (box: number[], classId: number, score: number): EvaluationDetection => ({
  box: { xMin: box[0]!, yMin: box[1]!, xMax: box[2]!, yMax: box[3]! },
  classId,
  score,
});
const gt = (boxes: number[][], labels: number[], difficult?: number[]): EvaluationGroundTruth => ({
  boxes: new Float32Array(boxes.flat()),
  labels: new Int32Array(labels),
  difficult: new Uint8Array(difficult ?? labels.map(() => 0)),
});
const coco = (dets: EvaluationDetection[][], gts: EvaluationGroundTruth[], maxDetections = 100) =>
  evaluateDetections(dets, gts, { classNames: NAMES, coco: { maxDetections } }).coco!;

const A = [0, 0, 100, 100];

describe('COCO-style AP@[0.5:0.95]', () => {
  it('perfect detections: 1 at every IoU; a class without ground truth is null and excluded', () => {
    const result = coco([[det(A, 1, 0.9)]], [gt([A], [1])]);
    expect(result.ap).toBeCloseTo(1, 14);
    expect(result.ap50).toBeCloseTo(1, 14);
    expect(result.classes[1]).toEqual({
      classId: 2,
      name: 'dog',
      ap: null,
      ap50: null,
      ap75: null,
    });
    expect(result.maxDetections).toBe(100);
  });

  it('IoU 0.82 counts at the 7 thresholds 0.5 … 0.8', () => {
    const result = coco([[det([0, 0, 100, 82], 1, 0.9)]], [gt([A], [1])]);
    expect(result.ap50).toBeCloseTo(1, 14);
    expect(result.ap75).toBeCloseTo(1, 14);
    expect(result.ap).toBeCloseTo(0.7, 14);
  });

  it('takes the best untaken box (unlike the devkit), continuous IoU', () => {
    const B = [30, 0, 130, 100];
    const dets = [[det(A, 1, 0.9), det([10, 0, 110, 100], 1, 0.8)]]; // IoU .82 with A, .6 with B
    const result = evaluateDetections(dets, [gt([A, B], [1, 1])], {
      classNames: NAMES,
      coco: true,
    });
    expect(result.coco!.ap50).toBeCloseTo(1, 14);
    expect(result.classes[0]).toMatchObject({ truePositives: 1, falsePositives: 1 }); // devkit
  });

  it('a detection on a difficult (ignored) box counts neither way', () => {
    const B = [200, 200, 300, 300];
    const result = coco([[det(B, 1, 0.95), det(A, 1, 0.9)]], [gt([A, B], [1, 1], [0, 1])]);
    expect(result.ap).toBeCloseTo(1, 14);
  });

  it('keeps at most maxDetections per image and class, the highest scores', () => {
    const far = [300, 300, 340, 340];
    const dets = [[det(far, 1, 0.9), det(A, 1, 0.5)]];
    expect(coco(dets, [gt([A], [1])], 1).ap).toBe(0); // the TP was cut
    expect(coco(dets, [gt([A], [1])], 2).ap50).toBeCloseTo((51 * 0.5 + 50 * 0.5) / 101, 14);
  });
});
