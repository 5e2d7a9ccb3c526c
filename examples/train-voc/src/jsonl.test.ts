import { promises as fs } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { appendJsonl, readJsonl, truncateJsonlAfter } from './jsonl';

describe('jsonl', () => {
  it('appends, reads past a torn line, and truncates after an iteration', async () => {
    const dir = await fs.mkdtemp(path.join(tmpdir(), 'jsonl-'));
    const file = path.join(dir, 'metrics.jsonl');
    for (let i = 1; i <= 4; i++) await appendJsonl(file, { iteration: i, loss: i / 2 });
    await fs.appendFile(file, '{"iteration": 5, "lo');
    expect((await readJsonl(file)).map((r) => r.iteration)).toEqual([1, 2, 3, 4]);
    await truncateJsonlAfter(file, 2);
    expect(await readJsonl(file)).toEqual([
      { iteration: 1, loss: 0.5 },
      { iteration: 2, loss: 1 },
    ]);
    expect(await readJsonl(path.join(dir, 'missing.jsonl'))).toEqual([]);
    await fs.rm(dir, { recursive: true });
  });
});
