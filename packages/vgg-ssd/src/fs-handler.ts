import type * as tf from '@tensorflow/tfjs-core';
import * as fs from 'node:fs/promises';
import * as path from 'node:path';
import * as crypto from 'node:crypto';
import { WeightsFileError } from './io';

/** model.json larger than this is refused before it is read (the SSD512 topology is ~60 kB). */
export const MAX_MODEL_JSON_BYTES = 64 * 1024 * 1024;
/** Weights larger than this in total are refused before any allocation (SSD512/COCO is ~110 MB). */
export const MAX_WEIGHT_BYTES = 2 * 1024 * 1024 * 1024;

const MODEL_JSON = 'model.json';

let tempCounter = 0;

/** Writes `chunks` to `file` atomically: a temp name beside it, fsync, rename, fsync the directory. */
async function writeAtomic(file: string, chunks: readonly Uint8Array[]): Promise<void> {
  const temp = path.join(
    path.dirname(file),
    `.${path.basename(file)}.tmp-${process.pid}-${Date.now()}-${tempCounter++}`,
  );
  const handle = await fs.open(temp, 'wx');
  try {
    for (const chunk of chunks) await handle.write(chunk);
    await handle.sync();
  } catch (error) {
    await handle.close();
    await fs.rm(temp, { force: true });
    throw error;
  }
  await handle.close();
  try {
    await fs.rename(temp, file);
  } catch (error) {
    await fs.rm(temp, { force: true });
    throw error;
  }
  await syncDirectory(path.dirname(file));
}

async function syncDirectory(dir: string): Promise<void> {
  let handle: fs.FileHandle | undefined;
  try {
    handle = await fs.open(dir, 'r');
    await handle.sync();
  } catch {
    // Directories cannot be opened or fsynced on some platforms (Windows); the rename stands.
  } finally {
    await handle?.close();
  }
}

function bytesPerElement(spec: tf.io.WeightsManifestEntry): number {
  const quantized = spec.quantization?.dtype;
  if (quantized === 'uint8') return 1;
  if (quantized === 'uint16' || quantized === 'float16') return 2;
  if (quantized !== undefined) return NaN;
  return { float32: 4, int32: 4, bool: 1 }[spec.dtype as string] ?? NaN;
}

/** Bytes the weights of `specs` take, validating every shape and dtype on the way. */
function expectedWeightBytes(file: string, specs: readonly tf.io.WeightsManifestEntry[]): number {
  let total = 0;
  specs.forEach((spec, i) => {
    const where = `weightsManifest weight ${i} (${String(spec?.name)})`;
    if (typeof spec?.name !== 'string') {
      throw new WeightsFileError(file, where, 'expected a name');
    }
    if (!Array.isArray(spec.shape) || !spec.shape.every((d) => Number.isSafeInteger(d) && d >= 0)) {
      throw new WeightsFileError(
        file,
        `${where}.shape`,
        `expected non-negative integers, got ${JSON.stringify(spec.shape)}`,
      );
    }
    const size = bytesPerElement(spec);
    if (!Number.isFinite(size)) {
      throw new WeightsFileError(
        file,
        `${where}.dtype`,
        `unsupported dtype ${JSON.stringify(spec.quantization?.dtype ?? spec.dtype)}`,
      );
    }
    total += spec.shape.reduce((a, b) => a * b, 1) * size;
    if (!(total <= MAX_WEIGHT_BYTES)) {
      throw new WeightsFileError(
        file,
        `${where}.shape`,
        `the weights would exceed ${MAX_WEIGHT_BYTES} bytes`,
      );
    }
  });
  return total;
}

/**
 * A tfjs `IOHandler` that saves a model to a directory and loads it back, in Node,
 * without tfjs-node: `model.json` (topology + manifest) and one weights file
 * `weights.<sha256 prefix>.bin`. Saving is atomic: the weights and then
 * `model.json` are each written to a temp name, fsynced and renamed, so a reader
 * sees the old model or the new one, never a mix; weights files no longer named
 * by `model.json` are removed afterwards. Loading validates the manifest against
 * the file sizes before allocating anything.
 *
 * `model.save(fileSystemHandler(dir))`, `tf.loadLayersModel(fileSystemHandler(dir))`.
 */
export function fileSystemHandler(dir: string): tf.io.IOHandler {
  return {
    async save(artifacts: tf.io.ModelArtifacts): Promise<tf.io.SaveResult> {
      if (artifacts.modelTopology instanceof ArrayBuffer) {
        throw new WeightsFileError(
          dir,
          'modelTopology',
          'only JSON (layers-model) topologies are saved',
        );
      }
      await fs.mkdir(dir, { recursive: true });
      const buffers =
        artifacts.weightData === undefined
          ? []
          : Array.isArray(artifacts.weightData)
            ? artifacts.weightData
            : [artifacts.weightData];
      const chunks = buffers.map((b) => new Uint8Array(b));
      const hash = crypto.createHash('sha256');
      for (const chunk of chunks) hash.update(chunk);
      const weightsName = `weights.${hash.digest('hex').slice(0, 16)}.bin`;
      await writeAtomic(path.join(dir, weightsName), chunks);

      const modelJson = {
        format: artifacts.format ?? 'layers-model',
        generatedBy: artifacts.generatedBy,
        convertedBy: artifacts.convertedBy ?? null,
        modelTopology: artifacts.modelTopology,
        ...(artifacts.trainingConfig ? { trainingConfig: artifacts.trainingConfig } : {}),
        ...(artifacts.userDefinedMetadata
          ? { userDefinedMetadata: artifacts.userDefinedMetadata }
          : {}),
        weightsManifest: [{ paths: [weightsName], weights: artifacts.weightSpecs ?? [] }],
      };
      const json = new TextEncoder().encode(JSON.stringify(modelJson));
      await writeAtomic(path.join(dir, MODEL_JSON), [json]);

      for (const entry of await fs.readdir(dir)) {
        if (/^weights\.[0-9a-f]{16}\.bin$/.test(entry) && entry !== weightsName) {
          await fs.rm(path.join(dir, entry), { force: true });
        }
      }
      const weightDataBytes = chunks.reduce((sum, c) => sum + c.byteLength, 0);
      return {
        modelArtifactsInfo: {
          dateSaved: new Date(),
          modelTopologyType: 'JSON',
          modelTopologyBytes: json.byteLength,
          weightSpecsBytes: JSON.stringify(artifacts.weightSpecs ?? []).length,
          weightDataBytes,
        },
      };
    },

    async load(): Promise<tf.io.ModelArtifacts> {
      const jsonPath = path.join(dir, MODEL_JSON);
      const stat = await fs.stat(jsonPath).catch(() => {
        throw new WeightsFileError(jsonPath, 'file', 'not found');
      });
      if (stat.size > MAX_MODEL_JSON_BYTES) {
        throw new WeightsFileError(
          jsonPath,
          'size',
          `${stat.size} bytes exceeds the limit of ${MAX_MODEL_JSON_BYTES}`,
        );
      }
      let parsed: Record<string, unknown>;
      try {
        parsed = JSON.parse(await fs.readFile(jsonPath, 'utf8')) as Record<string, unknown>;
      } catch (error) {
        throw new WeightsFileError(jsonPath, 'JSON', (error as Error).message);
      }
      if (parsed === null || typeof parsed !== 'object' || parsed.modelTopology == null) {
        throw new WeightsFileError(jsonPath, 'modelTopology', 'missing');
      }
      const manifest = parsed.weightsManifest as tf.io.WeightsManifestConfig | undefined;
      if (!Array.isArray(manifest)) {
        throw new WeightsFileError(jsonPath, 'weightsManifest', 'expected an array of groups');
      }
      const specs: tf.io.WeightsManifestEntry[] = [];
      const files: string[] = [];
      manifest.forEach((group, g) => {
        if (!Array.isArray(group?.paths) || !Array.isArray(group?.weights)) {
          throw new WeightsFileError(
            jsonPath,
            `weightsManifest[${g}]`,
            'expected { paths, weights }',
          );
        }
        for (const raw of group.paths) {
          // Only plain file names beside model.json: nothing outside the directory is read.
          // `./name` is the same file (tf.io.browserDownloads writes its paths that way).
          const p = typeof raw === 'string' && raw.startsWith('./') ? raw.slice(2) : raw;
          if (typeof p !== 'string' || p !== path.basename(p) || p === '..' || p === '.') {
            throw new WeightsFileError(
              jsonPath,
              `weightsManifest[${g}].paths`,
              `expected a file name in the same directory, got ${JSON.stringify(raw)}`,
            );
          }
          files.push(path.join(dir, p));
        }
        specs.push(...group.weights);
      });
      const expected = expectedWeightBytes(jsonPath, specs);
      let actual = 0;
      const sizes: number[] = [];
      for (const file of files) {
        const size = (
          await fs.stat(file).catch(() => {
            throw new WeightsFileError(file, 'file', `named by ${MODEL_JSON} but not found`);
          })
        ).size;
        sizes.push(size);
        actual += size;
      }
      if (actual !== expected) {
        throw new WeightsFileError(
          files.join(', ') || jsonPath,
          'size',
          `the manifest's ${specs.length} weights need ${expected} bytes, the files hold ${actual} (truncated or mismatched)`,
        );
      }
      const weightData = new ArrayBuffer(expected);
      const view = new Uint8Array(weightData);
      let offset = 0;
      for (const [i, file] of files.entries()) {
        const handle = await fs.open(file, 'r');
        try {
          const { bytesRead } = await handle.read(view, offset, sizes[i]!, 0);
          if (bytesRead !== sizes[i]) {
            throw new WeightsFileError(file, 'size', `read ${bytesRead} of ${sizes[i]} bytes`);
          }
        } finally {
          await handle.close();
        }
        offset += sizes[i]!;
      }
      return {
        modelTopology: parsed.modelTopology as object,
        weightSpecs: specs,
        weightData,
        format: parsed.format as string | undefined,
        generatedBy: parsed.generatedBy as string | undefined,
        convertedBy: parsed.convertedBy as string | null | undefined,
        ...(parsed.trainingConfig
          ? { trainingConfig: parsed.trainingConfig as tf.io.TrainingConfig }
          : {}),
        ...(parsed.userDefinedMetadata
          ? {
              userDefinedMetadata: parsed.userDefinedMetadata as NonNullable<
                tf.io.ModelArtifacts['userDefinedMetadata']
              >,
            }
          : {}),
      };
    },
  };
}
