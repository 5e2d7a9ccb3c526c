import { XMLParser, XMLValidator } from 'fast-xml-parser';
import { AnnotationError } from './errors';
import type { Annotation, DatasetWarning, DatasetWarningKind } from './types';

/** Options of {@link parseVocAnnotation}. */
export interface ParseAnnotationOptions {
  /** The file name used in errors and warnings. */
  file: string;
  /** The class list; label = index + 1. */
  classes: readonly string[];
  /** Keep objects marked difficult (flagged in `difficult`). Default true, as Caffe SSD. */
  keepDifficult?: boolean;
  /** `'error'` (default) throws on a class name not in `classes`; `'skip'` drops the object with a warning. */
  unknownClass?: 'error' | 'skip';
  /** Receives every recoverable problem (clipped, dropped objects). */
  onWarning?: (warning: DatasetWarning) => void;
}

// Annotations are data from elsewhere: no DOCTYPE (so no external or custom entities
// at all), only the five predefined XML entities, tight expansion limits on top.
const parser = new XMLParser({
  ignoreAttributes: true,
  parseTagValue: false,
  parseAttributeValue: false,
  trimValues: true,
  htmlEntities: false,
  processEntities: {
    enabled: true,
    maxEntityCount: 0,
    maxEntitySize: 0,
    maxTotalExpansions: 10_000,
    maxExpandedLength: 1_000_000,
  },
});

const DOCTYPE = /<!(DOCTYPE|ENTITY)/i;

type Node = Record<string, unknown>;

function asList(value: unknown): unknown[] {
  if (value === undefined || value === null || value === '') return [];
  return Array.isArray(value) ? value : [value];
}

function text(value: unknown): string | undefined {
  if (typeof value === 'string') return value;
  if (typeof value === 'number') return String(value);
  return undefined;
}

/**
 * Parses one VOC annotation (`Annotations/<id>.xml`). Returns boxes in ABSOLUTE,
 * 0-based continuous pixel coordinates: VOC's 1-based inclusive corners
 * (xmin, ymin, xmax, ymax) become (xmin − 1, ymin − 1, xmax, ymax), so a box's width is
 * VOC's `xmax − xmin + 1` and a whole-image box is [0, 0, width, height].
 *
 * Tolerated as real VOC has them: missing `difficult`/`truncated` (0), float
 * coordinates, `<part>` children (ignored), a single `<object>`, no objects at all.
 * Recoverable problems are fixed or dropped and reported through `onWarning`
 * (see {@link DatasetWarningKind}); everything else throws {@link AnnotationError}.
 */
export function parseVocAnnotation(
  xml: string,
  options: ParseAnnotationOptions,
): Omit<Annotation, 'id'> & { filename?: string } {
  const { file, classes, keepDifficult = true, unknownClass = 'error', onWarning } = options;
  if (DOCTYPE.test(xml)) {
    throw new AnnotationError(
      file,
      'xml',
      xml.match(DOCTYPE)![0],
      'document type declarations are not allowed (no external or custom entities)',
    );
  }
  const valid = XMLValidator.validate(xml);
  if (valid !== true) {
    throw new AnnotationError(
      file,
      'xml',
      undefined,
      `malformed XML at line ${valid.err.line}, column ${valid.err.col}: ${valid.err.msg}`,
    );
  }
  let doc: Node;
  try {
    doc = parser.parse(xml) as Node;
  } catch (error) {
    throw new AnnotationError(file, 'xml', undefined, `malformed XML: ${(error as Error).message}`);
  }
  const root = doc.annotation as Node | undefined;
  if (!root || typeof root !== 'object') {
    throw new AnnotationError(file, 'annotation', undefined, 'no <annotation> root element');
  }
  const size = (root.size ?? {}) as Node;
  const dimension = (field: 'width' | 'height'): number => {
    const raw = text(size[field]);
    const value = Number(raw);
    if (raw === undefined || raw === '' || !Number.isInteger(value) || value <= 0) {
      throw new AnnotationError(file, `size.${field}`, raw, 'expected a positive integer');
    }
    return value;
  };
  const width = dimension('width');
  const height = dimension('height');

  const boxes: number[] = [];
  const labels: number[] = [];
  const difficult: number[] = [];
  const truncated: number[] = [];
  const warn = (kind: DatasetWarningKind, field: string, value: string, message: string) =>
    onWarning?.({ kind, file, field, value, message: `${file}: ${field} ${value}: ${message}` });

  asList(root.object).forEach((item, i) => {
    const obj = (typeof item === 'object' && item !== null ? item : {}) as Node;
    const at = `object[${i}]`;
    const name = text(obj.name);
    if (name === undefined || name === '') {
      throw new AnnotationError(file, `${at}.name`, name, 'missing class name');
    }
    const label = classes.indexOf(name) + 1;
    if (label === 0) {
      if (unknownClass === 'skip') {
        warn('unknown-class', `${at}.name`, name, 'class not in the class list; object dropped');
        return;
      }
      throw new AnnotationError(
        file,
        `${at}.name`,
        name,
        `unknown class (expected one of ${classes.join(', ')})`,
      );
    }
    const flag = (field: 'difficult' | 'truncated'): number => {
      const raw = text(obj[field]);
      if (raw === undefined || raw === '') return 0;
      const value = Number(raw);
      if (value !== 0 && value !== 1) {
        throw new AnnotationError(file, `${at}.${field}`, raw, 'expected 0 or 1');
      }
      return value;
    };
    const isDifficult = flag('difficult');
    const isTruncated = flag('truncated');
    const bndbox = obj.bndbox as Node | undefined;
    if (!bndbox || typeof bndbox !== 'object') {
      throw new AnnotationError(file, `${at}.bndbox`, undefined, 'missing bounding box');
    }
    const corner = (field: 'xmin' | 'ymin' | 'xmax' | 'ymax'): number => {
      const raw = text(bndbox[field]);
      const value = raw === undefined || raw.trim() === '' ? NaN : Number(raw);
      if (!Number.isFinite(value)) {
        throw new AnnotationError(file, `${at}.bndbox.${field}`, raw, 'expected a number');
      }
      if (value < 0) {
        throw new AnnotationError(
          file,
          `${at}.bndbox.${field}`,
          raw,
          'negative coordinate (VOC corners are 1-based pixels)',
        );
      }
      return value;
    };
    const xmin = corner('xmin');
    const ymin = corner('ymin');
    const xmax = corner('xmax');
    const ymax = corner('ymax');
    const raw = `${xmin},${ymin},${xmax},${ymax}`;
    if (xmin >= xmax || ymin >= ymax) {
      warn('box-degenerate', `${at}.bndbox`, raw, 'xmin ≥ xmax or ymin ≥ ymax; object dropped');
      return;
    }
    // 1-based inclusive corners → 0-based continuous edges.
    let x0 = xmin - 1;
    let y0 = ymin - 1;
    let x1 = xmax;
    let y1 = ymax;
    if (x0 >= width || y0 >= height || x1 <= 0 || y1 <= 0) {
      warn(
        'box-outside',
        `${at}.bndbox`,
        raw,
        `outside the ${width}×${height} image; object dropped`,
      );
      return;
    }
    if (x0 < 0 || y0 < 0 || x1 > width || y1 > height) {
      x0 = Math.max(0, x0);
      y0 = Math.max(0, y0);
      x1 = Math.min(width, x1);
      y1 = Math.min(height, y1);
      warn(
        'box-clipped',
        `${at}.bndbox`,
        raw,
        `extends past the ${width}×${height} image; clipped`,
      );
    }
    if (isDifficult && !keepDifficult) return;
    boxes.push(x0, y0, x1, y1);
    labels.push(label);
    difficult.push(isDifficult);
    truncated.push(isTruncated);
  });

  const filename = text(root.filename);
  return {
    width,
    height,
    boxes: Float32Array.from(boxes),
    labels: Int32Array.from(labels),
    difficult: Uint8Array.from(difficult),
    truncated: Uint8Array.from(truncated),
    ...(filename === undefined ? {} : { filename }),
  };
}
