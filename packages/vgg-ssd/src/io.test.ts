import {
  mkdtempSync,
  readFileSync,
  readdirSync,
  rmSync,
  truncateSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { afterAll, describe, expect, it } from 'vitest';
import { testRng } from '@ssd/testing';
import { SSD300_VOC } from '@ssd/anchors';
import {
  AtrousConv2D,
  L2Normalization,
  WeightsFileError,
  anchorConfigForModel,
  readSsdMetadata,
  loadSsdModel as loadFromHandler,
} from './index';
import { fileSystemHandler, loadSsdModel, saveSsdModel } from './node';
import { narrowSsd, saveToMemory } from './test-helpers';

const root = mkdtempSync(join(tmpdir(), 'vgg-ssd-io-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

const tinyModel = (seed: number) => narrowSsd({ seed });

function images(seed: number): tf.Tensor4D {
  const rng = testRng(seed);
  return tf.tensor4d(
    Float32Array.from({ length: 64 * 64 * 3 }, () => rng() * 255 - 120),
    [1, 64, 64, 3],
  );
}

async function outputs(model: tfl.LayersModel, x: tf.Tensor): Promise<Float32Array[]> {
  const out = model.predict(x) as tf.Tensor[];
  const data = await Promise.all(out.map((t) => t.data() as Promise<Float32Array>));
  tf.dispose(out);
  return data;
}

describe('save → load', () => {
  it('round-trips through tf.loadLayersModel with bitwise-equal outputs', async () => {
    const dir = join(root, 'roundtrip');
    const model = tinyModel(1);
    // Move gamma off its initial value so the test sees a saved weight, not a re-initialised one.
    const gamma = model.getLayer('conv4_3_norm').getWeights()[0]!;
    model.getLayer('conv4_3_norm').setWeights([tf.add(gamma, 1.5)]);
    const x = images(2);
    const before = await outputs(model, x);
    const anchorConfig = anchorConfigForModel(model, SSD300_VOC);
    await saveSsdModel(model, dir, { anchorConfig, labels: ['cat', 'dog'] });
    const files = readdirSync(dir).sort();
    expect(files).toHaveLength(2);
    expect(files[0]).toBe('model.json');
    expect(files[1]).toMatch(/^weights\.[0-9a-f]{16}\.bin$/);

    const loaded = await tfl.loadLayersModel(fileSystemHandler(dir));
    expect(loaded.getLayer('conv4_3_norm')).toBeInstanceOf(L2Normalization);
    expect(loaded.getLayer('fc6')).toBeInstanceOf(AtrousConv2D);
    expect(readSsdMetadata(loaded)).toEqual({
      anchorConfig,
      labels: ['cat', 'dog'],
      inputSize: 64,
      preprocessing: { resize: 'bilinear-half-pixel', meanRgb: [123, 117, 104] },
      inputScale: 1,
    });
    await expect(saveSsdModel(model, dir, { anchorConfig, labels: ['cat'] })).rejects.toThrow(
      'metadata.labels: expected 2 names (classes 1..2), got 1',
    );
    const after = await outputs(loaded, x);
    expect(Buffer.from(after[0]!.buffer).equals(Buffer.from(before[0]!.buffer))).toBe(true);
    expect(Buffer.from(after[1]!.buffer).equals(Buffer.from(before[1]!.buffer))).toBe(true);
    tf.dispose([x]);
    model.dispose();
    loaded.dispose();
  });

  it('saving again replaces the model atomically and leaves no temp or stale file', async () => {
    const dir = join(root, 'twice');
    const first = tinyModel(3);
    const second = tinyModel(4);
    await saveSsdModel(first, dir);
    const firstWeights = readdirSync(dir).find((f) => f.startsWith('weights.'));
    await saveSsdModel(second, dir);
    const files = readdirSync(dir);
    expect(files).toHaveLength(2);
    expect(files.find((f) => f.startsWith('weights.'))).not.toBe(firstWeights);
    const x = images(5);
    const loaded = await loadSsdModel(dir);
    expect(await outputs(loaded, x)).toEqual(await outputs(second, x));
    tf.dispose(x);
    [first, second, loaded].forEach((m) => m.dispose());
  });
});

describe('the main entry: any IOHandler, no file system', () => {
  it('saves to and loads from memory with the metadata and bitwise-equal outputs', async () => {
    const model = tinyModel(7);
    const anchorConfig = anchorConfigForModel(model, SSD300_VOC);
    const saved = await saveToMemory(model, { anchorConfig, labels: ['cat', 'dog'] });
    expect(saved.weightData).toBeDefined();
    const loaded = await loadFromHandler(tf.io.fromMemory(saved));
    expect(loaded.getLayer('fc6')).toBeInstanceOf(AtrousConv2D);
    // Saved metadata is completed from the model (input size and scale) and defaults.
    expect(readSsdMetadata(loaded)).toEqual({
      anchorConfig,
      labels: ['cat', 'dog'],
      inputSize: 64,
      inputScale: 1,
      preprocessing: { resize: 'bilinear-half-pixel', meanRgb: [123, 117, 104] },
    });
    const x = images(8);
    expect(await outputs(loaded, x)).toEqual(await outputs(model, x));
    tf.dispose(x);
    [model, loaded].forEach((m) => m.dispose());
  });

  it('the Node entry loads the bytes of a saved directory given as model.json', async () => {
    const dir = join(root, 'by-json');
    const model = tinyModel(9);
    await saveSsdModel(model, dir);
    const loaded = await loadSsdModel(join(dir, 'model.json'));
    const x = images(10);
    expect(await outputs(loaded, x)).toEqual(await outputs(model, x));
    tf.dispose(x);
    [model, loaded].forEach((m) => m.dispose());
  });
});

describe('corrupt or mismatched files give clear errors', () => {
  async function saved(name: string): Promise<{ dir: string; weights: string; json: string }> {
    const dir = join(root, name);
    const model = tinyModel(6);
    await saveSsdModel(model, dir);
    model.dispose();
    const weights = join(dir, readdirSync(dir).find((f) => f.startsWith('weights.'))!);
    return { dir, weights, json: join(dir, 'model.json') };
  }

  function editManifest(json: string, edit: (spec: tf.io.WeightsManifestEntry[]) => void) {
    const parsed = JSON.parse(readFileSync(json, 'utf8'));
    edit(parsed.weightsManifest[0].weights);
    writeFileSync(json, JSON.stringify(parsed));
  }

  it('a truncated weights file', async () => {
    const { dir, weights } = await saved('truncated');
    truncateSync(weights, 1000);
    const load = loadSsdModel(dir);
    await expect(load).rejects.toThrow(WeightsFileError);
    await expect(loadSsdModel(dir)).rejects.toThrow(/need \d+ bytes, the files hold 1000/);
  });

  it('a wrong shape in the manifest', async () => {
    const { dir, json } = await saved('shape');
    editManifest(json, (specs) => {
      specs[0]!.shape = [3, 3, 3, 5];
    });
    await expect(loadSsdModel(dir)).rejects.toThrow(/truncated or mismatched/);
  });

  it('two dimensions swapped in the manifest: the weight, the model’s shape and the manifest’s', async () => {
    const { dir, json } = await saved('swapped');
    let swapped = '';
    editManifest(json, (specs) => {
      const spec = specs.find((s) => s.shape.length === 4 && s.shape[2] !== s.shape[3])!;
      swapped = spec.name;
      spec.shape = [spec.shape[0]!, spec.shape[1]!, spec.shape[3]!, spec.shape[2]!];
    });
    const error = await loadSsdModel(dir).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(WeightsFileError);
    expect((error as WeightsFileError).file).toBe(dir);
    expect((error as Error).message).toMatch(
      new RegExp(
        `weightsManifest weight ${swapped}\\.shape: the model's variable is \\[3, 3, (\\d+), (\\d+)\\], the manifest gives \\[3, 3, \\2, \\1\\]`,
      ),
    );
  });

  it('a manifest weight the model lacks, or a model weight the manifest lacks', async () => {
    const { dir, json } = await saved('renamed');
    editManifest(json, (specs) => {
      specs[0]!.name = 'no_such_layer/kernel';
    });
    await expect(loadSsdModel(dir)).rejects.toThrow(
      /weightsManifest weight no_such_layer\/kernel: the model has no variable of that name/,
    );
  });

  it('NaN or Infinity in a weight, through the Node entry and any IOHandler', async () => {
    const { dir, weights, json } = await saved('nan');
    const specs = JSON.parse(readFileSync(json, 'utf8')).weightsManifest[0]
      .weights as tf.io.WeightsManifestEntry[];
    const spec = specs[2]!;
    const bytes = readFileSync(weights);
    // The third weight starts after the first two (float32 each).
    const offset = specs.slice(0, 2).reduce((n, s) => n + s.shape.reduce((a, b) => a * b, 1), 0);
    new DataView(bytes.buffer, bytes.byteOffset).setFloat32((offset + 1) * 4, NaN, true);
    writeFileSync(weights, bytes);
    const error = await loadSsdModel(dir).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(WeightsFileError);
    expect((error as Error).message).toContain(
      `${dir}: weight ${spec.name}: holds NaN at index 1 `,
    );

    const artifacts = await fileSystemHandler(dir).load!();
    const all = new Float32Array(artifacts.weightData as ArrayBuffer).fill(Infinity);
    await expect(
      loadFromHandler(tf.io.fromMemory({ ...artifacts, weightData: all.buffer })),
    ).rejects.toThrow(`IOHandler: weight ${specs[0]!.name}: holds Infinity at index 0`);
  });

  it('an absurd shape is refused before allocating', async () => {
    const { dir, json } = await saved('absurd');
    editManifest(json, (specs) => {
      specs[0]!.shape = [1e6, 1e6, 1e3];
    });
    await expect(loadSsdModel(dir)).rejects.toThrow(/would exceed \d+ bytes/);
  });

  it('a wrong dtype', async () => {
    const { dir, json } = await saved('dtype');
    editManifest(json, (specs) => {
      (specs[1] as { dtype: string }).dtype = 'float64';
    });
    await expect(loadSsdModel(dir)).rejects.toThrow(/dtype: unsupported dtype "float64"/);
  });

  it('a weights path outside the directory', async () => {
    const { dir, json } = await saved('traversal');
    const parsed = JSON.parse(readFileSync(json, 'utf8'));
    parsed.weightsManifest[0].paths = ['../../etc/passwd'];
    writeFileSync(json, JSON.stringify(parsed));
    await expect(loadSsdModel(dir)).rejects.toThrow(/expected a file name in the same directory/);
  });

  it("a './name' weights path (as tf.io.browserDownloads writes it) reads the file beside model.json", async () => {
    const { dir, json } = await saved('dot-slash');
    const parsed = JSON.parse(readFileSync(json, 'utf8'));
    const name: string = parsed.weightsManifest[0].paths[0];
    const before = await loadSsdModel(dir);
    parsed.weightsManifest[0].paths = [`./${name}`];
    writeFileSync(json, JSON.stringify(parsed));
    const after = await loadSsdModel(dir);
    try {
      const a = before.getWeights();
      const b = after.getWeights();
      expect(b.length).toBe(a.length);
      for (let i = 0; i < a.length; i++) expect(b[i]!.dataSync()).toEqual(a[i]!.dataSync());
    } finally {
      before.dispose();
      after.dispose();
    }
    parsed.weightsManifest[0].paths = [`./../${name}`];
    writeFileSync(json, JSON.stringify(parsed));
    await expect(loadSsdModel(dir)).rejects.toThrow(/expected a file name in the same directory/);
  });

  it('invalid JSON and a missing directory', async () => {
    const { dir, json } = await saved('json');
    writeFileSync(json, '{"modelTopology": ');
    await expect(loadSsdModel(dir)).rejects.toThrow(/model\.json: JSON:/);
    await expect(loadSsdModel(join(root, 'nothing-here'))).rejects.toThrow(
      /model\.json: file: not found/,
    );
  });
});
