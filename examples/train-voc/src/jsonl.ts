import { promises as fs } from 'node:fs';

/** Appends one JSON object per line to `file` (created when missing). */
export async function appendJsonl(file: string, record: Record<string, unknown>): Promise<void> {
  await fs.appendFile(file, `${JSON.stringify(record)}\n`);
}

/** Reads a JSON-lines file, skipping a torn last line left by a crash. */
export async function readJsonl<T = Record<string, unknown>>(file: string): Promise<T[]> {
  let text: string;
  try {
    text = await fs.readFile(file, 'utf8');
  } catch {
    return [];
  }
  const out: T[] = [];
  for (const line of text.split('\n')) {
    if (!line.trim()) continue;
    try {
      out.push(JSON.parse(line) as T);
    } catch {
      // A line torn by a crash mid-append; later lines are still used.
    }
  }
  return out;
}

/**
 * Keeps only records of `metrics.jsonl` up to `iteration` (used on resume, so
 * iterations after the checkpoint that a crashed run already logged are not
 * duplicated). Rewrites the file atomically.
 */
export async function truncateJsonlAfter(file: string, iteration: number): Promise<void> {
  const records = await readJsonl<{ iteration?: number }>(file);
  const kept = records.filter((r) => typeof r.iteration !== 'number' || r.iteration <= iteration);
  const tmp = `${file}.tmp-${process.pid}`;
  await fs.writeFile(tmp, kept.map((r) => `${JSON.stringify(r)}\n`).join(''));
  await fs.rename(tmp, file);
}
