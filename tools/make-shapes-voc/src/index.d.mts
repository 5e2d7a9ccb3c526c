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

export interface MakeShapesOptions {
  outDir: string;
  count?: number;
  seed?: number;
  testFraction?: number;
  valFraction?: number;
  quality?: number;
  concurrency?: number;
  minSide?: number;
  maxSide?: number;
  /** Fixed image width (default: drawn from [minSide, maxSide]). */
  width?: number;
  /** Fixed image height (default: drawn from [minSide, maxSide]). */
  height?: number;
  maxObjects?: number;
  difficultProbability?: number;
}

export interface MakeShapesResult {
  /** `outDir/VOCdevkit`: pass as `root` with `year: 'shapes'`. */
  root: string;
  /** `outDir/VOCdevkit/VOCshapes`. */
  dir: string;
  year: string;
  classes: readonly string[];
  images: number;
  objects: number;
  difficult: number;
  truncated: number;
  splits: { train: number; val: number; trainval: number; test: number };
  /** Every image, as `openVocDataset`'s `sets`: trainval then test. */
  sets: { year: string; split: 'trainval' | 'test' }[];
  milliseconds: number;
}

export declare function shapesImageId(index: number): string;
export declare function renderShapesImage(
  seed: number,
  index: number,
  options?: Pick<
    MakeShapesOptions,
    'minSide' | 'maxSide' | 'width' | 'height' | 'maxObjects' | 'difficultProbability'
  >,
): ShapesImage;
export declare function shapesAnnotationXml(image: ShapesImage): string;
export declare function shapesSplits(
  count: number,
  seed: number,
  testFraction: number,
  valFraction: number,
): { train: number[]; val: number[]; trainval: number[]; test: number[] };
export declare function makeShapesVoc(options: MakeShapesOptions): Promise<MakeShapesResult>;
