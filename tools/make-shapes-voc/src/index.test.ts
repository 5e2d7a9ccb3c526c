import { builtinModules } from 'node:module';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';
import { createRng, mixSeed } from '@ssd/random';
import { describe, expect, it } from 'vitest';
import {
  SHAPES_CLASSES,
  SHAPES_GENERATOR_VERSION,
  renderShapesImage,
  shapesAnnotationXml,
  shapesSplits,
} from './index.mjs';

describe('the main entry', () => {
  it('bundles for a browser: no Node built-in, no sharp, no Buffer', async () => {
    const nodeOnly: string[] = [];
    const builtins = new Set(builtinModules);
    const result = await build({
      entryPoints: [fileURLToPath(new URL('./index.mjs', import.meta.url))],
      bundle: true,
      platform: 'browser',
      format: 'esm',
      write: false,
      logLevel: 'silent',
      plugins: [
        {
          name: 'node-only',
          setup(b) {
            b.onResolve({ filter: /.*/ }, (args) => {
              const bare = args.path.replace(/^node:/, '').split('/')[0]!;
              if (args.path.startsWith('node:') || builtins.has(bare) || bare === 'sharp') {
                nodeOnly.push(args.path);
                return { path: args.path, external: true };
              }
              return undefined;
            });
          },
        },
      ],
    });
    expect(nodeOnly).toEqual([]);
    const code = result.outputFiles[0]!.text;
    expect(code).toContain('renderShapesImage');
    expect(code).not.toMatch(/\bBuffer\b|\bprocess\./);
  });
});

describe('SHAPES_GENERATOR_VERSION', () => {
  // If this fails, the same options now give another data set: bump
  // SHAPES_GENERATOR_VERSION (so cached sets are regenerated), then update the values.
  it('names the streams the generator draws from (version 2: @ssd/random mixSeed)', () => {
    expect(SHAPES_GENERATOR_VERSION).toBe(2);
    const first = createRng(mixSeed(1, 0));
    const img = renderShapesImage(1, 0);
    expect([img.width, img.height]).toEqual([
      Math.round(240 + first() * 260),
      Math.round(240 + first() * 260),
    ]);
    expect([img.width, img.height]).toEqual([313, 358]);
    expect(img.objects.map((o) => [o.name, o.box])).toEqual([
      ['diamond', [102, 272, 167, 354]],
      ['square', [97, 61, 236, 200]],
      ['square', [158, 153, 297, 292]],
    ]);
    expect(shapesSplits(10, 1, 0.2, 0.25).test).toEqual([2, 9]);
  });
});

describe('renderShapesImage', () => {
  it('is a pure function of (seed, index)', () => {
    const a = renderShapesImage(3, 17);
    const b = renderShapesImage(3, 17);
    expect(b.objects).toEqual(a.objects);
    expect(Buffer.compare(Buffer.from(a.image), Buffer.from(b.image))).toBe(0);
    const fixed = renderShapesImage(3, 17, { width: 500, height: 375 });
    expect([fixed.width, fixed.height, fixed.image.length]).toEqual([500, 375, 500 * 375 * 3]);
    const c = renderShapesImage(4, 17);
    expect(Buffer.compare(Buffer.from(a.image), Buffer.from(c.image))).not.toBe(0);
  });

  it('draws 1..6 objects of every class, with truncated and difficult ones, boxes inside', () => {
    const seen = new Set<string>();
    let truncated = 0;
    let difficult = 0;
    for (let i = 0; i < 200; i++) {
      const img = renderShapesImage(1, i);
      expect(img.objects.length).toBeGreaterThanOrEqual(1);
      expect(img.objects.length).toBeLessThanOrEqual(6);
      for (const o of img.objects) {
        seen.add(o.name);
        expect(o.label).toBe(SHAPES_CLASSES.indexOf(o.name as never) + 1);
        const [x0, y0, x1, y1] = o.box;
        expect(x0).toBeGreaterThanOrEqual(0);
        expect(y0).toBeGreaterThanOrEqual(0);
        expect(x1).toBeLessThanOrEqual(img.width);
        expect(y1).toBeLessThanOrEqual(img.height);
        expect(x1 - x0).toBeGreaterThanOrEqual(3);
        const side = Math.min(img.width, img.height);
        if (o.difficult) {
          difficult++;
          expect(Math.max(x1 - x0, y1 - y0)).toBeLessThan(0.07 * side);
        } else if (!o.truncated) {
          expect(Math.max(x1 - x0, y1 - y0)).toBeGreaterThanOrEqual(0.08 * side);
        }
        if (o.truncated) {
          truncated++;
          expect(x0 === 0 || y0 === 0 || x1 === img.width || y1 === img.height).toBe(true);
        }
      }
    }
    expect([...seen].sort()).toEqual([...SHAPES_CLASSES].sort());
    expect(truncated).toBeGreaterThan(20);
    expect(difficult).toBeGreaterThan(20);
  });
});

describe('shapesAnnotationXml', () => {
  it('writes 1-based inclusive corners, the size and the flags', () => {
    const img = renderShapesImage(2, 0);
    const xml = shapesAnnotationXml(img);
    const o = img.objects[0]!;
    expect(xml).toContain(`<filename>${img.id}.jpg</filename>`);
    expect(xml).toContain(`<width>${img.width}</width>`);
    expect(xml).toContain(`<xmin>${o.box[0] + 1}</xmin>`);
    expect(xml).toContain(`<ymin>${o.box[1] + 1}</ymin>`);
    expect(xml).toContain(`<xmax>${o.box[2]}</xmax>`);
    expect(xml).toContain(`<ymax>${o.box[3]}</ymax>`);
    expect(xml.match(/<object>/g)).toHaveLength(img.objects.length);
  });
});

describe('shapesSplits', () => {
  it('partitions the images: trainval = train ∪ val, disjoint from test', () => {
    const s = shapesSplits(100, 5, 0.2, 0.25);
    expect(s.test).toHaveLength(20);
    expect(s.val).toHaveLength(20);
    expect(s.train).toHaveLength(60);
    expect(new Set([...s.trainval, ...s.test]).size).toBe(100);
    expect(s.trainval).toEqual([...s.train, ...s.val].sort((a, b) => a - b));
  });
});
