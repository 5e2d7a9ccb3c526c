/** The class list, in label order (label = index + 1; 0 is background). */
export declare const SHAPES_CLASSES: readonly [
  'circle',
  'square',
  'triangle',
  'star',
  'cross',
  'diamond',
];
/** The `year` part of the data set's directory name: `VOCdevkit/VOCshapes`. */
export declare const SHAPES_YEAR: 'shapes';
/** Changes whenever the same options would give other images or splits; caches compare it. */
export declare const SHAPES_GENERATOR_VERSION: 2;
export declare const SHAPES_DEFAULTS: Readonly<{
  count: number;
  seed: number;
  testFraction: number;
  valFraction: number;
  quality: number;
  minSide: number;
  maxSide: number;
  maxObjects: number;
  difficultProbability: number;
}>;

export interface ShapesObject {
  name: string;
  /** 1-based label in {@link SHAPES_CLASSES} order. */
  label: number;
  /** xyxy, absolute, 0-based continuous pixel edges (pixels 3..9 → [3, 10]). */
  box: [number, number, number, number];
  truncated: boolean;
  difficult: boolean;
}

export interface ShapesImage {
  id: string;
  width: number;
  height: number;
  /** RGB, `[height * width * 3]`. */
  image: Uint8Array;
  objects: ShapesObject[];
}

/** How {@link renderShapesImage} draws an image (defaults: {@link SHAPES_DEFAULTS}). */
export interface ShapesImageOptions {
  minSide?: number;
  maxSide?: number;
  /** Fixed image width (default: drawn from [minSide, maxSide]). */
  width?: number;
  /** Fixed image height (default: drawn from [minSide, maxSide]). */
  height?: number;
  maxObjects?: number;
  difficultProbability?: number;
}

export declare function shapesImageId(index: number): string;
export declare function renderShapesImage(
  seed: number,
  index: number,
  options?: ShapesImageOptions,
): ShapesImage;
export declare function shapesAnnotationXml(image: ShapesImage): string;
export declare function shapesSplits(
  count: number,
  seed: number,
  testFraction: number,
  valFraction: number,
): { train: number[]; val: number[]; trainval: number[]; test: number[] };
