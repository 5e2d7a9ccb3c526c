import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { FLAGS, UsageError, helpText, parseCommandLine, recipeDefaults } from './flags';
import {
  MIN_INPUT_SIZE,
  SHAPES_RECIPE,
  SSD300_RECIPE,
  configWarnings,
  parseSplit,
  resolveTrainConfig,
  scaledSchedule,
} from './config';
import { EVAL_BATCH_SIZE } from './recipes';

describe('parseCommandLine', () => {
  it('parses every kind of flag', () => {
    const p = parseCommandLine([
      'train',
      '--data',
      '/d/VOCdevkit',
      '--train',
      '2007-trainval,2012-trainval',
      '--lr',
      '0.002',
      '--batch-size',
      '8',
      '--lr-steps',
      '10,20',
      '--backend',
      'wasm',
    ]);
    expect(p.command).toBe('train');
    expect(p.flags).toEqual({
      data: '/d/VOCdevkit',
      train: ['2007-trainval', '2012-trainval'],
      lr: 0.002,
      'batch-size': 8,
      'lr-steps': [10, 20],
      backend: 'wasm',
    });
  });

  it('rejects bad values, unknown flags and commands with the flag named', () => {
    expect(() => parseCommandLine(['train', '--lr', 'fast'])).toThrow(
      "--lr: expected a number, got 'fast'",
    );
    expect(() => parseCommandLine(['train', '--batch-size', '2.5'])).toThrow(/--batch-size/);
    expect(() => parseCommandLine(['train', '--backend', 'gpu'])).toThrow(
      /--backend: expected one of auto, tensorflow, webgpu, wasm, cpu/,
    );
    expect(() => parseCommandLine(['train', '--bogus', '1'])).toThrow(UsageError);
    expect(() => parseCommandLine(['fly'])).toThrow(/unknown command 'fly'/);
    expect(() => parseCommandLine(['train', 'stray'])).toThrow(/unexpected argument 'stray'/);
  });

  it('gives help, and detect takes positionals', () => {
    expect(parseCommandLine([]).command).toBe('help');
    expect(parseCommandLine(['train', '--help']).command).toBe('help');
    const d = parseCommandLine(['detect', '--checkpoint', 'runs/x', 'a.jpg', 'dir']);
    expect(d.positionals).toEqual(['a.jpg', 'dir']);
  });

  it('documents every flag with its default', () => {
    const text = helpText();
    for (const f of FLAGS) {
      expect(text).toContain(`--${f.name}`);
      if (f.name !== 'help') expect(f.defaultText.length + (f.recipe ? 1 : 0)).toBeGreaterThan(0);
    }
    expect(text).toContain('(default: 0.0005)');
    expect(text).toContain('80000,100000');
  });

  it('prints every preset’s real default, no "see README"', () => {
    const text = helpText('train');
    expect(text).not.toMatch(/see README/);
    expect(text).toContain('(default: ssd300, ssd512: 0.001; shapes: 0.004)');
    expect(text).toContain('(default: ssd300, ssd512: none; shapes: batch)');
    expect(text).toContain('(default: ssd300, ssd512: 80000,100000; shapes: 863,963)');
    expect(text).toContain('(default: ssd300, ssd512: 1; shapes: 1/58)');
    expect(text).toContain('(default: ssd300: 300; ssd512: 512; shapes: 128)');
    expect(recipeDefaults('batchSize')).toBe(
      `ssd300, ssd512: ${SSD300_RECIPE.batchSize}; shapes: ${SHAPES_RECIPE.batchSize}`,
    );
  });

  it('lists for each command only the flags it reads, with its own defaults', () => {
    const flagsOf = (command: 'train' | 'evaluate' | 'detect') =>
      [...helpText(command).matchAll(/^ {2}--([a-z-]+)/gm)].map((m) => m[1]);
    expect(flagsOf('evaluate')).not.toContain('seed');
    expect(flagsOf('detect')).not.toContain('seed');
    expect(flagsOf('detect')).not.toContain('batch-size');
    expect(flagsOf('detect')).toContain('overwrite');
    expect(() => parseCommandLine(['detect', '--seed', '3'])).toThrow(UsageError);
    expect(() => parseCommandLine(['detect', '--batch-size', '3'])).toThrow(UsageError);
    // evaluate's documented batch size is the one the code uses.
    const evaluateHelp = helpText('evaluate');
    const batch = /--batch-size <value>\n.*\(default: (\d+)\)/.exec(evaluateHelp);
    expect(Number(batch?.[1])).toBe(EVAL_BATCH_SIZE);
  });

  it('checks number flags against their minimum when parsing, for every command', () => {
    expect(() => parseCommandLine(['evaluate', '--batch-size', '0'])).toThrow(
      '--batch-size: must be ≥ 1, got 0',
    );
    expect(() => parseCommandLine(['train', '--iterations', '0'])).toThrow(/--iterations/);
    expect(() => parseCommandLine(['train', '--workers', '0'])).toThrow(/--workers/);
  });
});

describe('iteration-based defaults', () => {
  it('scale with --iterations when not given, and stay as given otherwise', () => {
    const short = resolveTrainConfig(
      parseCommandLine(['train', '--preset', 'shapes', '--iterations', '80']).flags,
    );
    // 863 and 963 of 1000 → 69 and 77 of 80; warm-up 19 → 2 (1.52 rounded); checkpoints every 8.
    expect(short.lrSteps).toEqual([69, 77]);
    expect(short.warmup).toBe(2);
    expect(short.checkpointEvery).toBe(8);
    expect(short.evalEvery).toBe(0);
    expect(configWarnings(short)).toEqual([]);
    const given = resolveTrainConfig(
      parseCommandLine(['train', '--iterations', '80', '--lr-steps', '100', '--warmup', '0']).flags,
    );
    expect(given.lrSteps).toEqual([100]);
    expect(given.warmup).toBe(0);
    expect(configWarnings(given)).toEqual([
      'warning: --lr-steps 100 is beyond --iterations 80: the learning rate never drops there',
    ]);
    // Without --iterations the recipe is unchanged.
    expect(resolveTrainConfig(parseCommandLine(['train']).flags).lrSteps).toEqual(
      SHAPES_RECIPE.lrSteps,
    );
    expect(scaledSchedule(SSD300_RECIPE, 120_000)).toEqual({
      lrSteps: SSD300_RECIPE.lrSteps,
      warmup: 0,
      checkpointEvery: 5000,
      evalEvery: 10_000,
    });
    // Rounding never gives repeated steps.
    expect(scaledSchedule(SHAPES_RECIPE, 3).lrSteps).toEqual([3]);
  });
});

describe('--input-size', () => {
  it('is refused below what the preset’s network can be built at, with the limit named', () => {
    expect(() =>
      resolveTrainConfig(parseCommandLine(['train', '--input-size', '8']).flags),
    ).toThrow('--input-size 8: the shapes network needs an input of at least 32 px');
    for (const [preset, min] of Object.entries(MIN_INPUT_SIZE)) {
      const at = (size: number) =>
        resolveTrainConfig(
          parseCommandLine([
            'train',
            '--preset',
            preset,
            '--input-size',
            String(size),
            '--data',
            '/d',
            '--train',
            'a-b',
            '--test',
            'a-c',
          ]).flags,
        );
      expect(at(min).inputSize).toBe(min);
      expect(() => at(min - 1)).toThrow(`--input-size ${min - 1}`);
    }
  });
});

describe('resolveTrainConfig', () => {
  it('uses the paper’s recipe with --data, and the shapes demo without', () => {
    const voc = resolveTrainConfig(parseCommandLine(['train', '--data', '/d']).flags);
    expect(voc.preset).toBe('ssd300');
    expect(voc.lr).toBe(SSD300_RECIPE.lr);
    expect(voc.batchSize).toBe(32);
    expect(voc.iterations).toBe(120_000);
    expect(voc.lrSteps).toEqual([80_000, 100_000]);
    expect(voc.momentum).toBe(0.9);
    expect(voc.weightDecay).toBe(5e-4);
    expect(voc.optimizer).toBe('sgd');
    const shapes = resolveTrainConfig(
      parseCommandLine(['train']).flags,
      new Date(2026, 0, 2, 3, 4, 5),
    );
    expect(shapes.preset).toBe('shapes');
    expect(shapes.data).toBeNull();
    expect(shapes.inputSize).toBe(SHAPES_RECIPE.inputSize);
    expect(shapes.out).toBe(path.resolve('runs/shapes-20260102-030405'));
  });

  it('lets flags override the recipe and validates them', () => {
    const c = resolveTrainConfig(
      parseCommandLine(['train', '--optimizer', 'sgd', '--iterations', '40', '--lr-steps', ''])
        .flags,
    );
    expect(c.optimizer).toBe('sgd');
    expect(c.iterations).toBe(40);
    expect(c.lrSteps).toEqual([]);
    expect(() => resolveTrainConfig(parseCommandLine(['train', '--momentum', '1']).flags)).toThrow(
      /--momentum/,
    );
    expect(() =>
      resolveTrainConfig(parseCommandLine(['train', '--lr-steps', '20,10']).flags),
    ).toThrow(/--lr-steps/);
    // A cosine needs room after the warm-up (its length would be ≤ 0: NaN rates).
    const cosine = (...extra: string[]) =>
      resolveTrainConfig(parseCommandLine(['train', '--lr-schedule', 'cosine', ...extra]).flags);
    expect(() => cosine('--iterations', '30', '--warmup', '30')).toThrow(
      '--lr-schedule cosine: --iterations (30) must be larger than --warmup (30)',
    );
    expect(cosine('--iterations', '31', '--warmup', '30').lrSchedule).toBe('cosine');
  });

  it('--normalization: batch for the shapes demo, none for the paper; batch only from scratch', () => {
    const train = (...extra: string[]) =>
      resolveTrainConfig(parseCommandLine(['train', ...extra]).flags);
    expect(train().normalization).toBe('batch'); // the shapes recipe
    expect(train('--data', '/tmp/VOCdevkit').normalization).toBe('none'); // the paper's
    expect(train('--normalization', 'none').normalization).toBe('none');
    expect(() => train('--normalization', 'group')).toThrow(/--normalization/);
    expect(() =>
      train('--normalization', 'batch', '--backbone-weights', 'vgg16.safetensors'),
    ).toThrow(/pretrained VGG16 weights have no batch norm/);
    // Pretrained weights choose the network that fits them unless told otherwise.
    expect(train('--backbone-weights', 'vgg16.safetensors').normalization).toBe('none');
    expect(train('--weights', 'ssd300.safetensors').normalization).toBe('none');
  });

  it('--cache: auto by default, full, off or a bound in pixels; anything else named', () => {
    const cache = (...extra: string[]) =>
      resolveTrainConfig(parseCommandLine(['train', ...extra]).flags).cache;
    expect(cache()).toBe('auto');
    expect(cache('--cache', 'full')).toBe('full');
    expect(cache('--cache', 'off')).toBe('off');
    expect(cache('--cache', '160')).toBe(160);
    for (const bad of ['0', '1.5', 'big', '']) {
      expect(() => cache('--cache', bad)).toThrow(
        `--cache: expected auto, full, off or a positive integer (pixels a side), got '${bad}'`,
      );
    }
  });

  it('parses split names', () => {
    expect(parseSplit('2007-trainval')).toEqual({ year: '2007', split: 'trainval' });
    expect(() => parseSplit('2007')).toThrow(/expected <year>-<split>/);
  });
});
