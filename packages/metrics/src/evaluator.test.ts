import { describe, expect, it } from 'vitest';
import {
  DetectionEvaluator,
  EvaluationInputError,
  EvaluationOptionError,
  evaluateDetections,
  type EvaluationDetection,
  type EvaluationGroundTruth,
} from './index';

const NAMES = ['cat', 'dog', 'bird'];

function det(
  xMin: number,
  yMin: number,
  xMax: number,
  yMax: number,
  classId: number,
  score: number,
): EvaluationDetection {
  return { box: { xMin, yMin, xMax, yMax }, classId, score };
}

function gt(boxes: number[][], labels: number[], difficult?: number[]): EvaluationGroundTruth {
  return {
    boxes: new Float32Array(boxes.flat()),
    labels: new Int32Array(labels),
    difficult: new Uint8Array(difficult ?? labels.map(() => 0)),
  };
}

const A = [10, 10, 50, 50];
const B = [100, 100, 160, 140];
const far = (classId: number, score: number) => det(300, 300, 340, 340, classId, score);
const on = (box: number[], classId: number, score: number) =>
  det(box[0]!, box[1]!, box[2]!, box[3]!, classId, score);

describe('evaluateDetections: hand-computed cases', () => {
  // The 11-point sum adds p/11 eleven times, as the devkit does: 1 comes out as
  // 1.0000000000000002 (MATLAB gives the same), hence toBeCloseTo.
  it('perfect detections give AP 1 under both methods', () => {
    const dets = [[on(A, 1, 0.9), on(B, 2, 0.8)], [on(B, 1, 0.7)]];
    const gts = [gt([A, B], [1, 2]), gt([B], [1])];
    for (const method of ['voc07', 'voc12'] as const) {
      const result = evaluateDetections(dets, gts, { classNames: NAMES, method });
      expect(result.classes[0]!.ap).toBeCloseTo(1, 14);
      expect(result.classes[1]!.ap).toBeCloseTo(1, 14);
      expect(result.classes[2]!.ap).toBeNull(); // bird: no ground truth
      expect(result.map).toBeCloseTo(1, 14);
      expect(result.numImages).toBe(2);
    }
  });

  it('no detections give AP 0 and an empty curve', () => {
    const result = evaluateDetections([[]], [gt([A], [1])], { classNames: NAMES });
    expect(result.classes[0]).toMatchObject({
      ap: 0,
      numGroundTruth: 1,
      numDetections: 0,
      truePositives: 0,
      falsePositives: 0,
    });
    expect(result.classes[0]!.precision).toHaveLength(0);
    expect(result.map).toBe(0);
  });

  it('one false positive ranked before one true positive: AP 0.5', () => {
    const result = evaluateDetections([[far(1, 0.9), on(A, 1, 0.8)]], [gt([A], [1])], {
      classNames: NAMES,
    });
    const cat = result.classes[0]!;
    expect([...cat.precision]).toEqual([0, 0.5]);
    expect([...cat.recall]).toEqual([0, 1]);
    expect([...cat.scores]).toEqual([0.9, 0.8]);
    expect(cat.ap).toBeCloseTo(0.5, 15);
    const area = evaluateDetections([[far(1, 0.9), on(A, 1, 0.8)]], [gt([A], [1])], {
      classNames: NAMES,
      method: 'voc12',
    });
    expect(area.classes[0]!.ap).toBeCloseTo(0.5, 15);
  });

  it('11-point and area AP differ on the same curve as computed by hand', () => {
    // TP, duplicate (FP), TP against two boxes: recall .5 .5 1, precision 1 .5 2/3.
    const dets = [[on(A, 1, 0.9), on(A, 1, 0.8), on(B, 1, 0.7)]];
    const gts = [gt([A, B], [1, 1])];
    const voc07 = evaluateDetections(dets, gts, { classNames: NAMES, method: 'voc07' });
    const voc12 = evaluateDetections(dets, gts, { classNames: NAMES, method: 'voc12' });
    const cat = voc07.classes[0]!;
    expect([...cat.recall]).toEqual([0.5, 0.5, 1]);
    expect([...cat.precision]).toEqual([1, 0.5, 2 / 3]);
    expect(cat).toMatchObject({ truePositives: 2, falsePositives: 1 });
    // 11-point: t = 0..0.5 see precision 1, t = 0.6..1 see 2/3.
    expect(cat.ap).toBeCloseTo((6 * 1 + 5 * (2 / 3)) / 11, 14);
    // Area: 0.5 * 1 + 0.5 * 2/3.
    expect(voc12.classes[0]!.ap).toBeCloseTo(0.5 + 0.5 * (2 / 3), 14);
  });

  it('a second detection of an already-matched box is a false positive', () => {
    const result = evaluateDetections([[on(A, 1, 0.9), on(A, 1, 0.8)]], [gt([A], [1])], {
      classNames: NAMES,
    });
    expect(result.classes[0]).toMatchObject({
      ap: expect.closeTo(1, 14),
      truePositives: 1,
      falsePositives: 1,
    });
    expect([...result.classes[0]!.precision]).toEqual([1, 0.5]);
  });

  it('takes the highest-IoU box even when it is already matched (devkit), making an FP', () => {
    // Two overlapping boxes; the second detection overlaps the taken one best.
    const boxA = [0, 0, 100, 100];
    const boxB = [30, 0, 130, 100];
    const second = det(10, 0, 110, 100, 1, 0.8); // IoU ~0.82 with A, ~0.6 with B
    const result = evaluateDetections([[on(boxA, 1, 0.9), second]], [gt([boxA, boxB], [1, 1])], {
      classNames: NAMES,
    });
    expect(result.classes[0]).toMatchObject({ truePositives: 1, falsePositives: 1 });
  });

  it('a match to a difficult box is neither TP nor FP', () => {
    const dets = [[on(A, 1, 0.95), on(B, 1, 0.9), on(A, 1, 0.85)]];
    const result = evaluateDetections(dets, [gt([A, B], [1, 1], [1, 0])], { classNames: NAMES });
    const cat = result.classes[0]!;
    expect(cat).toMatchObject({
      ap: expect.closeTo(1, 14),
      numGroundTruth: 1,
      numDifficult: 1,
      numDetections: 3,
      truePositives: 1,
      falsePositives: 0,
    });
    expect([...cat.recall]).toEqual([1]); // the two difficult matches add no point
  });

  it('every detection on a difficult box: AP 0 (the devkit would print NaN for VOC07)', () => {
    const result = evaluateDetections([[on(A, 1, 0.9)]], [gt([A, B], [1, 1], [1, 0])], {
      classNames: NAMES,
    });
    expect(result.classes[0]).toMatchObject({ ap: 0, truePositives: 0, falsePositives: 0 });
    expect(result.classes[0]!.recall).toHaveLength(0);
  });

  it('a class with only difficult ground truth is reported with AP null and left out of the mean', () => {
    const dets = [[on(A, 1, 0.9), on(B, 2, 0.9), far(2, 0.5)]];
    const result = evaluateDetections(dets, [gt([A, B], [1, 2], [0, 1])], { classNames: NAMES });
    const dog = result.classes[1]!;
    expect(dog).toMatchObject({
      ap: null,
      numGroundTruth: 0,
      numDifficult: 1,
      numDetections: 2,
      truePositives: 0,
      falsePositives: 1,
    });
    expect(dog.precision).toHaveLength(0);
    expect(result.map).toBeCloseTo(1, 14); // only cat counts
  });

  it('a class with detections but no ground truth at all counts its FPs and is excluded', () => {
    const dets = [[on(A, 1, 0.9), far(3, 0.9), on(A, 3, 0.8)]];
    const result = evaluateDetections(dets, [gt([A], [1])], { classNames: NAMES });
    expect(result.classes[2]).toMatchObject({
      ap: null,
      numGroundTruth: 0,
      numDetections: 2,
      falsePositives: 2,
    });
    expect(result.map).toBeCloseTo(1, 14);
  });

  it('no class with ground truth gives map null', () => {
    const result = evaluateDetections([[far(1, 0.4)]], [gt([], [])], { classNames: NAMES });
    expect(result.map).toBeNull();
    expect(result.classes.every((c) => c.ap === null)).toBe(true);
  });

  it('ties in score keep input order (the devkit sorts stably)', () => {
    const gts = [gt([A], [1])];
    const fpFirst = evaluateDetections([[far(1, 0.5), on(A, 1, 0.5)]], gts, {
      classNames: NAMES,
    });
    const tpFirst = evaluateDetections([[on(A, 1, 0.5), far(1, 0.5)]], gts, {
      classNames: NAMES,
    });
    expect(fpFirst.classes[0]!.ap).toBeCloseTo(0.5, 15);
    expect(tpFirst.classes[0]!.ap).toBeCloseTo(1, 14);
    // Across images, the earlier image ranks first.
    const twoImages = evaluateDetections(
      [[far(1, 0.5)], [on(A, 1, 0.5)]],
      [gt([], []), gt([A], [1])],
      {
        classNames: NAMES,
      },
    );
    expect([...twoImages.classes[0]!.precision]).toEqual([0, 0.5]);
  });

  it('matches only within the same image', () => {
    const result = evaluateDetections([[], [on(A, 1, 0.9)]], [gt([A], [1]), gt([], [])], {
      classNames: NAMES,
    });
    expect(result.classes[0]).toMatchObject({ ap: 0, truePositives: 0, falsePositives: 1 });
  });

  it('matches only within the same class', () => {
    const result = evaluateDetections([[on(A, 2, 0.9)]], [gt([A], [1])], { classNames: NAMES });
    expect(result.classes[0]!.ap).toBe(0);
    expect(result.classes[1]).toMatchObject({ ap: null, falsePositives: 1 });
  });

  it('the 11 thresholds are MATLAB 0:0.1:1 (recall exactly 0.3 does not reach t = 0.3)', () => {
    // 10 boxes, 3 found at precision 1: recall tops out at 3/10.
    const boxes = Array.from({ length: 10 }, (_, i) => [i * 50, 0, i * 50 + 40, 40]);
    const dets = [boxes.slice(0, 3).map((b, i) => on(b, 1, 0.9 - i * 0.1))];
    const result = evaluateDetections(
      dets,
      [
        gt(
          boxes,
          boxes.map(() => 1),
        ),
      ],
      {
        classNames: NAMES,
      },
    );
    expect(result.classes[0]!.recall[2]).toBe(3 / 10);
    expect(result.classes[0]!.ap).toBeCloseTo(3 / 11, 15);
  });

  it('pixelInclusive IoU adds one pixel to widths and heights; continuous (default) does not', () => {
    // Inclusive pixel indices: a 10x10 box vs its top half 10x5: 50/100 = 0.5 (a match, >=).
    // The same numbers as edges: 9x9 vs 9x4: 36/81 = 0.44 (a miss).
    const dets = [[det(0, 0, 9, 4, 1, 0.9)]];
    const gts = [gt([[0, 0, 9, 9]], [1])];
    expect(
      evaluateDetections(dets, gts, { classNames: NAMES, iou: 'pixelInclusive' }).classes[0]!.ap,
    ).toBeCloseTo(1, 14);
    expect(evaluateDetections(dets, gts, { classNames: NAMES }).classes[0]!.ap).toBe(0);
    // Touching corners share one pixel as inclusive indices, nothing as edges.
    const touching = [[det(1, 1, 2, 2, 1, 0.9)]];
    const tiny = [gt([[0, 0, 1, 1]], [1])];
    expect(
      evaluateDetections(touching, tiny, {
        classNames: NAMES,
        iouThreshold: 1 / 7,
        iou: 'pixelInclusive',
      }).classes[0]!.ap,
    ).toBeCloseTo(1, 14);
    expect(
      evaluateDetections(touching, tiny, { classNames: NAMES, iouThreshold: 1 / 7 }).classes[0]!.ap,
    ).toBe(0);
  });

  it('continuous IoU on @ssd/voc edge boxes equals the devkit formula on the XML corners', () => {
    // XML (1-based inclusive) gt 1,1,10,10 and a results-file detection 1,1,10,5;
    // @ssd/voc's edges are xmin-1, ymin-1, xmax, ymax.
    const xml = evaluateDetections([[det(1, 1, 10, 5, 1, 0.9)]], [gt([[1, 1, 10, 10]], [1])], {
      classNames: NAMES,
      iou: 'pixelInclusive',
    });
    const edges = evaluateDetections([[det(0, 0, 10, 5, 1, 0.9)]], [gt([[0, 0, 10, 10]], [1])], {
      classNames: NAMES,
    });
    expect(xml.classes[0]!.ap).toBeCloseTo(1, 14); // IoU exactly 0.5 both ways
    expect(edges.classes[0]!.ap).toBe(xml.classes[0]!.ap);
  });

  it('the IoU threshold is inclusive and configurable', () => {
    const dets = [[det(0, 0, 10, 5, 1, 0.9)]];
    const gts = [gt([[0, 0, 10, 10]], [1])]; // IoU exactly 0.5
    expect(evaluateDetections(dets, gts, { classNames: NAMES }).classes[0]!.ap).toBeCloseTo(1, 14);
    expect(
      evaluateDetections(dets, gts, { classNames: NAMES, iouThreshold: 0.5 + 1e-9 }).classes[0]!.ap,
    ).toBe(0);
  });
});

describe('DetectionEvaluator (streaming)', () => {
  const images = [
    { id: 'a', dets: [on(A, 1, 0.9), far(1, 0.8), on(B, 2, 0.3)], truth: gt([A, B], [1, 2]) },
    { id: 'b', dets: [on(B, 1, 0.6), on(A, 2, 0.7)], truth: gt([B, A], [1, 1], [0, 1]) },
    { id: 'c', dets: [far(3, 0.2)], truth: gt([A], [3]) },
  ];

  it('gives the one-shot result, and compute does not consume what was added', () => {
    const evaluator = new DetectionEvaluator({ classNames: NAMES });
    for (const image of images) evaluator.add(image.id, image.dets, image.truth);
    const oneShot = evaluateDetections(
      images.map((i) => i.dets),
      images.map((i) => i.truth),
      { classNames: NAMES },
    );
    expect(evaluator.compute()).toEqual(oneShot);
    expect(evaluator.compute()).toEqual(oneShot);
    expect(evaluator.numImages).toBe(3);
  });

  it('re-computes with another method without re-adding', () => {
    const evaluator = new DetectionEvaluator({ classNames: NAMES });
    for (const image of images) evaluator.add(image.id, image.dets, image.truth);
    const voc12 = evaluator.compute({ method: 'voc12' });
    expect(voc12.method).toBe('voc12');
    expect(voc12).toEqual(
      evaluateDetections(
        images.map((i) => i.dets),
        images.map((i) => i.truth),
        { classNames: NAMES, method: 'voc12' },
      ),
    );
  });

  it('copies its input: mutating it afterwards changes nothing', () => {
    const evaluator = new DetectionEvaluator({ classNames: NAMES });
    const truth = gt([A], [1]);
    const dets = [on(A, 1, 0.9)];
    evaluator.add('x', dets, truth);
    (truth.boxes as Float32Array).fill(0);
    dets[0]!.box.xMin = 1000;
    expect(evaluator.compute().classes[0]!.ap).toBeCloseTo(1, 14);
  });

  it('reset forgets every image', () => {
    const evaluator = new DetectionEvaluator({ classNames: NAMES });
    evaluator.add('x', [on(A, 1, 0.9)], gt([A], [1]));
    evaluator.reset();
    expect(evaluator.numImages).toBe(0);
    evaluator.add('x', [], gt([A], [1]));
    expect(evaluator.compute().classes[0]!.ap).toBe(0);
  });

  it('accepts a difficult-less ground truth (all boxes count)', () => {
    const evaluator = new DetectionEvaluator({ classNames: NAMES });
    evaluator.add('x', [on(A, 1, 0.9)], { boxes: A, labels: [1] });
    expect(evaluator.compute().classes[0]).toMatchObject({
      ap: expect.closeTo(1, 14),
      numGroundTruth: 1,
    });
  });
});

describe('bad input', () => {
  const add = (dets: EvaluationDetection[], truth: EvaluationGroundTruth, id = 'img7') => {
    const evaluator = new DetectionEvaluator({ classNames: NAMES });
    evaluator.add(id, dets, truth);
    return evaluator;
  };

  it.each([
    [
      [det(0, 0, 1, 1, 0, 0.5)],
      'image "img7": detections[0].classId: expected an integer class id in 1..3, got 0',
    ],
    [
      [det(0, 0, 1, 1, 4, 0.5)],
      'detections[0].classId: expected an integer class id in 1..3, got 4',
    ],
    [[det(0, 0, 1, 1, 1.5, 0.5)], 'got 1.5'],
    [[det(0, 0, 1, 1, 1, Number.NaN)], 'detections[0].score: expected a finite number, got NaN'],
    [
      [det(0, Number.NaN, 1, 1, 1, 0.5)],
      'detections[0].box yMin: expected a finite number, got NaN',
    ],
    [
      [det(5, 0, 1, 1, 1, 0.5)],
      'detections[0].box: expected xMin <= xMax and yMin <= yMax, got "[5, 0, 1, 1]"',
    ],
  ])('rejects a bad detection (%#)', (dets, message) => {
    expect(() => add(dets, gt([A], [1]))).toThrow(EvaluationInputError);
    expect(() => add(dets, gt([A], [1]))).toThrow(message);
  });

  it.each([
    [{ boxes: [0, 0, 1], labels: [] }, 'groundTruth.boxes: expected [G * 4] xyxy numbers'],
    [
      { boxes: A, labels: [1, 2] },
      'groundTruth.labels: expected [G] = 1 labels, got Array of length 2',
    ],
    [{ boxes: A, labels: [1], difficult: [] }, 'groundTruth.difficult: expected [G] = 1 flags'],
    [
      { boxes: A, labels: [0] },
      'groundTruth.labels[0]: expected an integer class id in 1..3, got 0',
    ],
    [{ boxes: [0, 0, Number.POSITIVE_INFINITY, 1], labels: [1] }, 'xMax: expected a finite number'],
    [{ boxes: [0, 9, 1, 1], labels: [1] }, 'groundTruth.boxes[0..3]: expected xMin <= xMax'],
  ])('rejects a bad ground truth (%#)', (truth, message) => {
    expect(() => add([], truth)).toThrow(message);
  });

  it('rejects a repeated image id and adds nothing from a rejected image', () => {
    const evaluator = new DetectionEvaluator({ classNames: NAMES });
    evaluator.add('a', [], gt([A], [1]));
    expect(() => evaluator.add('a', [], gt([A], [1]))).toThrow(
      'image "a": imageId: expected an image not added before, got "a"',
    );
    expect(() => evaluator.add('b', [det(0, 0, 1, 1, 9, 0.5)], gt([A], [1]))).toThrow(
      EvaluationInputError,
    );
    expect(evaluator.numImages).toBe(1);
    evaluator.add('b', [], gt([], [])); // 'b' was not taken by the failed call
    expect(evaluator.compute().classes[0]!.numGroundTruth).toBe(1);
  });

  it.each([
    [{ classNames: [] }, 'classNames: expected a non-empty array'],
    [{ classNames: NAMES, iouThreshold: 0 }, 'iouThreshold: expected a number in (0, 1], got 0'],
    [{ classNames: NAMES, method: 'coco' }, "method: expected 'voc07' or 'voc12', got \"coco\""],
    [{ classNames: NAMES, iou: 'devkit' }, "iou: expected 'continuous' or 'pixelInclusive'"],
    [
      { classNames: NAMES, coco: { maxDetections: 0 } },
      'coco.maxDetections: expected a positive integer',
    ],
  ])('rejects bad options (%#)', (options, message) => {
    expect(() => new DetectionEvaluator(options as never)).toThrow(EvaluationOptionError);
    expect(() => new DetectionEvaluator(options as never)).toThrow(message);
  });

  it('names an image by its Sample id in the one-shot form', () => {
    const sample = { id: '000042', ...gt([A], [1]) };
    expect(() =>
      evaluateDetections([[det(0, 0, 1, 1, 7, 0.5)]], [sample], { classNames: NAMES }),
    ).toThrow('image "000042": detections[0].classId');
    expect(() =>
      evaluateDetections([[det(0, 0, 1, 1, 7, 0.5)]], [gt([A], [1])], { classNames: NAMES }),
    ).toThrow('image "0": detections[0].classId');
  });

  it('rejects detections and ground truths of different lengths', () => {
    expect(() => evaluateDetections([[], []], [gt([], [])], { classNames: NAMES })).toThrow(
      'detections: expected one list per image, as many as groundTruths (1)',
    );
  });
});
