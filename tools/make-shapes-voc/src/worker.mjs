// @ts-check
// A worker thread of makeShapesVoc: writes each image index it is sent and answers
// `{ index, summary }` (or `{ index, error }`).
import { parentPort, workerData } from 'node:worker_threads';
import { writeShapesImage } from './write-image.mjs';

const job = /** @type {import('./write-image.mjs').WriteJob} */ (workerData);
const port = /** @type {import('node:worker_threads').MessagePort} */ (parentPort);
port.on('message', (/** @type {number} */ index) => {
  writeShapesImage(job, index).then(
    (summary) => port.postMessage({ index, summary }),
    (error) => port.postMessage({ index, error: String(error?.stack ?? error) }),
  );
});
