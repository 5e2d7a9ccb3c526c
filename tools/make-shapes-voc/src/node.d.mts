import type { ShapesImageOptions } from './index.mjs';

export interface MakeShapesOptions extends ShapesImageOptions {
  outDir: string;
  count?: number;
  seed?: number;
  testFraction?: number;
  valFraction?: number;
  quality?: number;
  concurrency?: number;
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

/**
 * Writes the data set under `outDir/VOCdevkit/VOCshapes/` (JPEG via sharp, VOC XML,
 * image sets), replacing a previous one there.
 */
export declare function makeShapesVoc(options: MakeShapesOptions): Promise<MakeShapesResult>;
