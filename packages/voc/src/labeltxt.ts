import { AnnotationError } from './errors';
import type { DatasetWarning, DatasetWarningKind } from './types';

/**
 * Parses one label file of the simple layout: one object a line,
 * `label_name,label_num,xmin,ymin,xmax,ymax`, corners ABSOLUTE 0-based pixel edges
 * (taken as they are; no 1-based shift). The label comes from `label_name` looked up
 * in `classes`; `label_num` must be an integer and is otherwise ignored (files in the
 * wild number classes from 0 or 1). Blank lines are skipped. Same error and warning
 * rules as {@link parseVocAnnotation}.
 */
export function parseLabelTxt(
  content: string,
  options: {
    file: string;
    classes: readonly string[];
    width: number;
    height: number;
    unknownClass?: 'error' | 'skip';
    onWarning?: (warning: DatasetWarning) => void;
  },
): { boxes: Float32Array; labels: Int32Array } {
  const { file, classes, width, height, unknownClass = 'error', onWarning } = options;
  const warn = (kind: DatasetWarningKind, field: string, value: string, message: string) =>
    onWarning?.({ kind, file, field, value, message: `${file}: ${field} ${value}: ${message}` });
  const boxes: number[] = [];
  const labels: number[] = [];
  content.split(/\r?\n/).forEach((line, i) => {
    if (line.trim() === '') return;
    const at = `line ${i + 1}`;
    const fields = line.split(',').map((f) => f.trim());
    if (fields.length !== 6) {
      throw new AnnotationError(
        file,
        at,
        line,
        'expected 6 comma-separated fields: label_name,label_num,xmin,ymin,xmax,ymax',
      );
    }
    const [name, num, ...corners] = fields as [string, string, string, string, string, string];
    const label = classes.indexOf(name) + 1;
    if (label === 0) {
      if (unknownClass === 'skip') {
        warn(
          'unknown-class',
          `${at}.label_name`,
          name,
          'class not in the class list; object dropped',
        );
        return;
      }
      throw new AnnotationError(file, `${at}.label_name`, name, 'unknown class');
    }
    if (!/^-?\d+$/.test(num)) {
      throw new AnnotationError(file, `${at}.label_num`, num, 'expected an integer');
    }
    const names = ['xmin', 'ymin', 'xmax', 'ymax'];
    const [x0, y0, x1, y1] = corners.map((raw, k) => {
      const value = raw === '' ? NaN : Number(raw);
      if (!Number.isFinite(value)) {
        throw new AnnotationError(file, `${at}.${names[k]}`, raw, 'expected a number');
      }
      if (value < 0)
        throw new AnnotationError(file, `${at}.${names[k]}`, raw, 'negative coordinate');
      return value;
    }) as [number, number, number, number];
    const raw = corners.join(',');
    if (x0 >= x1 || y0 >= y1) {
      warn('box-degenerate', at, raw, 'xmin ≥ xmax or ymin ≥ ymax; object dropped');
      return;
    }
    if (x0 >= width || y0 >= height) {
      warn('box-outside', at, raw, `outside the ${width}×${height} image; object dropped`);
      return;
    }
    if (x1 > width || y1 > height) {
      warn('box-clipped', at, raw, `extends past the ${width}×${height} image; clipped`);
    }
    boxes.push(x0, y0, Math.min(x1, width), Math.min(y1, height));
    labels.push(label);
  });
  return { boxes: Float32Array.from(boxes), labels: Int32Array.from(labels) };
}
