import { tmpdir } from 'node:os';
import { describe, expect, it } from 'vitest';
import { UsageError } from './flags';
import { openDetector } from './infer-commands';

describe('openDetector', () => {
  it('wants exactly one of --checkpoint and --model, and a model folder to hold model.json', async () => {
    await expect(openDetector({}, 'evaluate')).rejects.toThrow(UsageError);
    await expect(openDetector({}, 'evaluate')).rejects.toThrow(
      'evaluate: pass --checkpoint or --model (one of them)',
    );
    await expect(openDetector({ checkpoint: 'a', model: 'b' }, 'detect')).rejects.toThrow(
      'detect: pass --checkpoint or --model',
    );
    await expect(openDetector({ model: tmpdir() }, 'detect')).rejects.toThrow(
      /--model .*: no model\.json in/,
    );
  });
});
