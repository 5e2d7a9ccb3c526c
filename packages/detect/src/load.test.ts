import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { afterAll, describe, expect, it, vi } from 'vitest';
import { SSD300_VOC } from '@ssd/anchors';
import { anchorConfigForModel } from '@ssd/vgg-ssd';
import { saveSsdModel } from '@ssd/vgg-ssd/node';
import { createDetector, loadSsd as loadSsdFrom } from './index';
import { loadSsd } from './node';
import { randomRgb, tinyModel } from './test-helpers';

const root = mkdtempSync(join(tmpdir(), 'ssd-detect-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

/** Saves `model` with SSD300's anchors and the labels `a`, `b`. */
async function saveWithLabels(model: ReturnType<typeof tinyModel>, dir: string): Promise<void> {
  await saveSsdModel(model, dir, {
    anchorConfig: anchorConfigForModel(model, SSD300_VOC),
    labels: ['a', 'b'],
  });
}

describe('loadSsd / createDetector', () => {
  it('loads a saved model with its metadata and detects in the image pixels', async () => {
    const model = tinyModel(11);
    const dir = join(root, 'model');
    await saveWithLabels(model, dir);
    const backend = tf.getBackend();
    const detector = await loadSsd(dir);
    expect(tf.getBackend()).toBe(backend);
    const image = randomRgb(120, 80, 1);
    const detections = await detector.detect(image, { scoreThreshold: 0.3 });
    expect(detections.length).toBeGreaterThan(0);
    expect(detections.length).toBeLessThanOrEqual(200);
    for (const d of detections) {
      expect(['a', 'b']).toContain(d.label);
      expect(d.box.xMin).toBeGreaterThanOrEqual(0);
      expect(d.box.xMax).toBeLessThanOrEqual(120);
      expect(d.box.yMax).toBeLessThanOrEqual(80);
      expect(d.score).toBeGreaterThan(0.3);
    }
    // A tensor image gives the same detections as its raw pixels.
    const tensor = tf.tensor3d(image.data, [80, 120, 3], 'int32');
    expect(await detector.detect(tensor, { scoreThreshold: 0.3 })).toEqual(detections);
    tensor.dispose();
    detector.dispose();
    // The saved preprocessing comes back with the model.
    const custom = join(root, 'custom-mean');
    const meanRgb = [10, 20, 30] as const;
    await saveSsdModel(model, custom, {
      anchorConfig: anchorConfigForModel(model, SSD300_VOC),
      preprocessing: { resize: 'bilinear-half-pixel', meanRgb },
    });
    const reloaded = await loadSsd(custom);
    expect(reloaded.preprocessing).toEqual({ resize: 'bilinear-half-pixel', meanRgb });
    expect(detector.preprocessing).toEqual({
      resize: 'bilinear-half-pixel',
      meanRgb: [123, 117, 104],
    });
    reloaded.dispose();
    model.dispose();
  });

  it('loads in the browser way (model.json URL, IOHandler over bytes) with the same detections', async () => {
    const model = tinyModel(11);
    const dir = join(root, 'served');
    await saveWithLabels(model, dir);
    model.dispose();
    const image = randomRgb(90, 70, 4);
    const fromDisk = await loadSsd(join(dir, 'model.json'));
    const expected = await fromDisk.detect(image, { scoreThreshold: 0.3 });
    expect(expected.length).toBeGreaterThan(0);
    fromDisk.dispose();

    // A static file server, as a browser would fetch the model from.
    const server = createServer((request, response) => {
      const name = (request.url ?? '/').slice(1);
      if (!readdirSync(dir).includes(name)) {
        response.writeHead(404).end();
        return;
      }
      response.writeHead(200).end(readFileSync(join(dir, name)));
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    try {
      const { port } = server.address() as AddressInfo;
      const fromUrl = await loadSsdFrom(`http://127.0.0.1:${port}/model.json`);
      expect(fromUrl.labels).toEqual(['a', 'b']);
      expect(await fromUrl.detect(image, { scoreThreshold: 0.3 })).toEqual(expected);
      fromUrl.dispose();
    } finally {
      await new Promise((resolve) => server.close(resolve));
    }

    // Bytes fetched some other way, wrapped in an IOHandler: no file system involved.
    const json = JSON.parse(readFileSync(join(dir, 'model.json'), 'utf8'));
    const [group] = json.weightsManifest;
    const weights = readFileSync(join(dir, group.paths[0]));
    const fromBytes = await loadSsdFrom(
      tf.io.fromMemory({
        modelTopology: json.modelTopology,
        weightSpecs: group.weights,
        weightData: weights.buffer.slice(
          weights.byteOffset,
          weights.byteOffset + weights.byteLength,
        ),
        userDefinedMetadata: json.userDefinedMetadata,
      }),
    );
    expect(await fromBytes.detect(image, { scoreThreshold: 0.3 })).toEqual(expected);
    fromBytes.dispose();
  });

  it('20 detect() calls leak no tensor and never call dataSync', async () => {
    const model = tinyModel(11);
    const detector = createDetector(model, {
      anchorConfig: anchorConfigForModel(model, SSD300_VOC),
    });
    const image = randomRgb(64, 48, 2);
    await detector.detect(image);
    const dataSync = vi.spyOn(tf.Tensor.prototype, 'dataSync');
    const before = tf.memory().numTensors;
    for (let i = 0; i < 20; i++) {
      await detector.detect(image);
      await new Promise((resolve) => setTimeout(resolve, 0)); // let vitest's RPC through
    }
    const batch = await detector.detectBatch([image, randomRgb(30, 30, 3)]);
    expect(batch).toHaveLength(2);
    expect(tf.memory().numTensors).toBe(before);
    expect(dataSync).not.toHaveBeenCalled();
    dataSync.mockRestore();
    detector.dispose(); // not the owner: the model stays usable
    expect(model.getLayer('fc7').getWeights()[0]!.isDisposed).toBe(false);
    model.dispose();
  });

  it('refuses anchors that do not fit the model, and a model without metadata', async () => {
    const model = tinyModel(11);
    expect(() => createDetector(model, { anchorConfig: SSD300_VOC })).toThrow(
      'anchorConfig: gives 8732 anchors but the model predicts',
    );
    const dir = join(root, 'bare');
    await saveSsdModel(model, dir);
    await expect(loadSsd(dir)).rejects.toThrow('the saved model has no SSD metadata');
    const detector = await loadSsd(dir, { anchorConfig: anchorConfigForModel(model, SSD300_VOC) });
    await expect(detector.detect({ width: 4, height: 4, data: new Uint8Array(5) })).rejects.toThrow(
      'images[0].data: expected 4×4×3 = 48 bytes',
    );
    detector.dispose();
    model.dispose();
  });
});
