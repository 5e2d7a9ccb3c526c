import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { loadSsd } from '@ssd/detect/node';
import { SHAPES_CLASSES } from '@ssd/make-shapes-voc';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { SITE_DIR, launchChromium, openApp, serveStatic } from '../harness/browser.mjs';
import { describeInBrowser } from './browser-setup';
import { makeFixtureImage, readRgb } from './fixture';

const OUTPUT = path.resolve(import.meta.dirname, '../test-output');

/** The backend the page trains on: wasm (with @ssd/backend's training kernels) is the fastest here. */
const TRAIN_BACKEND = process.env.SSD_WEB_TRAIN_BACKEND ?? 'wasm';

/** A small run of the page's recipe (LSUV, warm-up, schedule, Adam): quick on a CPU backend. */
const SMALL_RUN = {
  inputSize: 96,
  widthMultiplier: 1 / 16,
  batchSize: 8,
  steps: 20,
  trainImages: 64,
  testImages: 8,
};

const mean = (values: readonly number[]): number =>
  values.reduce((a, b) => a + b, 0) / values.length;

describeInBrowser('the Train page in Chromium', () => {
  let browser: Browser;
  let server: Awaited<ReturnType<typeof serveStatic>>;
  let dir: string;

  beforeAll(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'ssd-web-train-'));
    [server, browser] = await Promise.all([serveStatic(SITE_DIR), launchChromium()]);
    await mkdir(OUTPUT, { recursive: true });
  });

  afterAll(async () => {
    await browser?.close();
    await server?.close();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it(`trains the shapes preset on ${TRAIN_BACKEND}: the loss goes down, stop/resume goes on, the export loads in Node`, async () => {
    const { page, errors } = await openApp(browser, server.url, {
      backend: TRAIN_BACKEND,
      hash: '#train',
    });
    try {
      const first = await page.evaluate(
        (options) => window.ssdApp.train({ steps: 10, options }),
        SMALL_RUN,
      );
      expect(first).toHaveLength(10);
      expect(first.every(Number.isFinite)).toBe(true);
      // Resume: the next steps continue the same run (Adam's state and the step count kept).
      const tensorsBefore = await page.evaluate(() => window.ssdApp.numTensors());
      const second = await page.evaluate(() => window.ssdApp.train({ steps: 10 }));
      expect(await page.evaluate(() => window.ssdApp.numTensors())).toBe(tensorsBefore);
      expect(mean(second.slice(-3))).toBeLessThan(mean(first.slice(0, 3)) * 0.8);

      const map = await page.evaluate(() => window.ssdApp.evaluate());
      expect(map === null || (map >= 0 && map <= 1)).toBe(true);
      await page.screenshot({ path: path.join(OUTPUT, 'train.png'), fullPage: true });

      const { modelJson, weightsBase64 } = await page.evaluate(() => window.ssdApp.exportModel());
      // The page's default recipe has batch norm, whose running statistics the export carries.
      expect(modelJson).toContain('"class_name":"SsdBatchNorm"');
      const modelDir = path.join(dir, 'model');
      await mkdir(modelDir);
      await writeFile(path.join(modelDir, 'model.json'), modelJson);
      await writeFile(
        path.join(modelDir, 'model.weights.bin'),
        Buffer.from(weightsBase64, 'base64'),
      );
      const detector = await loadSsd(modelDir);
      try {
        expect(detector.labels).toEqual(SHAPES_CLASSES);
        expect(detector.model.inputs[0]!.shape).toEqual([null, 96, 96, 3]);
        const detections = await detector.detect(await readRgb(await makeFixtureImage(dir)));
        expect(detections.length).toBeGreaterThan(0);
        for (const d of detections) {
          expect(Number.isFinite(d.score) && d.box.xMax > d.box.xMin).toBe(true);
        }
      } finally {
        detector.dispose();
      }
      // The form's Normalization select: `none` trains the paper's VGG16 (no batch norm).
      await page.evaluate((options) => window.ssdApp.train({ steps: 1, options }), {
        ...SMALL_RUN,
        normalization: 'none' as const,
      });
      expect(await page.evaluate(() => window.ssdApp.trainOptions().normalization)).toBe('none');
      const plain = await page.evaluate(() => window.ssdApp.exportModel());
      expect(plain.modelJson).toContain('"class_name":"Conv2D"');
      expect(plain.modelJson).not.toContain('SsdBatchNorm');
      expect(errors).toEqual([]);
    } finally {
      await page.close();
    }
  });
});
