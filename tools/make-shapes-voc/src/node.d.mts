import type { ShapesImageOptions } from './index.mjs';

export interface MakeShapesOptions extends ShapesImageOptions {
  outDir: string;
  count?: number;
  seed?: number;
  testFraction?: number;
  valFraction?: number;
  /** JPEG quality (default 90). */
  quality?: number;
  /**
   * Worker threads that render and encode images (default `os.availableParallelism()`;
   * 0 renders in the calling thread). The files are the same for any count.
   */
  workers?: number;
  /** Images in flight per worker (one renders while others encode; default 2). */
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
