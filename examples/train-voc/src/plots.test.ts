import sharp from 'sharp';
import { promises as fs } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { drawBoxesPng, escapeXml, lineChartSvg, writeSvgPng } from './plots';

describe('plots', () => {
  it('renders a line chart to a PNG without a browser', async () => {
    const svg = lineChartSvg(
      [
        {
          name: 'total',
          points: [
            [0, 10],
            [1, 5],
            [2, 3],
          ],
        },
        {
          name: 'a<b',
          points: [
            [0, 1],
            [2, NaN],
          ],
        },
      ],
      { title: 'loss', xLabel: 'iteration', yLabel: 'loss', logY: true },
    );
    expect(svg).toContain('a&lt;b');
    expect(svg).not.toContain('NaN');
    const file = path.join(await fs.mkdtemp(path.join(tmpdir(), 'plot-')), 'loss.png');
    await writeSvgPng(svg, file);
    const meta = await sharp(file).metadata();
    expect(meta.format).toBe('png');
    expect(meta.width).toBe(720);
    await fs.rm(path.dirname(file), { recursive: true });
  });

  it('draws boxes in the right place', async () => {
    const width = 40;
    const height = 30;
    const image = new Uint8Array(width * height * 3); // black
    const png = await drawBoxesPng(
      { data: image, width, height },
      [
        {
          box: { xMin: 10, yMin: 10, xMax: 30, yMax: 25 },
          classId: 1,
          label: 'circle',
          score: 0.9,
        },
      ],
      { scale: 1 },
    );
    const { data, info } = await sharp(png)
      .removeAlpha()
      .raw()
      .toBuffer({ resolveWithObject: true });
    expect([info.width, info.height]).toEqual([40, 30]);
    const at = (x: number, y: number) =>
      data[(y * width + x) * 3]! + data[(y * width + x) * 3 + 1]! + data[(y * width + x) * 3 + 2]!;
    expect(at(20, 25)).toBeGreaterThan(100); // bottom edge drawn
    expect(at(20, 18)).toBe(0); // inside stays black
    expect(at(2, 28)).toBe(0); // outside stays black
    await expect(drawBoxesPng({ data: image.subarray(1), width, height }, [])).rejects.toThrow(
      /expected 40×30×3/,
    );
  });

  it('escapes XML', () => {
    expect(escapeXml(`<&'">`)).toBe('&lt;&amp;&apos;&quot;&gt;');
  });
});
