import { SSD300_VOC, generateAnchorsPacked, type AnchorConfig } from '@ssd/anchors';
import { ssdTrainAugmentation } from '@ssd/augment';
import { createDetector, resizeToInput, type Detection, type SsdDetector } from '@ssd/detect';
import type { Sample } from '@ssd/geometry';
import { createLoader, disposeBatch, type Loader, type TensorBatch } from '@ssd/loader';
import { multiboxLoss } from '@ssd/loss';
import { SHAPES_CLASSES, renderShapesImage, shapesImageId } from '@ssd/make-shapes-voc';
import { encodeTargets } from '@ssd/matcher';
import { evaluateDetections, type EvaluationResult } from '@ssd/metrics';
import {
  anchorConfigForModel,
  createSsdVgg16,
  lsuvInitialise,
  preprocess,
  saveSsdModel,
  type SsdMetadata,
  type SsdNormalization,
} from '@ssd/vgg-ssd';
import * as tf from '@tensorflow/tfjs-core';
import type * as tfl from '@tensorflow/tfjs-layers';

/** The knobs of an in-page training run (the Train page's form). */
export interface BrowserTrainOptions {
  /** Side of the square network input (the `shapes` preset, `npm start`: 128). */
  inputSize: number;
  /** `createSsdVgg16`'s width multiplier (`npm start`: 1/8). */
  widthMultiplier: number;
  /** `createSsdVgg16`'s normalization: `batch` (ScratchDet, `npm start`) or `none` (the paper's VGG16). */
  normalization: SsdNormalization;
  batchSize: number;
  /** Adam's learning rate after the warm-up and before the first drop (`npm start`: 4e-3). */
  learningRate: number;
  /** Length of the run: the learning rate drops ×0.1 at 86 % and 96 % of it. */
  steps: number;
  /** Generated training images (indices 0 … trainImages − 1). */
  trainImages: number;
  /** Held-out images (the next `testImages` indices), never trained on. */
  testImages: number;
  /** Seeds the images, the weights, the shuffles and the augmentation. */
  seed: number;
}

/**
 * The `shapes` recipe of `npm start` (examples/train-voc `SHAPES_RECIPE`: width 1/8,
 * 128 px, batch norm, Adam at 4e-3 with weight decay 5e-4, a warm-up, ×0.1 at 86 %
 * and 96 % of the run) on a run short enough for a CPU backend in a browser: batch 8
 * (not 16), 800 steps, 1 024 images. See examples/web/README.md for what it reaches
 * and how fast.
 */
export const BROWSER_TRAIN_DEFAULTS: Readonly<BrowserTrainOptions> = Object.freeze({
  inputSize: 128,
  widthMultiplier: 1 / 8,
  normalization: 'batch',
  batchSize: 8,
  learningRate: 4e-3,
  steps: 800,
  trainImages: 1024,
  testImages: 64,
  seed: 1,
});

/** The rest of `npm start`'s recipe, fixed here. */
const RECIPE = Object.freeze({
  inputScale: 1 / 58,
  /** L2 weight decay on conv kernels (not on biases or the L2Norm scale), as the app's Adam. */
  weightDecay: 5e-4,
  warmupSteps: 30,
  /** The warm-up starts at this fraction of the rate. */
  warmupFactor: 1 / 3,
  /**
   * Where the rate drops, as fractions of the run: 1380 and 1540 of 1600 (`npm start`
   * before batch norm; its 863 and 963 of 1000 now give the same steps at 800).
   */
  drops: [1380 / 1600, 1540 / 1600],
  gamma: 0.1,
  /** Training images LSUV initialisation looks at, spread over the set. */
  lsuvImages: 16,
});

/**
 * The learning rate of 0-based `step` in a run of `steps`: linear warm-up from
 * `warmupFactor·base`, then ×`gamma` at each drop.
 */
export function learningRateAt(step: number, o: { learningRate: number; steps: number }): number {
  let lr = o.learningRate;
  for (const drop of RECIPE.drops) if (step >= Math.round(drop * o.steps)) lr *= RECIPE.gamma;
  if (step < RECIPE.warmupSteps) {
    lr *= RECIPE.warmupFactor + ((1 - RECIPE.warmupFactor) * step) / RECIPE.warmupSteps;
  }
  return lr;
}

/** tfjs' Adam with a learning rate set before each update (the schedule). */
class ScheduledAdam extends tf.AdamOptimizer {
  setLearningRate(lr: number): void {
    this.learningRate = lr;
  }
}

/** Generated images: smaller than `npm start`'s (240–500 px) so the page renders them fast. */
const IMAGE_SIDES = { minSide: 128, maxSide: 224 } as const;

/** One training step's loss terms. */
export interface StepLoss {
  step: number;
  total: number;
  localization: number;
  confidence: number;
  /** The learning rate of this update. */
  learningRate: number;
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
 * The `shapes` preset trained in the page with `npm start`'s recipe: the VGG16-SSD
 * (SSD300's anchors on the real feature maps, input scale 1/58) initialised by LSUV
 * on a few training images, on images generated in the browser, with `@ssd/augment`'s
 * light pipeline, `@ssd/matcher`'s targets, `@ssd/loader`'s seeded batches and
 * `@ssd/loss`'s MultiBox loss, updated by Adam (weight decay on the kernels) on a
 * warm-up and step schedule. `train` can stop and go on: the loader's batches are a
 * pure function of the step.
 */
export class BrowserTrainer {
  private readonly loader: Loader<TensorBatch>;
  private readonly optimizer = new ScheduledAdam(RECIPE.warmupFactor, 0.9, 0.999, 1e-8);
  private readonly variables: tf.Variable[];
  /** Whether each variable gets weight decay (conv kernels: rank 4). */
  private readonly decays: boolean[];
  private stepsDone = 0;

  private constructor(
    readonly options: BrowserTrainOptions,
    readonly model: tfl.LayersModel,
    readonly anchorConfig: AnchorConfig,
  ) {
    const numClasses = SHAPES_CLASSES.length + 1;
    const anchorsPacked = generateAnchorsPacked(anchorConfig);
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
    this.variables = model.trainableWeights.map((w) => w.read() as tf.Variable);
    this.decays = this.variables.map((v) => v.shape.length >= 2);
  }

  /** A new run: the network built and LSUV-initialised on `RECIPE.lsuvImages` training images. */
  static async create(options: BrowserTrainOptions): Promise<BrowserTrainer> {
    const model = createSsdVgg16({
      numClasses: SHAPES_CLASSES.length + 1,
      preset: SSD300_VOC,
      widthMultiplier: options.widthMultiplier,
      inputSize: options.inputSize,
      inputScale: RECIPE.inputScale,
      normalization: options.normalization,
      seed: options.seed,
    });
    try {
      const size = { height: options.inputSize, width: options.inputSize };
      const count = Math.min(RECIPE.lsuvImages, options.trainImages);
      const images = tf.tidy(() =>
        preprocess(
          tf.stack(
            Array.from({ length: count }, (_, j) => {
              const s = shapesSample(options.seed, Math.floor((j * options.trainImages) / count));
              return resizeToInput(
                { data: s.image as Uint8Array, width: s.width, height: s.height },
                size,
              );
            }),
          ) as tf.Tensor4D, // [count, inputSize, inputSize, 3]
        ),
      );
      try {
        await lsuvInitialise(model, images, { seed: options.seed });
      } finally {
        images.dispose();
      }
      return new BrowserTrainer(options, model, anchorConfigForModel(model, SSD300_VOC));
    } catch (error) {
      model.dispose();
      throw error;
    }
  }

  /** Learning rate of each update (`stepsDone` of the next). */
  learningRate(): number {
    return learningRateAt(this.stepsDone, this.options);
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
        const learningRate = this.learningRate();
        const loss = await this.update(next.value);
        const record = {
          step: this.stepsDone,
          ...loss,
          learningRate,
          milliseconds: performance.now() - t0,
        };
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
      this.optimizer.setLearningRate(this.learningRate());
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
          this.variables.map((v, i) => ({
            name: v.name,
            tensor: this.decays[i]
              ? tf.add(grads[v.name]!, tf.mul(v, RECIPE.weightDecay))
              : grads[v.name]!,
          })),
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
      inputScale: RECIPE.inputScale,
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
