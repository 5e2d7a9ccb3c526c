import * as fs from 'node:fs/promises';
import { MAX_WEIGHT_BYTES } from './fs-handler';
import {
  MAX_SAFETENSORS_HEADER_BYTES,
  WeightImportError,
  parseSafetensors,
  type SafetensorsEntry,
} from './weights';

/** Reads and parses a `.safetensors` file in Node, refusing absurd sizes before reading. */
export async function readSafetensorsFile(
  file: string,
  options: { maxHeaderBytes?: number } = {},
): Promise<Map<string, SafetensorsEntry>> {
  const stat = await fs.stat(file).catch(() => {
    throw new WeightImportError(file, 'file', 'not found');
  });
  if (stat.size > MAX_WEIGHT_BYTES + MAX_SAFETENSORS_HEADER_BYTES) {
    throw new WeightImportError(
      file,
      'file',
      `${stat.size} bytes is larger than any SSD checkpoint`,
    );
  }
  const bytes = await fs.readFile(file);
  return parseSafetensors(new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength), {
    source: file,
    ...options,
  });
}
