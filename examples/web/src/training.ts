import { SSD300_VOC, generateAnchorsPacked, type AnchorConfig } from '@ssd/anchors';
import { ssdTrainAugmentation } from '@ssd/augment';
import { createDetector, type Detection, type SsdDetector } from '@ssd/detect';
import type { Sample } from '@ssd/geometry';
import { createLoader, disposeBatch, type Loader, type TensorBatch } from '@ssd/loader';
import { multiboxLoss } from '@ssd/loss';
import { SHAPES_CLASSES, renderShapesImage, shapesImageId } from '@ssd/make-shapes-voc';
import { encodeTargets } from '@ssd/matcher';
import { evaluateDetections, type EvaluationResult } from '@ssd/metrics';
import {
  anchorConfigForModel,
  createSsdVgg16,
  preprocess,
  saveSsdModel,
  type SsdMetadata,
} from '@ssd/vgg-ssd';
import * as tf from '@tensorflow/tfjs-core';
import type * as tfl from '@tensorflow/tfjs-layers';

/** The knobs of an in-page training run (the Train page's form). */
export interface BrowserTrainOptions {
  /** Side of the square network input: the `shapes` preset's 128, or 96 for speed. */
  inputSize: number;
  /** `createSsdVgg16`'s width multiplier (`npm start`: 1/8). */
  widthMultiplier: number;
  batchSize: number;
  /** Adam's learning rate. */
  learningRate: number;
  /** Generated training images (indices 0 … trainImages − 1). */
  trainImages: number;
  /** Held-out images (the next `testImages` indices), never trained on. */
  testImages: number;
  /** Seeds the images, the weights, the shuffles and the augmentation. */
  seed: number;
}

/** Small enough to train in minutes on a CPU backend. */
export const BROWSER_TRAIN_DEFAULTS: Readonly<BrowserTrainOptions> = Object.freeze({
  inputSize: 96,
  widthMultiplier: 1 / 16,
  batchSize: 8,
  learningRate: 1e-3,
  trainImages: 256,
  testImages: 32,
  seed: 1,
});

/** Generated images: smaller than `npm start`'s (240–500 px) so the page renders them fast. */
const IMAGE_SIDES = { minSide: 128, maxSide: 224 } as const;

/** One training step's loss terms. */
export interface StepLoss {
  step: number;
  total: number;
  localization: number;
  confidence: number;
  milliseconds: number;
}

/** A generated shapes image as `@ssd/geometry`'s `Sample` (absolute xyxy boxes). */
export function shapesSample(seed: number, index: number): Sample {
  const rendered = renderShapesImage(seed, index, IMAGE_SIDES);
  const boxes = new Float32Array(rendered.objects.length * 4);
  rendered.objects.forEach((o, i) => boxes.set(o.box, i * 4));
  return {
    id: rendered.id,
    image: rendered.image,
    width: rendered.width,
    height: rendered.height,
    boxes,
    labels: Int32Array.from(rendered.objects, (o) => o.label),
    difficult: Uint8Array.from(rendered.objects, (o) => (o.difficult ? 1 : 0)),
  };
}

/**
 * The `shapes` preset trained in the page: the VGG16-SSD of `npm start` (SSD300's
 * anchors on the real feature maps, input scale 1/58) at a reduced width, on
 * images generated in the browser, with `@ssd/augment`'s light pipeline,
 * `@ssd/matcher`'s targets, `@ssd/loader`'s seeded batches and `@ssd/loss`'s
 * MultiBox loss, updated by tfjs' Adam. `train` can stop and go on: the loader's
 * batches are a pure function of the step.
 */
export class BrowserTrainer {
  readonly model: tfl.LayersModel;
  readonly anchorConfig: AnchorConfig;
  private readonly loader: Loader<TensorBatch>;
  private readonly optimizer: tf.AdamOptimizer;
  private readonly variables: tf.Variable[];
  private stepsDone = 0;

  constructor(readonly options: BrowserTrainOptions) {
    const numClasses = SHAPES_CLASSES.length + 1;
    this.model = createSsdVgg16({
      numClasses,
      preset: SSD300_VOC,
      widthMultiplier: options.widthMultiplier,
      inputSize: options.inputSize,
      inputScale: 1 / 58,
      seed: options.seed,
    });
    this.anchorConfig = anchorConfigForModel(this.model, SSD300_VOC);
    const anchorsPacked = generateAnchorsPacked(this.anchorConfig);
    this.loader = createLoader(
      {
        size: options.trainImages,
        id: shapesImageId,
        load: async (index) => shapesSample(options.seed, index),
      },
      {
        batchSize: options.batchSize,
        seed: options.seed,
        shuffle: true,
        dropLast: true,
        cache: true,
        output: 'tensors',
        augment: ssdTrainAugmentation({ size: options.inputSize, expand: false, crop: false }),
        encodeTargets: (boxes, labels) =>
          encodeTargets(anchorsPacked, boxes, labels, { numClasses }),
        preprocess,
      },
    );
    this.optimizer = tf.train.adam(options.learningRate);
    this.variables = this.model.trainableWeights.map((w) => w.read() as tf.Variable);
  }

  /** Updates applied so far. */
  get step(): number {
    return this.stepsDone;
  }

  /**
   * Runs up to `steps` more updates, calling `onStep` after each; stops early
   * (after the step in flight) when `shouldStop()` turns true.
   */
  async train(o: {
    steps: number;
    onStep?: (loss: StepLoss) => void | Promise<void>;
    shouldStop?: () => boolean;
  }): Promise<StepLoss[]> {
    const losses: StepLoss[] = [];
    const end = this.stepsDone + o.steps;
    const batches = this.loader.batches({ fromStep: this.stepsDone })[Symbol.asyncIterator]();
    try {
      while (this.stepsDone < end && !o.shouldStop?.()) {
        const t0 = performance.now();
        const next = await batches.next();
        if (next.done) break;
        const loss = await this.update(next.value);
        const record = { step: this.stepsDone, ...loss, milliseconds: performance.now() - t0 };
        losses.push(record);
        await o.onStep?.(record);
      }
    } finally {
      await batches.return?.();
    }
    return losses;
  }

  private async update(
    batch: TensorBatch,
  ): Promise<Pick<StepLoss, 'total' | 'localization' | 'confidence'>> {
    try {
      const parts = tf.tidy(() => {
        let localization: tf.Scalar | undefined;
        let confidence: tf.Scalar | undefined;
        const { value, grads } = tf.variableGrads(() => {
          const [locPred, logits] = this.model.apply(batch.images, {
            training: true,
          }) as tf.Tensor3D[];
          const loss = multiboxLoss(
            { locPred: locPred!, logits: logits! },
            { locTargets: batch.locTargets, labels: batch.labels },
          );
          localization = tf.keep(loss.localization);
          confidence = tf.keep(loss.confidence);
          tf.dispose(loss.numPositives);
          return loss.total;
        }, this.variables);
        this.optimizer.applyGradients(
          this.variables.map((v) => ({ name: v.name, tensor: grads[v.name]! })),
        );
        return [value, localization!, confidence!];
      });
      const [total, localization, confidence] = await Promise.all(parts.map((t) => t.data()));
      tf.dispose(parts);
      this.stepsDone = batch.step + 1;
      return { total: total![0]!, localization: localization![0]!, confidence: confidence![0]! };
    } finally {
      disposeBatch(batch);
    }
  }

  /** A detector over the model being trained (it does not own the model). */
  detector(): SsdDetector {
    return createDetector(this.model, { anchorConfig: this.anchorConfig, labels: SHAPES_CLASSES });
  }

  /** The held-out images: indices after the training images. */
  testSamples(): Sample[] {
    const { seed, trainImages, testImages } = this.options;
    return Array.from({ length: testImages }, (_, i) => shapesSample(seed, trainImages + i));
  }

  /** Detections on the held-out images and their VOC07 11-point mAP@0.5. */
  async evaluate(samples: readonly Sample[] = this.testSamples()): Promise<{
    detections: Detection[][];
    result: EvaluationResult;
  }> {
    const detector = this.detector();
    const detections: Detection[][] = [];
    for (let i = 0; i < samples.length; i += this.options.batchSize) {
      const batch = samples.slice(i, i + this.options.batchSize).map((s) => ({
        data: s.image as Uint8Array,
        width: s.width,
        height: s.height,
      }));
      detections.push(...(await detector.detectBatch(batch)));
    }
    const result = evaluateDetections(detections, samples, {
      classNames: SHAPES_CLASSES,
      method: 'voc07',
    });
    return { detections, result };
  }

  /** What `@ssd/detect`'s `loadSsd` needs beside the weights. */
  metadata(): SsdMetadata {
    return {
      anchorConfig: this.anchorConfig,
      labels: SHAPES_CLASSES,
      inputSize: this.options.inputSize,
      inputScale: 1 / 58,
    };
  }

  /** The model as `saveSsdModel` writes it: `model.json` and `model.weights.bin`. */
  async modelFiles(): Promise<{ modelJson: string; weights: ArrayBuffer }> {
    let files: { modelJson: string; weights: ArrayBuffer } | undefined;
    await saveSsdModel(
      this.model,
      tf.io.withSaveHandler(async (artifacts) => {
        files = modelFilesOf(artifacts, 'model.weights.bin');
        return { modelArtifactsInfo: tf.io.getModelArtifactsInfoForJSON(artifacts) };
      }),
      this.metadata(),
    );
    return files!;
  }

  dispose(): void {
    this.optimizer.dispose();
    this.model.dispose();
  }
}

/**
 * The two files of a tfjs layers model, as `@ssd/vgg-ssd/node`'s `saveSsdModel`
 * writes them: `model.json` (topology, metadata and a manifest naming
 * `weightsName`) and the concatenated weights. The manifest holds the bare file
 * name (not `tf.io.browserDownloads`' `./name`, which the Node loader refuses).
 */
export function modelFilesOf(
  artifacts: tf.io.ModelArtifacts,
  weightsName: string,
): { modelJson: string; weights: ArrayBuffer } {
  const { weightData, weightSpecs, ...rest } = artifacts;
  const weights =
    weightData === undefined
      ? new ArrayBuffer(0)
      : new tf.io.CompositeArrayBuffer(weightData).slice();
  const modelJson = JSON.stringify({
    ...rest,
    weightsManifest: [{ paths: [weightsName], weights: weightSpecs ?? [] }],
  });
  return { modelJson, weights };
}
