import { decodeBoxesPacked } from '@ssd/matcher';
import type * as tf from '@tensorflow/tfjs-core';

/**
 * SSD post-processing with `@ssd/detect`'s contract: decode, softmax,
 * per-class score threshold, per-class NMS over the top-K candidates, keep the
 * best `maxDetections` per image, boxes in each image's pixels.
 */
export interface PostprocessOptions {
  imageSizes: readonly { width: number; height: number }[];
  scoreThreshold: number;
  iouThreshold: number;
  topK: number;
  maxDetections: number;
  labels?: readonly string[];
}

export interface Detection {
  box: { xMin: number; yMin: number; xMax: number; yMax: number };
  classId: number;
  label?: string;
  score: number;
}

function iou(b: Float32Array, i: number, j: number): number {
  const x0 = Math.max(b[4 * i]!, b[4 * j]!);
  const y0 = Math.max(b[4 * i + 1]!, b[4 * j + 1]!);
  const x1 = Math.min(b[4 * i + 2]!, b[4 * j + 2]!);
  const y1 = Math.min(b[4 * i + 3]!, b[4 * j + 3]!);
  const inter = Math.max(0, x1 - x0) * Math.max(0, y1 - y0);
  const a = (b[4 * i + 2]! - b[4 * i]!) * (b[4 * i + 3]! - b[4 * i + 1]!);
  const c = (b[4 * j + 2]! - b[4 * j]!) * (b[4 * j + 3]! - b[4 * j + 1]!);
  const union = a + c - inter;
  return union > 0 ? inter / union : 0;
}

export async function postprocess(
  outputs: { locPred: tf.Tensor3D; logits: tf.Tensor3D },
  anchors: tf.Tensor2D,
  o: PostprocessOptions,
): Promise<Detection[][]> {
  const [batch, numAnchors, numClasses] = outputs.logits.shape;
  const [loc, logits, anchorData] = await Promise.all([
    outputs.locPred.data() as Promise<Float32Array>,
    outputs.logits.data() as Promise<Float32Array>,
    anchors.data() as Promise<Float32Array>,
  ]);
  const result: Detection[][] = [];
  const probs = new Float32Array(numAnchors * numClasses);
  for (let b = 0; b < batch; b++) {
    const boxes = decodeBoxesPacked(
      loc.subarray(b * numAnchors * 4, (b + 1) * numAnchors * 4),
      anchorData,
    );
    const base = b * numAnchors * numClasses;
    for (let p = 0; p < numAnchors; p++) {
      let max = -Infinity;
      for (let c = 0; c < numClasses; c++) max = Math.max(max, logits[base + p * numClasses + c]!);
      let sum = 0;
      for (let c = 0; c < numClasses; c++) {
        const e = Math.exp(logits[base + p * numClasses + c]! - max);
        probs[p * numClasses + c] = e;
        sum += e;
      }
      for (let c = 0; c < numClasses; c++) probs[p * numClasses + c]! /= sum;
    }
    const { width, height } = o.imageSizes[b]!;
    const dets: Detection[] = [];
    for (let c = 1; c < numClasses; c++) {
      const cand: number[] = [];
      for (let p = 0; p < numAnchors; p++) {
        if (probs[p * numClasses + c]! > o.scoreThreshold) cand.push(p);
      }
      cand.sort((x, y) => probs[y * numClasses + c]! - probs[x * numClasses + c]!);
      if (cand.length > o.topK) cand.length = o.topK;
      const kept: number[] = [];
      for (const p of cand) {
        if (kept.every((k) => iou(boxes, k, p) <= o.iouThreshold)) kept.push(p);
      }
      for (const p of kept) {
        const clamp = (v: number) => Math.min(1, Math.max(0, v));
        dets.push({
          box: {
            xMin: clamp(boxes[4 * p]!) * width,
            yMin: clamp(boxes[4 * p + 1]!) * height,
            xMax: clamp(boxes[4 * p + 2]!) * width,
            yMax: clamp(boxes[4 * p + 3]!) * height,
          },
          classId: c,
          ...(o.labels ? { label: o.labels[c - 1]! } : {}),
          score: probs[p * numClasses + c]!,
        });
      }
    }
    dets.sort((x, y) => y.score - x.score);
    if (dets.length > o.maxDetections) dets.length = o.maxDetections;
    result.push(dets);
  }
  return result;
}
