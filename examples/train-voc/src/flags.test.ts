import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { FLAGS, UsageError, helpText, parseCommandLine } from './flags';
import { SHAPES_RECIPE, SSD300_RECIPE, parseSplit, resolveTrainConfig } from './config';

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
      /--backend: expected one of auto, tensorflow, wasm, cpu/,
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
      if (f.name !== 'help') expect(f.defaultText.length).toBeGreaterThan(0);
    }
    expect(text).toContain('(default: 0.0005)');
    expect(text).toContain('80000,100000');
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

  it('parses split names', () => {
    expect(parseSplit('2007-trainval')).toEqual({ year: '2007', split: 'trainval' });
    expect(() => parseSplit('2007')).toThrow(/expected <year>-<split>/);
  });
});
