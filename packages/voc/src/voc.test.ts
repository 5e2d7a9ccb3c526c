import { cp, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SHAPES_CLASSES, renderShapesImage } from '@ssd/make-shapes-voc';
import { makeShapesVoc } from '@ssd/make-shapes-voc/node';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AnnotationError, DatasetLayoutError, VOC_CLASSES, parseVocAnnotation } from './index';
import {
  decodeImage,
  openLabelTxtDataset,
  openVocDataset,
  validateLabelTxtDataset,
  validateVocDataset,
} from './node';
import type { DatasetWarning } from './index';

const fixtures = join(import.meta.dirname, 'fixtures');
const temp: string[] = [];
afterAll(async () => {
  for (const d of temp) await rm(d, { recursive: true, force: true });
});

async function tempDir(): Promise<string> {
  const d = await mkdtemp(join(tmpdir(), 'ssd-voc-'));
  temp.push(d);
  return d;
}

function jpeg(width: number, height: number, colour = { r: 200, g: 40, b: 40 }) {
  return sharp({ create: { width, height, channels: 3, background: colour } })
    .jpeg()
    .toBuffer();
}

/** The fixture devkit copied to a temp dir, with images written as each case needs. */
let devkit: string;
beforeAll(async () => {
  devkit = await tempDir();
  const dir = join(devkit, 'VOCbad');
  await cp(join(fixtures, 'VOCbad'), dir, { recursive: true });
  const images = join(dir, 'JPEGImages');
  await import('node:fs/promises').then((fs) => fs.mkdir(images));
  const sizes: Record<string, [number, number]> = { good: [64, 48] };
  for (const id of [
    'single',
    'empty',
    'malformed',
    'doctype',
    'unknown-class',
    'outside',
    'degenerate',
    'negative',
    'nonnumeric',
    'missing-size',
  ]) {
    sizes[id] = [40, 30];
  }
  sizes['size-mismatch'] = [50, 30];
  for (const [id, [w, h]] of Object.entries(sizes)) {
    await writeFile(join(images, `${id}.jpg`), await jpeg(w, h));
  }
  const whole = await jpeg(40, 30);
  await writeFile(join(images, 'corrupt.jpg'), whole.subarray(0, Math.floor(whole.length / 2)));
  // missing-image.jpg is deliberately absent.
});

const annotation = (id: string) => join(fixtures, 'VOCbad', 'Annotations', `${id}.xml`);
const parse = async (id: string, onWarning?: (w: DatasetWarning) => void) =>
  parseVocAnnotation(await readFile(annotation(id), 'utf8'), {
    file: `${id}.xml`,
    classes: VOC_CLASSES,
    ...(onWarning ? { onWarning } : {}),
  });

async function expectAnnotationError(id: string, field: string, value: string | undefined) {
  const error = await parse(id).then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(AnnotationError);
  expect(error).toMatchObject({ file: `${id}.xml`, field, value });
  return error as AnnotationError;
}

describe('VOC_CLASSES', () => {
  it('is the 20 devkit classes in order', () => {
    expect(VOC_CLASSES).toHaveLength(20);
    expect(VOC_CLASSES[0]).toBe('aeroplane');
    expect(VOC_CLASSES[14]).toBe('person');
    expect(VOC_CLASSES[19]).toBe('tvmonitor');
  });
});

describe('parseVocAnnotation', () => {
  it('reads size, names, 1-based corners as 0-based edges, difficult, truncated, parts', async () => {
    const a = await parse('good');
    expect([a.width, a.height]).toEqual([64, 48]);
    // VOC (1, 2)-(30, 40) inclusive → [0, 1, 30, 40]; float corners kept.
    expect(Array.from(a.boxes)).toEqual([0, 1, 30, 40, 9.5, 4, 60.5, 48, 49, 29, 58, 36]);
    expect(Array.from(a.labels)).toEqual([12, 15, 8]);
    expect(Array.from(a.difficult)).toEqual([0, 0, 1]);
    expect(Array.from(a.truncated)).toEqual([1, 0, 0]);
  });

  it('drops difficult objects with keepDifficult: false', async () => {
    const a = parseVocAnnotation(await readFile(annotation('good'), 'utf8'), {
      file: 'good.xml',
      classes: VOC_CLASSES,
      keepDifficult: false,
    });
    expect(Array.from(a.labels)).toEqual([12, 15]);
  });

  it('reads a single object not wrapped in a list, and an image with no objects', async () => {
    const single = await parse('single');
    expect(Array.from(single.boxes)).toEqual([4, 5, 20, 25]);
    expect(Array.from(single.labels)).toEqual([7]);
    const empty = await parse('empty');
    expect(empty.boxes).toHaveLength(0);
    expect(empty.labels).toHaveLength(0);
  });

  it('malformed XML: AnnotationError on field xml with the position', async () => {
    const e = await expectAnnotationError('malformed', 'xml', undefined);
    expect(e.message).toMatch(/malformed XML at line \d+, column \d+/);
  });

  it('DOCTYPE / entities (XXE, billion laughs): refused before parsing', async () => {
    const e = await expectAnnotationError('doctype', 'xml', '<!DOCTYPE');
    expect(e.message).toMatch(/document type declarations are not allowed/);
  });

  it('unknown class: AnnotationError naming the object, or a counted skip', async () => {
    await expectAnnotationError('unknown-class', 'object[0].name', 'unicorn');
    const warnings: DatasetWarning[] = [];
    const a = parseVocAnnotation(await readFile(annotation('unknown-class'), 'utf8'), {
      file: 'u.xml',
      classes: VOC_CLASSES,
      unknownClass: 'skip',
      onWarning: (w) => warnings.push(w),
    });
    expect(a.labels).toHaveLength(0);
    expect(warnings).toMatchObject([
      { kind: 'unknown-class', field: 'object[0].name', value: 'unicorn' },
    ]);
  });

  it('box outside the image: clipped (partly) or dropped (entirely), each warned', async () => {
    const warnings: DatasetWarning[] = [];
    const a = await parse('outside', (w) => warnings.push(w));
    // car (30,10)-(45,20) in a 40×30 image → [29, 9, 40, 20]; bus from corner 0 → [0, 0, 12, 12].
    expect(Array.from(a.boxes)).toEqual([29, 9, 40, 20, 0, 0, 12, 12]);
    expect(Array.from(a.labels)).toEqual([7, 6]);
    expect(warnings.map((w) => [w.kind, w.field, w.value])).toEqual([
      ['box-clipped', 'object[0].bndbox', '30,10,45,20'],
      ['box-clipped', 'object[1].bndbox', '0,0,12,12'],
      ['box-outside', 'object[2].bndbox', '41,5,50,10'],
    ]);
  });

  it('xmin ≥ xmax or ymin ≥ ymax: object dropped with a warning', async () => {
    const warnings: DatasetWarning[] = [];
    const a = await parse('degenerate', (w) => warnings.push(w));
    expect(Array.from(a.labels)).toEqual([10]);
    expect(warnings.map((w) => [w.kind, w.field, w.value])).toEqual([
      ['box-degenerate', 'object[0].bndbox', '20,10,20,25'],
      ['box-degenerate', 'object[1].bndbox', '5,12,15,11'],
    ]);
  });

  it('negative and non-numeric coordinates, missing size: AnnotationError with field and value', async () => {
    await expectAnnotationError('negative', 'object[0].bndbox.xmin', '-5');
    await expectAnnotationError('nonnumeric', 'object[0].bndbox.ymin', 'six');
    await expectAnnotationError('missing-size', 'size.width', undefined);
  });
});

describe('openVocDataset', () => {
  it('reads a split; image path from the id and layout, never from <filename>', async () => {
    const ds = await openVocDataset({ root: devkit, sets: [{ year: 'bad', split: 'good' }] });
    expect(ds.size).toBe(3);
    expect([ds.id(0), ds.id(1), ds.id(2)]).toEqual(['good', 'single', 'empty']);
    expect([ds.indexOf('empty'), ds.indexOf('nope')]).toEqual([2, -1]);
    expect(ds.imagePath(0)).toBe(join(devkit, 'VOCbad', 'JPEGImages', 'good.jpg'));
    const s = await ds.load(0);
    expect([s.width, s.height, s.image.length]).toEqual([64, 48, 64 * 48 * 3]);
    expect(Array.from(s.labels)).toEqual([12, 15, 8]);
    expect(Array.from(s.difficult)).toEqual([0, 0, 1]);
    const empty = await ds.load(2);
    expect(empty.boxes).toHaveLength(0);
  });

  it('refuses ids that would leave the directory, and missing image-set lists', async () => {
    await expect(
      openVocDataset({ root: devkit, sets: [{ year: 'bad', split: 'traversal' }] }),
    ).rejects.toThrow(DatasetLayoutError);
    await expect(
      openVocDataset({ root: devkit, sets: [{ year: 'bad', split: 'nope' }] }),
    ).rejects.toMatchObject({ name: 'DatasetLayoutError', detail: 'image-set list not found' });
  });

  it('takes the first token of per-class lists and rejects an id listed twice', async () => {
    const ds = await openVocDataset({
      root: devkit,
      sets: [{ year: 'bad', split: 'dog_trainval' }],
    });
    expect(ds.size).toBe(2);
    await expect(
      openVocDataset({
        root: devkit,
        sets: [
          { year: 'bad', split: 'good' },
          { dir: join(devkit, 'VOCbad'), split: 'good' },
        ],
      }),
    ).rejects.toThrow(/listed twice/);
  });

  it('throws the first bad image by default; skips and records every one with onInvalid: skip', async () => {
    await expect(
      openVocDataset({ root: devkit, sets: [{ year: 'bad', split: 'all' }] }),
    ).rejects.toThrow(AnnotationError);
    const warnings: DatasetWarning[] = [];
    const ds = await openVocDataset({
      root: devkit,
      sets: [{ year: 'bad', split: 'all' }],
      onInvalid: 'skip',
      onWarning: (w) => warnings.push(w),
    });
    const skipped = Object.fromEntries(ds.skipped.map((s) => [s.id, s.error.name]));
    expect(skipped).toEqual({
      doctype: 'AnnotationError',
      malformed: 'AnnotationError',
      'missing-image': 'ImageError',
      'missing-size': 'AnnotationError',
      negative: 'AnnotationError',
      nonnumeric: 'AnnotationError',
      'unknown-class': 'AnnotationError',
    });
    expect(ds.warningCounts).toEqual({ 'box-clipped': 2, 'box-outside': 1, 'box-degenerate': 2 });
    expect(warnings).toHaveLength(5);
  });

  it('load: corrupt JPEG and size disagreeing with the XML throw ImageError', async () => {
    const ds = await openVocDataset({
      root: devkit,
      sets: [{ year: 'bad', split: 'all' }],
      onInvalid: 'skip',
    });
    const index = (id: string) => Array.from({ length: ds.size }, (_, i) => ds.id(i)).indexOf(id);
    await expect(ds.load(index('corrupt'))).rejects.toMatchObject({
      name: 'ImageError',
      problem: 'corrupt',
      file: join(devkit, 'VOCbad', 'JPEGImages', 'corrupt.jpg'),
    });
    await expect(ds.load(index('size-mismatch'))).rejects.toMatchObject({
      name: 'ImageError',
      problem: 'size-mismatch',
      detail: 'image is 50×30, size-mismatch.xml says 40×30',
    });
    // Downscaled, the size is still checked against the file's own.
    await expect(ds.load(index('size-mismatch'), { maxSide: 20 })).rejects.toMatchObject({
      problem: 'size-mismatch',
      detail: 'image is 50×30, size-mismatch.xml says 40×30',
    });
    await expect(ds.load(index('corrupt'), { maxSide: 0 })).rejects.toThrow(
      'maxSide must be a positive integer, got 0',
    );
  });
});

describe('validateVocDataset', () => {
  it('reports every problem of the data set at once', async () => {
    const report = await validateVocDataset({
      root: devkit,
      sets: [{ year: 'bad', split: 'all' }],
    });
    expect(report.images).toBe(14);
    expect(report.counts).toEqual({
      AnnotationError: 6,
      ImageError: 1,
      'ImageError:corrupt': 1,
      'ImageError:size-mismatch': 1,
      'box-clipped': 2,
      'box-outside': 1,
      'box-degenerate': 2,
    });
    const fields = report.problems.filter((p) => p.kind === 'AnnotationError').map((p) => p.field);
    expect(fields.sort()).toEqual([
      'object[0].bndbox.xmin',
      'object[0].bndbox.ymin',
      'object[0].name',
      'size.width',
      'xml',
      'xml',
    ]);
    // good (3) + single (1) + empty (0) + outside (2) + degenerate (1)
    expect(report.objects).toBe(7);
  });
});

describe('decodeImage', () => {
  it('gives 8-bit RGB for grayscale, CMYK, RGBA and 16-bit PNG input', async () => {
    const gray = await sharp({
      create: { width: 5, height: 4, channels: 3, background: { r: 90, g: 90, b: 90 } },
    })
      .toColourspace('b-w')
      .png()
      .toBuffer();
    const rgba = await sharp({
      create: {
        width: 5,
        height: 4,
        channels: 4,
        background: { r: 10, g: 200, b: 30, alpha: 0.5 },
      },
    })
      .png()
      .toBuffer();
    const cmyk = await sharp({
      create: { width: 5, height: 4, channels: 3, background: { r: 150, g: 100, b: 80 } },
    })
      .toColourspace('cmyk')
      .jpeg()
      .toBuffer();
    const deep = await sharp({
      create: { width: 5, height: 4, channels: 3, background: { r: 255, g: 128, b: 0 } },
    })
      .toColourspace('rgb16')
      .png()
      .toBuffer();
    expect((await sharp(gray).metadata()).channels).toBe(1);
    expect((await sharp(cmyk).metadata()).space).toBe('cmyk');
    for (const [input, rgb] of [
      [gray, [90, 90, 90]],
      [rgba, [10, 200, 30]],
      [cmyk, [150, 100, 80]],
      [deep, [255, 128, 0]],
    ] as const) {
      const d = await decodeImage(input);
      expect([d.width, d.height, d.image.length]).toEqual([5, 4, 60]);
      for (let c = 0; c < 3; c++) expect(Math.abs(d.image[c]! - rgb[c]!)).toBeLessThanOrEqual(12);
    }
  });

  it('applies EXIF orientation', async () => {
    // A 6×2 image, left half red, stored with orientation 6 (rotate 90° clockwise to view).
    const raw = new Uint8Array(6 * 2 * 3);
    for (let y = 0; y < 2; y++) for (let x = 0; x < 3; x++) raw[(y * 6 + x) * 3] = 255;
    const png = await sharp(raw, { raw: { width: 6, height: 2, channels: 3 } })
      .withMetadata({ orientation: 6 })
      .jpeg({ quality: 100 })
      .toBuffer();
    const d = await decodeImage(png);
    expect([d.width, d.height]).toEqual([2, 6]);
    // Rotated clockwise: the red (left) half is now the top.
    expect(d.image[0]).toBeGreaterThan(200);
    expect(d.image[(5 * 2 + 1) * 3]).toBeLessThan(50);
  });

  it('missing file and garbage bytes: ImageError', async () => {
    await expect(decodeImage('/nonexistent/x.jpg')).rejects.toMatchObject({ problem: 'missing' });
    await expect(decodeImage(new Uint8Array([1, 2, 3, 4]), 'g.jpg')).rejects.toMatchObject({
      name: 'ImageError',
      problem: 'corrupt',
      file: 'g.jpg',
    });
  });
});

describe('label-txt layout', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await tempDir();
    await cp(join(fixtures, 'labeltxt'), dir, { recursive: true });
    for (const id of ['good', 'fields', 'unknown', 'nonnumeric', 'labelnum', 'negative', 'boxes']) {
      await writeFile(
        join(dir, `${id}.png`),
        await sharp(await jpeg(64, 48))
          .png()
          .toBuffer(),
      );
    }
  });

  it('reads label_name,label_num,xmin,ymin,xmax,ymax lines as 0-based pixel boxes', async () => {
    const ds = await openLabelTxtDataset({ dir, classes: VOC_CLASSES, onInvalid: 'skip' });
    const i = Array.from({ length: ds.size }, (_, k) => ds.id(k)).indexOf('good');
    const s = await ds.load(i);
    expect(Array.from(s.boxes)).toEqual([1, 2, 30, 40, 10.5, 5, 60.5, 48]);
    expect(Array.from(s.labels)).toEqual([12, 15]);
    expect([s.width, s.height]).toEqual([64, 48]);
  });

  it('reports each bad line with file, field and value', async () => {
    const report = await validateLabelTxtDataset({ dir, classes: VOC_CLASSES });
    const errors = Object.fromEntries(
      report.problems
        .filter((p) => p.severity === 'error')
        .map((p) => [p.id, [p.field, p.message.slice(p.file.length + 2)]]),
    );
    expect(errors).toEqual({
      fields: [
        'line 1',
        'line 1 "dog,12,1,2,30": expected 6 comma-separated fields: label_name,label_num,xmin,ymin,xmax,ymax',
      ],
      unknown: ['line 1.label_name', 'line 1.label_name "unicorn": unknown class'],
      nonnumeric: ['line 1.ymin', 'line 1.ymin "two": expected a number'],
      labelnum: ['line 1.label_num', 'line 1.label_num "x": expected an integer'],
      negative: ['line 1.xmin', 'line 1.xmin "-1": negative coordinate'],
    });
    expect(report.problems.filter((p) => p.severity === 'warning').map((p) => p.kind)).toEqual([
      'box-degenerate',
      'box-clipped',
      'box-outside',
    ]);
  });
});

describe('round trip with tools/make-shapes-voc', () => {
  it('generate → read: boxes, labels, flags and pixels match what the generator drew', async () => {
    const out = await tempDir();
    const made = await makeShapesVoc({ outDir: out, count: 24, seed: 11 });
    const ds = await openVocDataset({
      root: made.root,
      sets: made.sets,
      classes: SHAPES_CLASSES,
    });
    expect(ds.size).toBe(24);
    expect(ds.warnings).toEqual([]);
    let objects = 0;
    for (let i = 0; i < ds.size; i++) {
      const drawn = renderShapesImage(11, Number(ds.id(i)) - 1);
      const s = await ds.load(i);
      expect([s.width, s.height]).toEqual([drawn.width, drawn.height]);
      expect(Array.from(s.boxes)).toEqual(drawn.objects.flatMap((o) => o.box));
      expect(Array.from(s.labels)).toEqual(drawn.objects.map((o) => o.label));
      expect(Array.from(s.difficult)).toEqual(drawn.objects.map((o) => (o.difficult ? 1 : 0)));
      expect(Array.from(ds.annotation(i).truncated)).toEqual(
        drawn.objects.map((o) => (o.truncated ? 1 : 0)),
      );
      // JPEG at quality 90: decoded pixels close to the rendered ones on average.
      let diff = 0;
      for (let k = 0; k < s.image.length; k++) diff += Math.abs(s.image[k]! - drawn.image[k]!);
      expect(diff / s.image.length).toBeLessThan(6);
      objects += s.labels.length;
    }
    expect(objects).toBe(made.objects);
  });

  it('load with maxSide: downscaled to fit, aspect kept, boxes scaled; smaller images as they are', async () => {
    const out = await tempDir();
    const made = await makeShapesVoc({ outDir: out, count: 6, seed: 12 });
    const ds = await openVocDataset({ root: made.root, sets: made.sets, classes: SHAPES_CLASSES });
    for (let i = 0; i < ds.size; i++) {
      const full = await ds.load(i);
      const small = await ds.load(i, { maxSide: 128 });
      const long = Math.max(full.width, full.height);
      expect(Math.max(small.width, small.height)).toBe(128);
      const sx = small.width / full.width;
      const sy = small.height / full.height;
      expect(Math.abs(sx - 128 / long)).toBeLessThan(1 / small.width + 1e-9);
      expect(Math.abs(sy - 128 / long)).toBeLessThan(1 / small.height + 1e-9);
      expect(small.image.length).toBe(small.width * small.height * 3);
      for (let k = 0; k < full.boxes.length; k++) {
        expect(small.boxes[k]).toBeCloseTo(full.boxes[k]! * (k % 2 ? sy : sx), 4);
      }
      expect(Array.from(small.labels)).toEqual(Array.from(full.labels));
      // The file's annotation is untouched.
      expect(Array.from(ds.annotation(i).boxes)).toEqual(Array.from(full.boxes));
      // A bound above the image's size decodes it exactly as without one.
      const same = await ds.load(i, { maxSide: long });
      expect(Buffer.compare(Buffer.from(same.image), Buffer.from(full.image))).toBe(0);
      // Mean colour survives the downscale (Lanczos, not a decimation).
      const mean = (img: Uint8Array) => img.reduce((a, v) => a + v, 0) / img.length;
      expect(Math.abs(mean(small.image) - mean(full.image))).toBeLessThan(2);
    }
  });
});
