/**
 * Golden test against tools/fixtures/voc_eval_reference.py, an independent numpy
 * transliteration of the devkit's VOCevaldet.m / VOCap.m and of pycocotools'
 * COCOeval, on a random but realistic case (400 images, ~5.5k detections with
 * difficult boxes, duplicates, score ties and classes without ground truth).
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { DetectionEvaluator, type ApMethod, type EvaluationDetection, type IouMode } from './index';

const TOLERANCE = 1e-6;

function fixture(name: string): Buffer {
  return readFileSync(fileURLToPath(new URL(`./fixtures/${name}`, import.meta.url)));
}
function float32(name: string): Float32Array {
  const bytes = fixture(name);
  return new Float32Array(bytes.buffer, bytes.byteOffset, bytes.byteLength / 4).slice();
}
function int32(name: string): Int32Array {
  const bytes = fixture(name);
  return new Int32Array(bytes.buffer, bytes.byteOffset, bytes.byteLength / 4).slice();
}

interface ExpectedClass {
  ap: number | null;
  numGroundTruth: number;
  numDetections: number;
  truePositives: number;
  falsePositives: number;
  precision?: number[];
  recall?: number[];
  scores?: number[];
}
interface Expected {
  numImages: number;
  numObjectClasses: number;
  numGroundTruthBoxes: number;
  numDetections: number;
  voc: {
    method: ApMethod;
    iou: IouMode;
    iouThreshold: number;
    map: number;
    classes: ExpectedClass[];
  }[];
  coco: ExpectedCoco;
  cocoMaxDetections2: ExpectedCoco;
}
interface ExpectedCoco {
  ap: number;
  ap50: number;
  ap75: number;
  classes: { ap: number | null; ap50: number | null; ap75: number | null }[];
}

const expected = JSON.parse(fixture('voc_eval_expected.json').toString('utf8')) as Expected;
const classNames = Array.from({ length: expected.numObjectClasses }, (_, i) => `class${i + 1}`);

/** The fixture's images, rebuilt as `add` arguments in image order. */
function images() {
  const gtMeta = int32('voc_eval_gt.i32'); // [G * 3]: image, label, difficult
  const gtBox = float32('voc_eval_gt.f32'); // [G * 4] xyxy
  const detMeta = int32('voc_eval_det.i32'); // [D * 2]: image, classId
  const detBoxScore = float32('voc_eval_det.f32'); // [D * 5]: xyxy, score
  expect(gtMeta.length / 3).toBe(expected.numGroundTruthBoxes);
  expect(detMeta.length / 2).toBe(expected.numDetections);
  const out = Array.from({ length: expected.numImages }, () => ({
    detections: [] as EvaluationDetection[],
    boxes: [] as number[],
    labels: [] as number[],
    difficult: [] as number[],
  }));
  for (let g = 0; g < gtMeta.length / 3; g++) {
    const image = out[gtMeta[g * 3]!]!;
    image.labels.push(gtMeta[g * 3 + 1]!);
    image.difficult.push(gtMeta[g * 3 + 2]!);
    image.boxes.push(...gtBox.subarray(g * 4, g * 4 + 4));
  }
  for (let d = 0; d < detMeta.length / 2; d++) {
    const v = detBoxScore.subarray(d * 5, d * 5 + 5);
    out[detMeta[d * 2]!]!.detections.push({
      box: { xMin: v[0]!, yMin: v[1]!, xMax: v[2]!, yMax: v[3]! },
      classId: detMeta[d * 2 + 1]!,
      score: v[4]!,
    });
  }
  return out.map((image, i) => ({
    id: `img${i}`,
    detections: image.detections,
    groundTruth: {
      boxes: new Float32Array(image.boxes),
      labels: new Int32Array(image.labels),
      difficult: new Uint8Array(image.difficult),
    },
  }));
}

function expectClose(actual: number | null, wanted: number | null, what: string): void {
  if (wanted === null) {
    expect(actual, what).toBeNull();
    return;
  }
  expect(actual, what).not.toBeNull();
  expect(Math.abs(actual! - wanted), `${what}: ${actual} vs ${wanted}`).toBeLessThanOrEqual(
    TOLERANCE,
  );
}

describe('golden: independent reference of the devkit and of pycocotools', () => {
  const evaluator = new DetectionEvaluator({ classNames, coco: true });
  for (const image of images()) evaluator.add(image.id, image.detections, image.groundTruth);

  it('covers the cases it claims to', () => {
    const [devkit] = expected.voc;
    const classes = devkit!.classes;
    expect(expected.numDetections).toBeGreaterThan(5000);
    expect(classes.filter((c) => c.ap === null).length).toBe(3); // 2 without gt, 1 only difficult
    expect(classes.some((c) => c.ap === null && c.numDetections > 0)).toBe(true);
    expect(classes.reduce((n, c) => n + c.falsePositives, 0)).toBeGreaterThan(1000);
  });

  for (const config of expected.voc) {
    it(`${config.method}, ${config.iou} IoU >= ${config.iouThreshold}: per-class AP, counts and mAP`, () => {
      const result = evaluator.compute({
        method: config.method,
        iou: config.iou,
        iouThreshold: config.iouThreshold,
      });
      expectClose(result.map, config.map, 'mAP');
      config.classes.forEach((wanted, k) => {
        const actual = result.classes[k]!;
        const what = `class ${k + 1}`;
        expectClose(actual.ap, wanted.ap, `${what} AP`);
        expect(
          {
            numGroundTruth: actual.numGroundTruth,
            numDetections: actual.numDetections,
            truePositives: actual.truePositives,
            falsePositives: actual.falsePositives,
          },
          what,
        ).toEqual({
          numGroundTruth: wanted.numGroundTruth,
          numDetections: wanted.numDetections,
          truePositives: wanted.truePositives,
          falsePositives: wanted.falsePositives,
        });
        if (wanted.precision) {
          expect(actual.precision.length, `${what} curve length`).toBe(wanted.precision.length);
          for (const [name, values] of [
            ['precision', actual.precision],
            ['recall', actual.recall],
            ['scores', actual.scores],
          ] as const) {
            const reference = wanted[name]!;
            let worst = 0;
            values.forEach((v, i) => (worst = Math.max(worst, Math.abs(v - reference[i]!))));
            expect(worst, `${what} ${name}`).toBeLessThanOrEqual(TOLERANCE);
          }
        }
      });
    });
  }

  it('continuous IoU on edge boxes (xMax + 1, yMax + 1) reproduces the devkit formula on pixel indices', () => {
    // What @ssd/voc does to VOC boxes, applied to the fixture's inclusive-index boxes.
    const edges = new DetectionEvaluator({ classNames });
    for (const image of images()) {
      const boxes = image.groundTruth.boxes.slice();
      for (let g = 0; g < boxes.length; g += 4) {
        boxes[g + 2]! += 1;
        boxes[g + 3]! += 1;
      }
      edges.add(
        image.id,
        image.detections.map((d) => ({
          ...d,
          box: { ...d.box, xMax: d.box.xMax + 1, yMax: d.box.yMax + 1 },
        })),
        { ...image.groundTruth, boxes: Float64Array.from(boxes) },
      );
    }
    for (const config of expected.voc.filter((c) => c.iou === 'pixelInclusive')) {
      const result = edges.compute({ method: config.method, iouThreshold: config.iouThreshold });
      expect(result.iou).toBe('continuous');
      expectClose(result.map, config.map, `${config.method} mAP`);
      config.classes.forEach((wanted, k) => {
        expectClose(result.classes[k]!.ap, wanted.ap, `${config.method} class ${k + 1} AP`);
        expect(result.classes[k]!.truePositives).toBe(wanted.truePositives);
      });
    }
  });

  it.each([
    ['maxDetections 100', 100, expected.coco],
    ['maxDetections 2', 2, expected.cocoMaxDetections2],
  ] as const)(
    'COCO-style AP@[0.5:0.95], AP50, AP75, overall and per class (%s)',
    (_, maxDetections, reference) => {
      const coco = evaluator.compute({ coco: { maxDetections } }).coco!;
      expect(coco.maxDetections).toBe(maxDetections);
      expectClose(coco.ap, reference.ap, 'AP');
      expectClose(coco.ap50, reference.ap50, 'AP50');
      expectClose(coco.ap75, reference.ap75, 'AP75');
      reference.classes.forEach((wanted, k) => {
        const actual = coco.classes[k]!;
        expectClose(actual.ap, wanted.ap, `class ${k + 1} AP`);
        expectClose(actual.ap50, wanted.ap50, `class ${k + 1} AP50`);
        expectClose(actual.ap75, wanted.ap75, `class ${k + 1} AP75`);
      });
    },
  );
});
