// @ts-check
// One image of the data set, rendered, encoded and written: what each worker thread
// (worker.mjs) does, and makeShapesVoc itself with `workers: 0`.
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import sharp from 'sharp';
import { renderShapesImage, shapesAnnotationXml } from './index.mjs';

/**
 * @typedef {{ dir: string, seed: number, quality: number,
 *   render: import('./index.mjs').ShapesImageOptions }} WriteJob
 *   `dir`: the `VOCshapes` folder (JPEGImages/ and Annotations/ exist).
 * @typedef {{ objects: { name: string, difficult: boolean, truncated: boolean }[] }} ShapesImageSummary
 *   What the image sets need of an image.
 */

/**
 * Renders image `index` of `job`, writes `JPEGImages/<id>.jpg` and
 * `Annotations/<id>.xml`, and returns its objects' names and flags.
 * @param {WriteJob} job @param {number} index
 * @returns {Promise<ShapesImageSummary>}
 */
export async function writeShapesImage(job, index) {
  const img = renderShapesImage(job.seed, index, job.render);
  await Promise.all([
    sharp(img.image, { raw: { width: img.width, height: img.height, channels: 3 } })
      .jpeg({ quality: job.quality })
      .toFile(join(job.dir, 'JPEGImages', `${img.id}.jpg`)),
    writeFile(join(job.dir, 'Annotations', `${img.id}.xml`), shapesAnnotationXml(img)),
  ]);
  return {
    objects: img.objects.map(({ name, difficult, truncated }) => ({ name, difficult, truncated })),
  };
}
