#!/usr/bin/env node
// Usage: make-shapes-voc --out data/shapes [--count 1000] [--seed 1] [--test-fraction 0.2]
//        [--val-fraction 0.25] [--quality 90] [--workers N] [--concurrency N]
import { parseArgs } from 'node:util';
import { SHAPES_DEFAULTS } from './index.mjs';
import { makeShapesVoc } from './node.mjs';

const { values } = parseArgs({
  options: {
    out: { type: 'string', default: 'data/shapes' },
    count: { type: 'string', default: String(SHAPES_DEFAULTS.count) },
    seed: { type: 'string', default: String(SHAPES_DEFAULTS.seed) },
    'test-fraction': { type: 'string', default: String(SHAPES_DEFAULTS.testFraction) },
    'val-fraction': { type: 'string', default: String(SHAPES_DEFAULTS.valFraction) },
    quality: { type: 'string', default: String(SHAPES_DEFAULTS.quality) },
    workers: { type: 'string' },
    concurrency: { type: 'string' },
    help: { type: 'boolean', default: false },
  },
});
if (values.help) {
  console.log(
    'make-shapes-voc --out DIR [--count 1000] [--seed 1] [--test-fraction 0.2] [--val-fraction 0.25] [--quality 90] [--workers N] [--concurrency N]',
  );
  process.exit(0);
}
const result = await makeShapesVoc({
  outDir: values.out,
  count: Number(values.count),
  seed: Number(values.seed),
  testFraction: Number(values['test-fraction']),
  valFraction: Number(values['val-fraction']),
  quality: Number(values.quality),
  ...(values.workers ? { workers: Number(values.workers) } : {}),
  ...(values.concurrency ? { concurrency: Number(values.concurrency) } : {}),
});
console.log(
  `make-shapes-voc: ${result.images} images, ${result.objects} objects ` +
    `(${result.truncated} truncated, ${result.difficult} difficult) in ${result.dir}; ` +
    `train ${result.splits.train} / val ${result.splits.val} / test ${result.splits.test}; ` +
    `${(result.milliseconds / 1000).toFixed(1)} s`,
);
