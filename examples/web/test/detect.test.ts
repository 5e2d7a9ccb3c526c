import { mkdir, rm } from 'node:fs/promises';
import * as path from 'node:path';
import type { Detection } from '@ssd/detect';
import { loadSsd } from '@ssd/detect/node';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { SITE_DIR, launchChromium, openApp, serveStatic } from '../harness/browser.mjs';
import { describeInBrowser } from './browser-setup';
import { FIXTURE_SCORE_THRESHOLD, makeFixtures, readRgb, unmatchedDetections } from './fixture';

const OUTPUT = path.resolve(import.meta.dirname, '../test-output');
/** Where a trained model's detections are compared: low enough for several per image. */
const REAL_THRESHOLD = 0.1;
const TOLERANCE = { boxPixels: 0.5, score: 1e-3, scoreThreshold: FIXTURE_SCORE_THRESHOLD };

/** Node's detections (`@ssd/detect/node`, cpu backend) of `image` with the model in `dir`. */
async function nodeDetections(dir: string, image: string, scoreThreshold: number) {
  const detector = await loadSsd(dir);
  try {
    return await detector.detect(await readRgb(image), { scoreThreshold });
  } finally {
    detector.dispose();
  }
}

describeInBrowser('the Detect page in Chromium', () => {
  let browser: Browser;
  let server: Awaited<ReturnType<typeof serveStatic>>;
  let fixtures: Awaited<ReturnType<typeof makeFixtures>>;
  let expected: Detection[];

  beforeAll(async () => {
    fixtures = await makeFixtures();
    const mounts: Record<string, string> = { '/fixture': fixtures.dir };
    if (process.env.SSD_WEB_MODEL) mounts['/real-model'] = path.resolve(process.env.SSD_WEB_MODEL);
    [server, browser] = await Promise.all([serveStatic(SITE_DIR, mounts), launchChromium()]);
    expected = await nodeDetections(fixtures.model, fixtures.image, FIXTURE_SCORE_THRESHOLD);
    await mkdir(OUTPUT, { recursive: true });
  });

  afterAll(async () => {
    await browser?.close();
    await server?.close();
    if (fixtures) await rm(fixtures.dir, { recursive: true, force: true });
  });

  it('the fixture model detects enough to compare (and under the 200 cap)', () => {
    expect(expected.length).toBeGreaterThanOrEqual(10);
    expect(expected.length).toBeLessThan(200);
    expect(new Set(expected.map((d) => d.classId)).size).toBeGreaterThan(1);
  });

  for (const backend of ['webgpu', 'webgl', 'wasm'] as const) {
    it(`detects on ${backend} what Node's @ssd/detect detects (boxes ±0.5 px, scores ±1e-3)`, async () => {
      const { page, errors } = await openApp(browser, server.url, {
        backend,
        model: '/fixture/model/model.json',
      });
      try {
        const app = await page.evaluate(() => ({
          backend: window.ssdApp.backend,
          device: window.ssdApp.device,
        }));
        expect(app.backend).toBe(backend);
        const run = () =>
          page.evaluate(
            (threshold) =>
              window.ssdApp.detect('/fixture/image.png', { scoreThreshold: threshold }),
            FIXTURE_SCORE_THRESHOLD,
          );
        const actual = await run();
        expect(unmatchedDetections(expected, actual, TOLERANCE)).toEqual({
          missing: [],
          extra: [],
        });
        // Inference frees what it makes: a second run leaves the tensor count as it was.
        const before = await page.evaluate(() => window.ssdApp.numTensors());
        await run();
        expect(await page.evaluate(() => window.ssdApp.numTensors())).toBe(before);
        await page.screenshot({ path: path.join(OUTPUT, `detect-${backend}.png`) });
        expect(errors).toEqual([]);
      } finally {
        await page.close();
      }
    });
  }

  it('wasm runs its threaded build on 2 threads in the cross-origin isolated page, with the same detections', async () => {
    // tfjs gives the pool half the logical cores the browser reports; report 4.
    const { page, errors } = await openApp(browser, server.url, {
      backend: 'wasm',
      model: '/fixture/model/model.json',
      initScript: `Object.defineProperty(navigator, 'hardwareConcurrency', { get: () => 4 });`,
    });
    try {
      const app = await page.evaluate(() => ({
        isolated: window.crossOriginIsolated,
        backend: window.ssdApp.backend,
        device: window.ssdApp.device,
        threads: window.ssdApp.threads,
      }));
      expect(app).toEqual({
        isolated: true,
        backend: 'wasm',
        device: 'cpu, 2 threads',
        threads: 2,
      });
      const actual = await page.evaluate(
        (threshold) => window.ssdApp.detect('/fixture/image.png', { scoreThreshold: threshold }),
        FIXTURE_SCORE_THRESHOLD,
      );
      expect(unmatchedDetections(expected, actual, TOLERANCE)).toEqual({ missing: [], extra: [] });
      expect(errors).toEqual([]);
    } finally {
      await page.close();
    }
  });

  it.runIf(Boolean(process.env.SSD_WEB_MODEL))(
    'detects with the SSD_WEB_MODEL model as Node does, on webgpu, webgl and wasm',
    async () => {
      const reference = await nodeDetections(
        process.env.SSD_WEB_MODEL!,
        fixtures.shapes,
        REAL_THRESHOLD,
      );
      expect(reference.length).toBeGreaterThanOrEqual(3);
      for (const backend of ['webgpu', 'webgl', 'wasm']) {
        const { page } = await openApp(browser, server.url, {
          backend,
          model: '/real-model/model.json',
        });
        try {
          const actual = await page.evaluate(
            (threshold) =>
              window.ssdApp.detect('/fixture/shapes.png', { scoreThreshold: threshold }),
            REAL_THRESHOLD,
          );
          expect(
            unmatchedDetections(reference, actual, {
              ...TOLERANCE,
              scoreThreshold: REAL_THRESHOLD,
            }),
            backend,
          ).toEqual({ missing: [], extra: [] });
          await page.screenshot({ path: path.join(OUTPUT, `detect-real-model-${backend}.png`) });
        } finally {
          await page.close();
        }
      }
    },
  );
});
