import { AnnotationError, ImageError } from '@ssd/voc';
import { WeightsFileError } from '@ssd/vgg-ssd';
import { describe, expect, it } from 'vitest';
import { CheckpointError } from './checkpoint';
import { describeFailure } from './failure';
import { UsageError } from './flags';
import { NonFiniteLossError } from './trainer';

describe('describeFailure', () => {
  it('reports typed input errors as one error line with advice, exit 2', () => {
    const unknown = describeFailure(
      new AnnotationError(
        'a/1.xml',
        'object[0].name',
        'cat',
        'unknown class (expected one of dog)',
      ),
    );
    expect(unknown).toMatchObject({ exitCode: 2, expected: true });
    expect(unknown.line).toMatch(/^error: a\/1\.xml: object\[0\]\.name "cat": unknown class/);
    expect(unknown.line).toContain('--classes');
    expect(unknown.line).toContain('--unknown-class skip');
    const image = describeFailure(new ImageError('x.txt', 'corrupt', 'unsupported\nformat'), {
      command: 'detect',
    });
    expect(image.line).toBe(
      'error: x.txt: corrupt: unsupported format — pass image files (JPEG, PNG, WebP, TIFF, GIF, AVIF) or folders holding them',
    );
    const weights = describeFailure(
      new WeightsFileError('m/model.json', 'weightsManifest', 'bad'),
      {
        flags: { model: 'm' },
      },
    );
    expect(weights.line).toContain('check --model');
    expect(describeFailure(new CheckpointError('c/state.json', 'truncated')).line).toMatch(
      /^error: c\/state\.json: truncated — the checkpoint/,
    );
    expect(describeFailure(new UsageError('--lr: must be > 0, got 0'))).toEqual({
      line: 'error: --lr: must be > 0, got 0',
      exitCode: 2,
      expected: true,
    });
  });

  it('names the path of a file-system error, exits 3 on divergence and 1 on a bug', () => {
    const enoent = Object.assign(new Error("ENOENT: no such file or directory, open '/x/y'"), {
      code: 'ENOENT',
      path: '/x/y',
    });
    expect(describeFailure(enoent)).toMatchObject({
      line: "error: /x/y: no such file or directory, open '/x/y'",
      exitCode: 2,
    });
    expect(describeFailure(new NonFiniteLossError(7, 5, ['a'])).exitCode).toBe(3);
    expect(describeFailure(new TypeError('x is undefined'))).toEqual({
      line: 'error: x is undefined',
      exitCode: 1,
      expected: false,
    });
  });
});
