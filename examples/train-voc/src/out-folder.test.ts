import { promises as fs } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { UsageError } from './flags';
import { checkOutFolder, freeFolder, makeOutFolder } from './out-folder';

describe('output folders', () => {
  it('refuses a file, or a path under a file; accepts new and existing folders', async () => {
    const dir = await fs.mkdtemp(path.join(tmpdir(), 'out-folder-'));
    const file = path.join(dir, 'f');
    await fs.writeFile(file, 'x');
    await expect(checkOutFolder(file)).rejects.toThrow(UsageError);
    await expect(checkOutFolder(file)).rejects.toThrow(/--out .*f: is a file/);
    await expect(checkOutFolder(path.join(file, 'run'))).rejects.toThrow(/is a file, so no folder/);
    await expect(checkOutFolder(dir)).resolves.toBeUndefined();
    await expect(checkOutFolder(path.join(dir, 'new', 'run'))).resolves.toBeUndefined();
    // makeOutFolder returns the topmost folder it made.
    expect(await makeOutFolder(path.join(dir, 'a', 'b'))).toBe(path.join(dir, 'a'));
    expect(await makeOutFolder(path.join(dir, 'a', 'b'))).toBeUndefined();
    await fs.rm(dir, { recursive: true });
  });

  it('numbers a folder that holds earlier results', async () => {
    const dir = await fs.mkdtemp(path.join(tmpdir(), 'out-folder-'));
    const base = path.join(dir, 'detections');
    expect(await freeFolder(base)).toBe(base);
    await fs.mkdir(base);
    expect(await freeFolder(base)).toBe(base); // empty: free
    await fs.writeFile(path.join(base, 'detections.json'), '[]');
    expect(await freeFolder(base)).toBe(`${base}-2`);
    await fs.writeFile(`${base}-2`, 'a file');
    expect(await freeFolder(base)).toBe(`${base}-3`);
    await fs.rm(dir, { recursive: true });
  });
});
