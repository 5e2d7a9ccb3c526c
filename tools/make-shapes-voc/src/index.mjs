// @ts-check
// The embedded synthetic data set: coloured shapes on textured backgrounds, written in
// exact Pascal VOC layout (JPEGImages/*.jpg, Annotations/*.xml with 1-based inclusive
// pixel corners, ImageSets/Main/{train,val,trainval,test}.txt and per-class lists).
// Everything is a pure function of (seed, image index), so a run is reproducible and
// images can be rendered in any order or in parallel.
//
// This entry is browser-safe (no Node built-in, no sharp): it renders images to RGB
// pixels in memory. Writing JPEG files is `@ssd/make-shapes-voc/node`'s `makeShapesVoc`.
import { createRng, mixSeed, permutation } from '@ssd/random';

/** The class list, in label order (label = index + 1; 0 is background). */
export const SHAPES_CLASSES = Object.freeze([
  'circle',
  'square',
  'triangle',
  'star',
  'cross',
  'diamond',
]);

/** The `year` part of the data set's directory name: `VOCdevkit/VOCshapes`. */
export const SHAPES_YEAR = 'shapes';

/** Defaults of the generator (`renderShapesImage`, `shapesSplits`, `@ssd/make-shapes-voc/node`'s `makeShapesVoc`). */
export const SHAPES_DEFAULTS = Object.freeze({
  count: 1000,
  seed: 1,
  testFraction: 0.2,
  valFraction: 0.25,
  quality: 90,
  minSide: 240,
  maxSide: 500,
  maxObjects: 6,
  difficultProbability: 0.3,
});

/**
 * The generator's version: it changes whenever the same options would give other
 * images or splits (2: the streams of `@ssd/random`'s `mixSeed`). A cache of a
 * generated set stores it with the options and regenerates when it differs.
 */
export const SHAPES_GENERATOR_VERSION = 2;

/** @param {number} index */
export function shapesImageId(index) {
  return String(index + 1).padStart(6, '0');
}

/**
 * @typedef {{ name: string, label: number, box: [number, number, number, number],
 *   truncated: boolean, difficult: boolean }} ShapesObject
 *   `box`: xyxy, absolute, 0-based continuous pixel edges (a box covering pixel
 *   columns 3..9 is [3, 10]); the XML stores it 1-based inclusive ([4, 10]).
 * @typedef {{ id: string, width: number, height: number, image: Uint8Array,
 *   objects: ShapesObject[] }} ShapesImage
 */

/**
 * HSV (h in [0, 6), s, v in [0, 1]) to RGB 0..255.
 * @param {number} h @param {number} s @param {number} v
 * @returns {number[]}
 */
function hsv(h, s, v) {
  const i = Math.floor(h) % 6;
  const f = h - Math.floor(h);
  const p = v * (1 - s);
  const q = v * (1 - s * f);
  const t = v * (1 - s * (1 - f));
  const rgb = [
    [v, t, p],
    [q, v, p],
    [p, v, t],
    [p, q, v],
    [t, p, v],
    [v, p, q],
  ][i];
  return rgb.map((c) => Math.round(c * 255));
}

/** @param {number[]} c */
const luma = (c) => 0.299 * c[0] + 0.587 * c[1] + 0.114 * c[2];

/**
 * Fills the image with a muted, textured background: a two-colour gradient plus one
 * of stripes, a checkerboard or soft blobs, plus per-pixel noise.
 * @param {Uint8Array} img @param {number} W @param {number} H @param {() => number} rng
 * @returns {number[]} the background's mean colour (for contrast checks)
 */
function paintBackground(img, W, H, rng) {
  const c0 = hsv(rng() * 6, 0.1 + rng() * 0.3, 0.3 + rng() * 0.5);
  const c1 = hsv(rng() * 6, 0.1 + rng() * 0.3, 0.3 + rng() * 0.5);
  const kind = Math.floor(rng() * 3);
  const period = 8 + rng() * 40;
  const angle = rng() * Math.PI;
  const ca = Math.cos(angle) / period;
  const sa = Math.sin(angle) / period;
  const amp = 10 + rng() * 25;
  const noise = 6 + rng() * 14;
  const gx = rng() < 0.5;
  const blobs = Array.from({ length: 4 }, () => [rng() * W, rng() * H, 20 + rng() * 120]);
  let state = (rng() * 4294967296) >>> 0;
  for (let y = 0; y < H; y++) {
    for (let x = 0; x < W; x++) {
      const g = gx ? x / W : y / H;
      let tex;
      if (kind === 0) {
        tex = Math.sin((x * ca + y * sa) * 2 * Math.PI);
      } else if (kind === 1) {
        tex = (Math.floor(x / period) + Math.floor(y / period)) & 1 ? 1 : -1;
      } else {
        tex = -1;
        for (const [bx, by, br] of blobs) {
          const d = ((x - bx) ** 2 + (y - by) ** 2) / (br * br);
          if (d < 1) tex += 2 * (1 - d);
        }
      }
      // xorshift noise: cheaper than a full RNG call per channel.
      state ^= state << 13;
      state ^= state >>> 17;
      state ^= state << 5;
      const n = ((state >>> 0) / 4294967296 - 0.5) * 2 * noise;
      const o = (y * W + x) * 3;
      for (let c = 0; c < 3; c++) {
        const v = c0[c] * (1 - g) + c1[c] * g + tex * amp + n;
        img[o + c] = v < 0 ? 0 : v > 255 ? 255 : v;
      }
    }
  }
  return [0, 1, 2].map((c) => (c0[c] + c1[c]) / 2);
}

/**
 * The polygon (or circle) of a shape in continuous pixel coordinates.
 * @param {string} name @param {number} cx @param {number} cy @param {number} r
 * @param {() => number} rng
 * @returns {{ circle?: { cx: number, cy: number, r: number }, polygon?: number[] }}
 */
function shapeGeometry(name, cx, cy, r, rng) {
  /** @param {number} n @param {number} rot @param {(k: number) => number} radius */
  const radial = (n, rot, radius) => {
    const pts = [];
    for (let k = 0; k < n; k++) {
      const a = rot + (k * 2 * Math.PI) / n;
      pts.push(cx + radius(k) * Math.cos(a), cy + radius(k) * Math.sin(a));
    }
    return pts;
  };
  switch (name) {
    case 'circle':
      return { circle: { cx, cy, r } };
    case 'square':
      return { polygon: [cx - r, cy - r, cx + r, cy - r, cx + r, cy + r, cx - r, cy + r] };
    case 'triangle': {
      const rot = -Math.PI / 2 + (rng() - 0.5) * 0.4;
      return { polygon: radial(3, rot, () => r * 1.1) };
    }
    case 'star': {
      const rot = -Math.PI / 2 + (rng() - 0.5) * 0.6;
      return { polygon: radial(10, rot, (k) => (k % 2 ? r * 0.45 : r)) };
    }
    case 'cross': {
      const t = r * 0.33;
      return {
        polygon: [
          [-t, -r],
          [t, -r],
          [t, -t],
          [r, -t],
          [r, t],
          [t, t],
          [t, r],
          [-t, r],
          [-t, t],
          [-r, t],
          [-r, -t],
          [-t, -t],
        ].flatMap(([dx, dy]) => [cx + dx, cy + dy]),
      };
    }
    case 'diamond': {
      const rx = r * (0.6 + rng() * 0.25);
      return { polygon: [cx, cy - r, cx + rx, cy, cx, cy + r, cx - rx, cy] };
    }
    default:
      throw new Error(`unknown shape ${name}`);
  }
}

/**
 * Calls `span(y, x0, x1)` for every row's run of pixels whose centre lies inside the
 * shape (even-odd rule), clipped to the image.
 * @param {{ circle?: { cx: number, cy: number, r: number }, polygon?: number[] }} geom
 * @param {number} W @param {number} H
 * @param {(y: number, x0: number, x1: number) => void} span  x1 exclusive
 */
function rasterize(geom, W, H, span) {
  if (geom.circle) {
    const { cx, cy, r } = geom.circle;
    const y0 = Math.max(0, Math.ceil(cy - r - 0.5));
    const y1 = Math.min(H - 1, Math.floor(cy + r - 0.5));
    for (let y = y0; y <= y1; y++) {
      const dy = y + 0.5 - cy;
      const half = Math.sqrt(Math.max(0, r * r - dy * dy));
      const xa = Math.max(0, Math.ceil(cx - half - 0.5));
      const xb = Math.min(W, Math.ceil(cx + half - 0.5));
      if (xb > xa) span(y, xa, xb);
    }
    return;
  }
  const p = /** @type {number[]} */ (geom.polygon);
  const n = p.length / 2;
  let minY = Infinity;
  let maxY = -Infinity;
  for (let k = 0; k < n; k++) {
    minY = Math.min(minY, p[2 * k + 1]);
    maxY = Math.max(maxY, p[2 * k + 1]);
  }
  const xs = [];
  for (let y = Math.max(0, Math.ceil(minY - 0.5)); y <= Math.min(H - 1, maxY); y++) {
    const yc = y + 0.5;
    xs.length = 0;
    for (let k = 0; k < n; k++) {
      const ax = p[2 * k];
      const ay = p[2 * k + 1];
      const bx = p[(2 * k + 2) % (2 * n)];
      const by = p[(2 * k + 3) % (2 * n)];
      if (ay <= yc !== by <= yc) xs.push(ax + ((yc - ay) / (by - ay)) * (bx - ax));
    }
    xs.sort((a, b) => a - b);
    for (let k = 0; k + 1 < xs.length; k += 2) {
      const xa = Math.max(0, Math.ceil(xs[k] - 0.5));
      const xb = Math.min(W, Math.ceil(xs[k + 1] - 0.5));
      if (xb > xa) span(y, xa, xb);
    }
  }
}

/** @param {number[]} a @param {number[]} b */
function intersection(a, b) {
  const w = Math.min(a[2], b[2]) - Math.max(a[0], b[0]);
  const h = Math.min(a[3], b[3]) - Math.max(a[1], b[1]);
  return w > 0 && h > 0 ? w * h : 0;
}

/**
 * Renders image `index` of the data set with `seed`: its RGB pixels and the objects
 * drawn, with boxes taken from the pixels actually rasterised (the full extent of each
 * shape inside the image, occluded parts included, as VOC annotates).
 * @param {number} seed @param {number} index
 * @param {{ minSide?: number, maxSide?: number, width?: number, height?: number,
 *   maxObjects?: number, difficultProbability?: number }} [options]
 *   `width`/`height` fix the image size (e.g. 500×375 for benchmarks); by default
 *   each side is drawn from [minSide, maxSide].
 * @returns {ShapesImage}
 */
export function renderShapesImage(seed, index, options = {}) {
  const { minSide, maxSide, maxObjects, difficultProbability } = { ...SHAPES_DEFAULTS, ...options };
  const rng = createRng(mixSeed(seed, index));
  const drawnW = Math.round(minSide + rng() * (maxSide - minSide));
  const drawnH = Math.round(minSide + rng() * (maxSide - minSide));
  const W = options.width ?? drawnW;
  const H = options.height ?? drawnH;
  const image = new Uint8Array(W * H * 3);
  const bg = paintBackground(image, W, H, rng);
  const side = Math.min(W, H);
  const numObjects = 1 + Math.floor(rng() * maxObjects);
  /** @type {ShapesObject[]} */
  const objects = [];
  /** @type {number[][]} */
  const placed = [];
  for (let k = 0; k < numObjects; k++) {
    const difficult = k === numObjects - 1 && numObjects > 1 && rng() < difficultProbability;
    const classIndex = Math.floor(rng() * SHAPES_CLASSES.length);
    const name = SHAPES_CLASSES[classIndex];
    // r is the half-extent: normal objects span 10%..45% of the short side, tiny
    // (difficult) ones 2.5%..5%.
    const r = (side * (difficult ? 0.025 + rng() * 0.025 : 0.1 + rng() * 0.35)) / 2;
    const truncate = !difficult && rng() < 0.2;
    let geom;
    let box;
    for (let attempt = 0; attempt < 30 && !box; attempt++) {
      // A truncated object's centre may sit up to 0.6 r past the border: at least
      // ~40% of its extent stays visible.
      const margin = truncate ? -0.6 * r : r + 1;
      const cx = margin + rng() * (W - 2 * margin);
      const cy = margin + rng() * (H - 2 * margin);
      const candidate = shapeGeometry(name, cx, cy, r, rng);
      let x0 = Infinity;
      let y0 = Infinity;
      let x1 = -Infinity;
      let y1 = -Infinity;
      rasterize(candidate, W, H, (y, xa, xb) => {
        x0 = Math.min(x0, xa);
        x1 = Math.max(x1, xb);
        y0 = Math.min(y0, y);
        y1 = Math.max(y1, y + 1);
      });
      if (!(x1 - x0 >= 3 && y1 - y0 >= 3)) continue;
      const b = [x0, y0, x1, y1];
      const area = (x1 - x0) * (y1 - y0);
      // Overlap, but keep every object learnable: a later shape hides at most 35% of
      // an earlier one's box, and no two boxes have IoU above 0.4.
      const crowded = placed.some((q) => {
        const inter = intersection(b, q);
        const qArea = (q[2] - q[0]) * (q[3] - q[1]);
        return inter > 0.35 * qArea || inter / (area + qArea - inter) > 0.4;
      });
      if (crowded) continue;
      geom = candidate;
      box = b;
    }
    if (!box || !geom) continue;
    let colour = hsv(rng() * 6, 0.55 + rng() * 0.45, 0.55 + rng() * 0.45);
    for (let tries = 0; tries < 8 && Math.abs(luma(colour) - luma(bg)) < 45; tries++) {
      colour = hsv(rng() * 6, 0.55 + rng() * 0.45, rng() < 0.5 ? 0.15 + rng() * 0.2 : 0.9);
    }
    const shade = 0.25 * rng();
    let state = (rng() * 4294967296) >>> 0 || 1;
    const bh = box[3] - box[1];
    rasterize(geom, W, H, (y, xa, xb) => {
      // A soft vertical shading and light noise so shapes are not perfectly flat.
      const s = 1 - shade * ((y - box[1]) / bh);
      for (let x = xa; x < xb; x++) {
        state ^= state << 13;
        state ^= state >>> 17;
        state ^= state << 5;
        const n = ((state >>> 0) / 4294967296 - 0.5) * 12;
        const o = (y * W + x) * 3;
        for (let c = 0; c < 3; c++) {
          const v = colour[c] * s + n;
          image[o + c] = v < 0 ? 0 : v > 255 ? 255 : v;
        }
      }
    });
    placed.push(box);
    objects.push({
      name,
      label: classIndex + 1,
      box: /** @type {[number, number, number, number]} */ (box),
      truncated: truncate && isTruncated(geom, W, H),
      difficult,
    });
  }
  return { id: shapesImageId(index), width: W, height: H, image, objects };
}

/**
 * Whether the shape's continuous extent crosses the image border.
 * @param {{ circle?: { cx: number, cy: number, r: number }, polygon?: number[] }} geom
 * @param {number} W @param {number} H
 */
function isTruncated(geom, W, H) {
  if (geom.circle) {
    const { cx, cy, r } = geom.circle;
    return cx - r < 0 || cy - r < 0 || cx + r > W || cy + r > H;
  }
  const p = /** @type {number[]} */ (geom.polygon);
  for (let k = 0; k < p.length; k += 2) {
    if (p[k] < 0 || p[k] > W || p[k + 1] < 0 || p[k + 1] > H) return true;
  }
  return false;
}

/**
 * The VOC XML of one image. Corners are written 1-based and inclusive, as in VOC: the
 * object covering 0-based pixel columns 3..9 (box [3, 10]) is written xmin 4, xmax 10.
 * @param {ShapesImage} img
 */
export function shapesAnnotationXml(img) {
  const objects = img.objects
    .map(
      (o) => `  <object>
    <name>${o.name}</name>
    <pose>Unspecified</pose>
    <truncated>${o.truncated ? 1 : 0}</truncated>
    <difficult>${o.difficult ? 1 : 0}</difficult>
    <bndbox>
      <xmin>${o.box[0] + 1}</xmin>
      <ymin>${o.box[1] + 1}</ymin>
      <xmax>${o.box[2]}</xmax>
      <ymax>${o.box[3]}</ymax>
    </bndbox>
  </object>
`,
    )
    .join('');
  return `<annotation>
  <folder>VOC${SHAPES_YEAR}</folder>
  <filename>${img.id}.jpg</filename>
  <source>
    <database>The SSD-on-TensorFlow.js shapes database (seeded, synthetic)</database>
  </source>
  <size>
    <width>${img.width}</width>
    <height>${img.height}</height>
    <depth>3</depth>
  </size>
  <segmented>0</segmented>
${objects}</annotation>
`;
}

/**
 * The image sets: a permutation drawn from `mixSeed(seed)` (one part, so no image's
 * `(seed, index)` stream), the first `testFraction` of it is `test`,
 * then `valFraction` of the rest is `val`, the remainder `train`. Lists are sorted.
 * @param {number} count @param {number} seed @param {number} testFraction @param {number} valFraction
 */
export function shapesSplits(count, seed, testFraction, valFraction) {
  const order = Array.from(permutation(count, createRng(mixSeed(seed))));
  const nTest = Math.round(count * testFraction);
  const nVal = Math.round((count - nTest) * valFraction);
  const sorted = (/** @type {number[]} */ a) => a.sort((x, y) => x - y);
  const test = sorted(order.slice(0, nTest));
  const val = sorted(order.slice(nTest, nTest + nVal));
  const train = sorted(order.slice(nTest + nVal));
  const trainval = sorted([...train, ...val]);
  return { train, val, trainval, test };
}
