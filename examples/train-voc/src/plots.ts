import sharp from 'sharp';

/**
 * Plots as SVG strings, rasterised to PNG with sharp (librsvg): no browser,
 * no canvas package. Text needs a system font; without one, the lines are
 * still drawn.
 */
export interface Series {
  readonly name: string;
  readonly points: readonly (readonly [number, number])[];
  readonly color?: string;
}

export interface ChartOptions {
  readonly title: string;
  readonly xLabel: string;
  readonly yLabel: string;
  readonly width?: number;
  readonly height?: number;
  /** Fixed axis ranges; by default the data's range. */
  readonly xRange?: readonly [number, number];
  readonly yRange?: readonly [number, number];
  readonly logY?: boolean;
}

const PALETTE = [
  '#1f77b4',
  '#ff7f0e',
  '#2ca02c',
  '#d62728',
  '#9467bd',
  '#8c564b',
  '#e377c2',
  '#7f7f7f',
  '#bcbd22',
  '#17becf',
];

/** A colour per class id, stable across plots. */
export function classColor(classId: number): string {
  return PALETTE[(((classId - 1) % PALETTE.length) + PALETTE.length) % PALETTE.length]!;
}

export function escapeXml(s: string): string {
  return s.replace(/[<>&'"]/g, (c) =>
    c === '<' ? '&lt;' : c === '>' ? '&gt;' : c === '&' ? '&amp;' : c === "'" ? '&apos;' : '&quot;',
  );
}

function niceTicks(lo: number, hi: number, count = 5): number[] {
  if (!(hi > lo)) return [lo];
  const raw = (hi - lo) / count;
  const mag = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 5, 10].map((m) => m * mag).find((s) => s >= raw) ?? raw;
  const out: number[] = [];
  for (let v = Math.ceil(lo / step) * step; v <= hi + step * 1e-9; v += step) {
    out.push(Number(v.toPrecision(12)));
  }
  return out;
}

function fmt(v: number): string {
  if (v === 0) return '0';
  const a = Math.abs(v);
  if (a >= 1e4 || a < 1e-3) return v.toExponential(0);
  return String(Number(v.toPrecision(4)));
}

/** A line chart of one or more series as an SVG document. */
export function lineChartSvg(series: readonly Series[], options: ChartOptions): string {
  const W = options.width ?? 720;
  const H = options.height ?? 420;
  const m = { left: 70, right: 160, top: 40, bottom: 50 };
  const pw = W - m.left - m.right;
  const ph = H - m.top - m.bottom;
  const ty = (v: number): number => (options.logY ? Math.log10(Math.max(v, 1e-12)) : v);
  const all = series.flatMap((s) => s.points).filter(([x, y]) => isFinite(x) && isFinite(ty(y)));
  const xs = all.map((p) => p[0]);
  const ys = all.map((p) => ty(p[1]));
  // Loops, not Math.min(...xs): a 120k-iteration log would overflow the call stack.
  const min = (v: number[], start: number): number => v.reduce((a, b) => (b < a ? b : a), start);
  const max = (v: number[], start: number): number => v.reduce((a, b) => (b > a ? b : a), start);
  const x0 = options.xRange?.[0] ?? min(xs, 0);
  let x1 = options.xRange?.[1] ?? max(xs, 1);
  let [y0, y1] = options.yRange
    ? [ty(options.yRange[0]), ty(options.yRange[1])]
    : [min(ys, options.logY ? Infinity : 0), max(ys, -Infinity)];
  if (!isFinite(y0) || !isFinite(y1)) [y0, y1] = [0, 1];
  if (y1 <= y0) y1 = y0 + 1;
  if (x1 <= x0) x1 = x0 + 1;
  const sx = (x: number): number => m.left + ((x - x0) / (x1 - x0)) * pw;
  const sy = (y: number): number => m.top + ph - ((ty(y) - y0) / (y1 - y0)) * ph;
  const parts: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" font-family="DejaVu Sans, Arial, sans-serif">`,
    `<rect width="${W}" height="${H}" fill="white"/>`,
    `<text x="${W / 2 - m.right / 2}" y="24" font-size="16" text-anchor="middle">${escapeXml(options.title)}</text>`,
    `<rect x="${m.left}" y="${m.top}" width="${pw}" height="${ph}" fill="none" stroke="#333"/>`,
  ];
  for (const t of niceTicks(x0, x1)) {
    const x = sx(t);
    parts.push(
      `<line x1="${x}" y1="${m.top}" x2="${x}" y2="${m.top + ph}" stroke="#ddd"/>`,
      `<text x="${x}" y="${m.top + ph + 18}" font-size="12" text-anchor="middle">${fmt(t)}</text>`,
    );
  }
  for (const t of niceTicks(y0, y1)) {
    const y = m.top + ph - ((t - y0) / (y1 - y0)) * ph;
    const label = options.logY ? fmt(10 ** t) : fmt(t);
    parts.push(
      `<line x1="${m.left}" y1="${y}" x2="${m.left + pw}" y2="${y}" stroke="#ddd"/>`,
      `<text x="${m.left - 6}" y="${y + 4}" font-size="12" text-anchor="end">${label}</text>`,
    );
  }
  parts.push(
    `<text x="${m.left + pw / 2}" y="${H - 12}" font-size="13" text-anchor="middle">${escapeXml(options.xLabel)}</text>`,
    `<text x="16" y="${m.top + ph / 2}" font-size="13" text-anchor="middle" transform="rotate(-90 16 ${m.top + ph / 2})">${escapeXml(options.yLabel)}</text>`,
  );
  series.forEach((s, i) => {
    const color = s.color ?? PALETTE[i % PALETTE.length]!;
    const pts = s.points
      .filter(([x, y]) => isFinite(x) && isFinite(ty(y)))
      .map(([x, y]) => `${sx(x).toFixed(1)},${sy(y).toFixed(1)}`)
      .join(' ');
    if (pts) {
      parts.push(`<polyline points="${pts}" fill="none" stroke="${color}" stroke-width="1.8"/>`);
    }
    const ly = m.top + 10 + i * 18;
    parts.push(
      `<line x1="${m.left + pw + 12}" y1="${ly}" x2="${m.left + pw + 32}" y2="${ly}" stroke="${color}" stroke-width="3"/>`,
      `<text x="${m.left + pw + 38}" y="${ly + 4}" font-size="12">${escapeXml(s.name)}</text>`,
    );
  });
  parts.push('</svg>');
  return parts.join('\n');
}

/** Rasterises an SVG document to a PNG file. */
export async function writeSvgPng(svg: string, file: string): Promise<void> {
  await sharp(Buffer.from(svg)).png().toFile(file);
}

export interface DrawnBox {
  readonly box: { xMin: number; yMin: number; xMax: number; yMax: number };
  readonly classId: number;
  readonly label?: string;
  readonly score?: number;
}

/**
 * The image with boxes and "label score" tags drawn on it, as PNG bytes.
 * `image` is packed RGB, `width·height·3` bytes; boxes are in its pixels.
 * Ground-truth boxes, when given, are drawn dashed in grey under the predictions.
 */
export async function drawBoxesPng(
  image: { data: Uint8Array; width: number; height: number },
  boxes: readonly DrawnBox[],
  options: { groundTruth?: readonly DrawnBox[]; scale?: number } = {},
): Promise<Buffer> {
  const { width, height } = image;
  if (image.data.length !== width * height * 3) {
    throw new RangeError(
      `drawBoxesPng: expected ${width}×${height}×3 = ${width * height * 3} bytes, got ${image.data.length}`,
    );
  }
  const scale = options.scale ?? Math.max(1, Math.round(320 / Math.max(width, height)));
  const W = width * scale;
  const H = height * scale;
  const parts = [`<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}">`];
  for (const g of options.groundTruth ?? []) {
    const { xMin, yMin, xMax, yMax } = g.box;
    parts.push(
      `<rect x="${xMin * scale}" y="${yMin * scale}" width="${(xMax - xMin) * scale}" height="${(yMax - yMin) * scale}" fill="none" stroke="#bbbbbb" stroke-width="1.5" stroke-dasharray="4 3"/>`,
    );
  }
  for (const d of boxes) {
    const { xMin, yMin, xMax, yMax } = d.box;
    const color = classColor(d.classId);
    const tag = `${d.label ?? `class ${d.classId}`}${d.score === undefined ? '' : ` ${d.score.toFixed(2)}`}`;
    const tx = Math.max(0, xMin * scale);
    const ty = Math.max(14, yMin * scale);
    parts.push(
      `<rect x="${xMin * scale}" y="${yMin * scale}" width="${(xMax - xMin) * scale}" height="${(yMax - yMin) * scale}" fill="none" stroke="${color}" stroke-width="2"/>`,
      `<rect x="${tx}" y="${ty - 14}" width="${tag.length * 7 + 6}" height="14" fill="${color}"/>`,
      `<text x="${tx + 3}" y="${ty - 3}" font-size="11" font-family="DejaVu Sans, Arial, sans-serif" fill="white">${escapeXml(tag)}</text>`,
    );
  }
  parts.push('</svg>');
  return sharp(Buffer.from(image.data.buffer, image.data.byteOffset, image.data.byteLength), {
    raw: { width, height, channels: 3 },
  })
    .resize(W, H, { kernel: 'nearest' })
    .composite([{ input: Buffer.from(parts.join('')), top: 0, left: 0 }])
    .png()
    .toBuffer();
}
