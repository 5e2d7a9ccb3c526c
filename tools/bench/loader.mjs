// Loader throughput against the decode ceiling, in one run.
//
//   npm run build && node tools/bench/loader.mjs [--images 200] [--batch 32]
//
// Writes `--images` 500×375 shapes JPEGs (tools/make-shapes-voc) to a temp dir, then
// for 1 and 2 concurrent decodes measures
//   ceiling:  bare sharp decode + resize to 300×300 RGB of each image, and
//   pipeline: @ssd/loader over @ssd/voc with @ssd/augment's full SSD training
//             augmentation and @ssd/matcher's encodeTargets for SSD300 (8732 anchors),
//             typed-array batches (output: 'arrays'),
// and prints images/s side by side, with CPU ms per image (robust to other load on
// the machine). Goal: pipeline ≥ 70% of the ceiling.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { SSD300_VOC } from '@ssd/anchors';
import { ssdTrainAugmentation } from '@ssd/augment';
import { createLoader } from '@ssd/loader';
import { SHAPES_CLASSES } from '@ssd/make-shapes-voc';
import { makeShapesVoc } from '@ssd/make-shapes-voc/node';
import { createTargetEncoder } from '@ssd/matcher';
import { openVocDataset } from '@ssd/voc/node';
import sharp from 'sharp';

const { values } = parseArgs({
  options: {
    images: { type: 'string', default: '200' },
    batch: { type: 'string', default: '32' },
    rounds: { type: 'string', default: '2' },
  },
});
const count = Number(values.images);
const batchSize = Number(values.batch);
const rounds = Number(values.rounds);
const SIZE = 300;

const out = await mkdtemp(join(tmpdir(), 'ssd-bench-loader-'));
try {
  const made = await makeShapesVoc({ outDir: out, count, seed: 1, width: 500, height: 375 });
  const dataset = await openVocDataset({
    root: made.root,
    sets: made.sets,
    classes: SHAPES_CLASSES,
  });
  const paths = Array.from({ length: dataset.size }, (_, i) => dataset.imagePath(i));
  const encodeTargets = createTargetEncoder(SSD300_VOC);
  const augment = ssdTrainAugmentation({ size: SIZE });

  // Images/s of wall time, and CPU ms per image over all threads of this process
  // (libvips decode threads and the main thread): the second is robust to other load.
  function rates(images, start, cpu) {
    const used = process.cpuUsage(cpu);
    return {
      perSecond: images / ((performance.now() - start) / 1000),
      cpuMs: (used.user + used.system) / 1000 / images,
    };
  }

  async function ceiling(concurrency) {
    let next = 0;
    const worker = async () => {
      while (next < paths.length) {
        const path = paths[next++];
        await sharp(path).resize(SIZE, SIZE, { fit: 'fill' }).removeAlpha().raw().toBuffer();
      }
    };
    const start = performance.now();
    const cpu = process.cpuUsage();
    await Promise.all(Array.from({ length: concurrency }, worker));
    return rates(paths.length, start, cpu);
  }

  async function pipeline(concurrency, epoch) {
    const loader = createLoader(dataset, {
      batchSize,
      seed: 1,
      augment,
      encodeTargets,
      concurrency,
      prefetch: 2,
      output: 'arrays',
    });
    let images = 0;
    const start = performance.now();
    const cpu = process.cpuUsage();
    for await (const batch of loader.epoch(epoch)) images += batch.ids.length;
    return rates(images, start, cpu);
  }

  await ceiling(2); // warm-up: file cache, libvips, JIT
  await pipeline(2, 99);
  console.log(
    `loader benchmark: ${dataset.size} JPEGs 500×375 → ${SIZE}×${SIZE}, batch ${batchSize}, ` +
      `${encodeTargets.length === 2 ? '8732 anchors (SSD300)' : ''}; best of ${rounds} rounds; ` +
      `sharp ${sharp.versions.sharp}, libvips ${sharp.versions.vips}, sharp.concurrency() ${sharp.concurrency()}`,
  );
  console.log(
    'decodes in flight | ceiling: sharp decode+resize        | pipeline: decode+augment+encode     | ratio',
  );
  for (const concurrency of [1, 2]) {
    let c = { perSecond: 0, cpuMs: Infinity };
    let p = { perSecond: 0, cpuMs: Infinity };
    for (let r = 0; r < rounds; r++) {
      const cr = await ceiling(concurrency);
      const pr = await pipeline(concurrency, r);
      c = { perSecond: Math.max(c.perSecond, cr.perSecond), cpuMs: Math.min(c.cpuMs, cr.cpuMs) };
      p = { perSecond: Math.max(p.perSecond, pr.perSecond), cpuMs: Math.min(p.cpuMs, pr.cpuMs) };
    }
    const cell = (x) =>
      `${x.perSecond.toFixed(1).padStart(6)} img/s (${x.cpuMs.toFixed(1).padStart(5)} CPU ms/img)`;
    console.log(
      `${String(concurrency).padStart(17)} | ${cell(c)} | ${cell(p)} | ` +
        `${((100 * p.perSecond) / c.perSecond).toFixed(0).padStart(3)}% (by CPU time ${((100 * c.cpuMs) / p.cpuMs).toFixed(0)}%)`,
    );
  }
} finally {
  await rm(out, { recursive: true, force: true });
}
