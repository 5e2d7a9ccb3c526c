#!/usr/bin/env node
// Usage: npx nx run @ssd/metrics:build && node tools/bench/metrics.mjs [numImages] [detectionsPerImage]
//
// Times @ssd/metrics on a VOC2007-test-sized evaluation: 4952 images × 200 detections
// (what @ssd/detect keeps per image), ~2.4 ground-truth boxes per image over 20 classes
// with ~10% difficult, as in VOC2007 test. Data is generated from a fixed seed.
import { DetectionEvaluator } from '@ssd/metrics';
import { createRng } from '@ssd/random';

const numImages = Number(process.argv[2] ?? 4952);
const perImage = Number(process.argv[3] ?? 200);
const numClasses = 20;
const classNames = Array.from({ length: numClasses }, (_, i) => `class${i + 1}`);

const random = createRng(7); // seeded: no Math.random in this repository
const uniform = (lo, hi) => lo + (hi - lo) * random();

const images = [];
let numBoxes = 0;
for (let i = 0; i < numImages; i++) {
  const width = Math.round(uniform(300, 500));
  const height = Math.round(uniform(250, 500));
  const g = 1 + Math.floor(random() * 4); // 1..4, mean 2.5
  const boxes = new Float32Array(g * 4);
  const labels = new Int32Array(g);
  const difficult = new Uint8Array(g);
  for (let k = 0; k < g; k++) {
    const w = uniform(10, width / 2);
    const h = uniform(10, height / 2);
    const x = uniform(0, width - w);
    const y = uniform(0, height - h);
    boxes.set([Math.round(x), Math.round(y), Math.round(x + w), Math.round(y + h)], k * 4);
    labels[k] = 1 + Math.floor(random() * numClasses);
    difficult[k] = random() < 0.1 ? 1 : 0;
  }
  numBoxes += g;
  const detections = [];
  for (let d = 0; d < perImage; d++) {
    let box;
    let classId;
    let score;
    if (d < g * 5) {
      // near a ground-truth box, mostly the right class
      const k = d % g;
      const [x1, y1, x2, y2] = boxes.subarray(k * 4, k * 4 + 4);
      const s = 0.1 * (x2 - x1);
      box = {
        xMin: x1 + uniform(-s, s),
        yMin: y1 + uniform(-s, s),
        xMax: x2 + uniform(-s, s),
        yMax: y2 + uniform(-s, s),
      };
      if (box.xMax < box.xMin) box.xMax = box.xMin;
      if (box.yMax < box.yMin) box.yMax = box.yMin;
      classId = random() < 0.8 ? labels[k] : 1 + Math.floor(random() * numClasses);
      score = uniform(0.3, 1);
    } else {
      const w = uniform(5, width / 2);
      const h = uniform(5, height / 2);
      const x = uniform(0, width - w);
      const y = uniform(0, height - h);
      box = { xMin: x, yMin: y, xMax: x + w, yMax: y + h };
      classId = 1 + Math.floor(random() * numClasses);
      score = uniform(0.01, 0.5);
    }
    detections.push({ box, classId, score });
  }
  images.push({
    id: String(i).padStart(6, '0'),
    detections,
    groundTruth: { boxes, labels, difficult },
  });
}

// Wall time, and the CPU time this process got (what a loaded, shared machine inflates less).
const time = (fn) => {
  const start = process.hrtime.bigint();
  const cpu = process.cpuUsage();
  const value = fn();
  const used = process.cpuUsage(cpu);
  return {
    value,
    ms: Number(process.hrtime.bigint() - start) / 1e6,
    cpuMs: (used.user + used.system) / 1e3,
  };
};

// The same machine's speed on a fixed scalar loop, measured in this run: on a shared or
// loaded machine every time below scales with it, the ratios to it much less.
function calibrate() {
  const start = process.hrtime.bigint();
  let sum = 0;
  for (let i = 0; i < 1e8; i++) sum += i * 0.5;
  if (!(sum > 0)) throw new Error('unreachable');
  return Number(process.hrtime.bigint() - start) / 1e6;
}
const calibration = calibrate();

console.log(
  `@ssd/metrics: ${numImages} images × ${perImage} detections = ${numImages * perImage} detections, ` +
    `${numBoxes} ground-truth boxes, ${numClasses} classes (node ${process.version})`,
);
const evaluator = new DetectionEvaluator({ classNames });
const added = time(() => {
  for (const image of images) evaluator.add(image.id, image.detections, image.groundTruth);
});
const voc07 = time(() => evaluator.compute());
const voc12 = time(() => evaluator.compute({ method: 'voc12' }));
const pixelInclusive = time(() => evaluator.compute({ iou: 'pixelInclusive' }));
const coco = time(() => evaluator.compute({ coco: true }));
const rows = [
  ['add (validate + copy), all images', added, ''],
  ['compute voc07', voc07, `mAP ${voc07.value.map.toFixed(4)}`],
  ['compute voc12', voc12, `mAP ${voc12.value.map.toFixed(4)}`],
  [
    'compute voc07, pixelInclusive IoU',
    pixelInclusive,
    `mAP ${pixelInclusive.value.map.toFixed(4)}`,
  ],
  ['compute voc07 + COCO AP@[.5:.95]', coco, `COCO AP ${coco.value.coco.ap.toFixed(4)}`],
];
const base = added.ms + voc07.ms;
console.log(
  `${'phase'.padEnd(36)} ${'wall'.padStart(10)} ${'cpu'.padStart(10)}  ${'÷ total'.padStart(8)}  ${'÷ loop'.padStart(7)}`,
);
for (const [name, { ms, cpuMs }, note] of rows) {
  console.log(
    `${name.padEnd(36)} ${ms.toFixed(0).padStart(7)} ms ${cpuMs.toFixed(0).padStart(7)} ms  ` +
      `${(ms / base).toFixed(2).padStart(7)}×  ${(ms / calibration).toFixed(2).padStart(6)}×  ${note}`,
  );
}
console.log(
  `total for one VOC07 evaluation (add + compute): ${base.toFixed(0)} ms wall, ` +
    `${(added.cpuMs + voc07.cpuMs).toFixed(0)} ms cpu = ${(base / calibration).toFixed(2)}× ` +
    `the 1e8-iteration scalar loop (${calibration.toFixed(0)} ms in this run)`,
);
const memory = process.memoryUsage();
console.log(
  `heap used ${(memory.heapUsed / 2 ** 20).toFixed(0)} MiB (the 990k detection objects included)`,
);
