import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { batchNormInfer, batchNormTrain } from './batch-norm';

type LayerArgs = NonNullable<ConstructorParameters<typeof tfl.layers.Layer>[0]>;
type Shape = (number | null)[];
type Initializer = ReturnType<typeof tfl.initializers.zeros>;

function single(inputs: tf.Tensor | tf.Tensor[]): tf.Tensor {
  return Array.isArray(inputs) ? inputs[0]! : inputs;
}

function singleShape(inputShape: Shape | Shape[]): Shape {
  return (Array.isArray(inputShape[0]) ? inputShape[0] : inputShape) as Shape;
}

export interface L2NormalizationArgs extends LayerArgs {
  /** Initial value of every per-channel scale (20 in the SSD paper). */
  scaleInit?: number;
  /** Floor of the norm, as `F.normalize`'s `eps` (1e-12). */
  epsilon?: number;
}

/**
 * ParseNet's L2 normalisation across channels with a learned per-channel scale,
 * as SSD applies it to conv4_3: `y = gamma · x / max(‖x‖₂, eps)` over the last
 * (channel) axis. Weight: `gamma` `[channels]`, initialised to `scaleInit` (20).
 * Registered for serialization as `SsdL2Normalization`.
 */
export class L2Normalization extends tfl.layers.Layer {
  static className = 'SsdL2Normalization';
  readonly scaleInit: number;
  readonly epsilon: number;
  private gamma: tfl.LayerVariable | null = null;

  constructor(args: L2NormalizationArgs = {}) {
    super(args);
    this.scaleInit = args.scaleInit ?? 20;
    this.epsilon = args.epsilon ?? 1e-12;
  }

  override build(inputShape: Shape | Shape[]): void {
    const shape = singleShape(inputShape);
    const channels = shape[shape.length - 1];
    if (channels == null) throw new Error(`${this.name}: the channel dimension must be known`);
    this.gamma = this.addWeight(
      'gamma',
      [channels],
      'float32',
      tfl.initializers.constant({ value: this.scaleInit }),
    );
    this.built = true;
  }

  override computeOutputShape(inputShape: Shape | Shape[]): Shape {
    return singleShape(inputShape);
  }

  override call(inputs: tf.Tensor | tf.Tensor[]): tf.Tensor {
    return tf.tidy(() => {
      const x = single(inputs);
      // sqrt(max(Σx², ε²)) = max(‖x‖, ε) forward, but its gradient stays finite where
      // every channel is 0 (max(sqrt(0), ε) would give 0·∞ = NaN there).
      const sumSquares = tf.sum(tf.square(x), -1, true); // [B, H, W, 1]
      const norm = tf.sqrt(tf.maximum(sumSquares, this.epsilon * this.epsilon));
      return tf.mul(tf.div(x, norm), this.gamma!.read());
    });
  }

  override getConfig(): tf.serialization.ConfigDict {
    return { ...super.getConfig(), scaleInit: this.scaleInit, epsilon: this.epsilon };
  }
}

export interface AtrousConv2DArgs extends LayerArgs {
  filters: number;
  /** Square kernel side (odd). */
  kernelSize: number;
  /** Dilation rate r ≥ 1; the input is padded by r·(k − 1)/2 on every side (output = input size). */
  dilationRate: number;
  activation?: 'relu' | 'linear';
  useBias?: boolean;
  kernelInitializer?: Initializer;
  biasInitializer?: Initializer;
}

/**
 * A dilated ("atrous") 3×3-style convolution with stride 1 and symmetric padding
 * r·(k − 1)/2, computed as spaceToBatchND → plain convolution → batchToSpaceND
 * (what TensorFlow's `atrous_conv2d` does). tfjs-core's Conv2D gradient rejects
 * dilation > 1 on every backend; this form has gradients everywhere. Weights
 * `kernel` `[k, k, inChannels, filters]` and `bias` `[filters]`, laid out exactly
 * like a Keras `Conv2D(dilation_rate=r)`. Registered as `SsdAtrousConv2D`.
 */
export class AtrousConv2D extends tfl.layers.Layer {
  static className = 'SsdAtrousConv2D';
  readonly filters: number;
  readonly kernelSize: number;
  readonly dilationRate: number;
  readonly activation: 'relu' | 'linear';
  readonly useBias: boolean;
  private readonly kernelInitializer: Initializer;
  private readonly biasInitializer: Initializer;
  private kernel: tfl.LayerVariable | null = null;
  private bias: tfl.LayerVariable | null = null;

  constructor(args: AtrousConv2DArgs) {
    super(args);
    if (!(Number.isInteger(args.kernelSize) && args.kernelSize % 2 === 1)) {
      throw new Error(`${this.name}: kernelSize must be an odd integer, got ${args.kernelSize}`);
    }
    if (!(Number.isInteger(args.dilationRate) && args.dilationRate >= 1)) {
      throw new Error(
        `${this.name}: dilationRate must be a positive integer, got ${args.dilationRate}`,
      );
    }
    this.filters = args.filters;
    this.kernelSize = args.kernelSize;
    this.dilationRate = args.dilationRate;
    this.activation = args.activation ?? 'linear';
    this.useBias = args.useBias ?? true;
    this.kernelInitializer = args.kernelInitializer ?? tfl.initializers.glorotUniform({});
    this.biasInitializer = args.biasInitializer ?? tfl.initializers.zeros();
  }

  override build(inputShape: Shape | Shape[]): void {
    const shape = singleShape(inputShape);
    const channels = shape[shape.length - 1];
    if (channels == null) throw new Error(`${this.name}: the channel dimension must be known`);
    const k = this.kernelSize;
    this.kernel = this.addWeight(
      'kernel',
      [k, k, channels, this.filters],
      'float32',
      this.kernelInitializer,
    );
    if (this.useBias) {
      this.bias = this.addWeight('bias', [this.filters], 'float32', this.biasInitializer);
    }
    this.built = true;
  }

  override computeOutputShape(inputShape: Shape | Shape[]): Shape {
    const shape = singleShape(inputShape);
    return [...shape.slice(0, -1), this.filters];
  }

  override call(inputs: tf.Tensor | tf.Tensor[]): tf.Tensor {
    return tf.tidy(() => {
      const x = single(inputs) as tf.Tensor4D;
      let y = atrousConv2d(x, this.kernel!.read() as tf.Tensor4D, this.dilationRate);
      if (this.bias) y = tf.add(y, this.bias.read());
      return this.activation === 'relu' ? tf.relu(y) : y;
    });
  }

  override getConfig(): tf.serialization.ConfigDict {
    return {
      ...super.getConfig(),
      filters: this.filters,
      kernelSize: this.kernelSize,
      dilationRate: this.dilationRate,
      activation: this.activation,
      useBias: this.useBias,
      kernelInitializer: this.kernelInitializer.getConfig() as tf.serialization.ConfigDict,
      biasInitializer: this.biasInitializer.getConfig() as tf.serialization.ConfigDict,
    };
  }

  static override fromConfig<T extends tf.serialization.Serializable>(
    cls: tf.serialization.SerializableConstructor<T>,
    config: tf.serialization.ConfigDict,
  ): T {
    // Initializers only matter for fresh weights; a loaded layer gets saved ones.
    const { kernelInitializer: _k, biasInitializer: _b, ...rest } = config;
    return new cls(rest);
  }
}

/**
 * Same-size dilated convolution (stride 1, padding r·(k−1)/2 on every side) with
 * gradients. The forward pass is the backend's own dilated conv2d (XNNPACK on
 * wasm); tfjs-core has no gradient for it, so this one supplies its own:
 * - input: the same dilated convolution of `dy` with the kernel rotated 180° and
 *   its channel axes swapped (stride 1 and symmetric padding make the transposed
 *   convolution a plain one);
 * - kernel: a convolution of the padded input, with batch and channels swapped,
 *   by `dy` as the filter at stride r — its k×k outputs are the taps
 *   Σ x(shifted by r·(i, j)) · dy.
 * Agrees with the space-to-batch formulation (TensorFlow's `atrous_conv2d`)
 * and its autodiff gradients, without its four whole-tensor reshuffles.
 * @param x `[batch, height, width, inChannels]`
 * @param kernel `[k, k, inChannels, outChannels]`
 * @returns `[batch, height, width, outChannels]`
 */
export function atrousConv2d(x: tf.Tensor4D, kernel: tf.Tensor4D, rate: number): tf.Tensor4D {
  if (rate === 1) return tf.conv2d(x, kernel, 1, 'same');
  const k = kernel.shape[0];
  const pad = (rate * (k - 1)) / 2;
  const padding: [[number, number], [number, number], [number, number], [number, number]] = [
    [0, 0],
    [pad, pad],
    [pad, pad],
    [0, 0],
  ];
  const dilated = (input: tf.Tensor4D, filter: tf.Tensor4D) =>
    tf.conv2d(input, filter, 1, padding, 'NHWC', [rate, rate]);
  const op = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
    const [input, filter, save] = args as [tf.Tensor4D, tf.Tensor4D, tf.GradSaveFunc];
    save([input, filter]);
    return {
      value: dilated(input, filter),
      gradFunc: (dy: tf.Tensor | tf.Tensor[], saved: tf.Tensor[]) => {
        const g = (Array.isArray(dy) ? dy[0]! : dy) as tf.Tensor4D;
        const [xs, ws] = saved as [tf.Tensor4D, tf.Tensor4D];
        const dx = tf.tidy(() =>
          dilated(g, tf.transpose(tf.reverse(ws, [0, 1]), [0, 1, 3, 2]) as tf.Tensor4D),
        );
        const dKernel = tf.tidy(() => {
          // dW[i, j, c, o] = Σ_{b,y,x} x_pad[b, y + r·i, x + r·j, c] · dy[b, y, x, o]: a
          // convolution of x_pad (channels as batch, batch as channels) with dy as the
          // filter, evaluated at stride r, whose k×k outputs are the taps.
          const image = tf.transpose(tf.pad(xs, padding), [3, 1, 2, 0]) as tf.Tensor4D;
          const filter = tf.transpose(g, [1, 2, 0, 3]) as tf.Tensor4D;
          return tf.transpose(tf.conv2d(image, filter, rate, 'valid'), [1, 2, 0, 3]);
        });
        return [dx, dKernel];
      },
    };
  });
  return op(x, kernel) as tf.Tensor4D;
}

export interface BatchNormArgs extends LayerArgs {
  /**
   * Decay of the running statistics (Keras' meaning): each training batch moves
   * them by `1 − momentum` towards its own; default 0.9 (PyTorch's momentum 0.1).
   */
  momentum?: number;
  /** Added to the variance; default 1e-5 (PyTorch's). */
  epsilon?: number;
  /** `relu`: the ReLU after the normalisation, fused into its kernel; default `linear`. */
  activation?: 'relu' | 'linear';
}

/**
 * Batch normalisation over the last (channel) axis, optionally followed by a
 * ReLU, for `[batch, height, width, channels]` inputs. Training mode
 * (`training: true`) normalises by the batch's own statistics through one
 * fused kernel each way (`batchNormTrain`) and moves the running statistics
 * towards them (the variance unbiased, as PyTorch); inference uses the running
 * statistics. Weights `gamma`, `beta` (trainable), `moving_mean`,
 * `moving_variance`, as Keras' `BatchNormalization`. Registered as `SsdBatchNorm`.
 */
export class BatchNorm extends tfl.layers.Layer {
  static className = 'SsdBatchNorm';
  readonly momentum: number;
  readonly epsilon: number;
  readonly activation: 'relu' | 'linear';
  private gamma: tfl.LayerVariable | null = null;
  private beta: tfl.LayerVariable | null = null;
  private movingMean: tfl.LayerVariable | null = null;
  private movingVariance: tfl.LayerVariable | null = null;

  constructor(args: BatchNormArgs = {}) {
    super(args);
    this.momentum = args.momentum ?? 0.9;
    this.epsilon = args.epsilon ?? 1e-5;
    this.activation = args.activation ?? 'linear';
    if (!(this.momentum >= 0 && this.momentum < 1)) {
      throw new Error(`${this.name}: momentum must be in [0, 1), got ${this.momentum}`);
    }
    if (!(this.epsilon > 0)) {
      throw new Error(`${this.name}: epsilon must be positive, got ${this.epsilon}`);
    }
  }

  override build(inputShape: Shape | Shape[]): void {
    const shape = singleShape(inputShape);
    const channels = shape[shape.length - 1];
    if (channels == null) throw new Error(`${this.name}: the channel dimension must be known`);
    const ones = tfl.initializers.ones();
    const zeros = tfl.initializers.zeros();
    this.gamma = this.addWeight('gamma', [channels], 'float32', ones);
    this.beta = this.addWeight('beta', [channels], 'float32', zeros);
    this.movingMean = this.addWeight('moving_mean', [channels], 'float32', zeros, undefined, false);
    this.movingVariance = this.addWeight(
      'moving_variance',
      [channels],
      'float32',
      ones,
      undefined,
      false,
    );
    this.built = true;
  }

  override computeOutputShape(inputShape: Shape | Shape[]): Shape {
    return singleShape(inputShape);
  }

  override call(inputs: tf.Tensor | tf.Tensor[], kwargs: Record<string, unknown>): tf.Tensor {
    return tf.tidy(() => {
      const x = single(inputs);
      const gamma = this.gamma!.read() as tf.Tensor1D;
      const beta = this.beta!.read() as tf.Tensor1D;
      const relu = this.activation === 'relu';
      if (x.rank !== 4) {
        throw new Error(`${this.name}: wants [batch, height, width, channels], got [${x.shape}]`);
      }
      const options = { epsilon: this.epsilon, relu };
      if (kwargs['training'] !== true) {
        return batchNormInfer(
          x as tf.Tensor4D,
          gamma,
          beta,
          this.movingMean!.read() as tf.Tensor1D,
          this.movingVariance!.read() as tf.Tensor1D,
          options,
        );
      }
      const [y, mean, variance] = batchNormTrain(x as tf.Tensor4D, gamma, beta, options);
      const rows = x.size / x.shape[3]!;
      const unbiased = rows > 1 ? rows / (rows - 1) : 1;
      const step = 1 - this.momentum;
      const moveTowards = (v: tfl.LayerVariable, value: tf.Tensor) =>
        v.write(tf.add(v.read(), tf.mul(tf.sub(value, v.read()), step)));
      moveTowards(this.movingMean!, mean);
      moveTowards(this.movingVariance!, tf.mul(variance, unbiased));
      return y;
    });
  }

  override getConfig(): tf.serialization.ConfigDict {
    return {
      ...super.getConfig(),
      momentum: this.momentum,
      epsilon: this.epsilon,
      activation: this.activation,
    };
  }
}

tf.serialization.registerClass(L2Normalization);
tf.serialization.registerClass(AtrousConv2D);
tf.serialization.registerClass(BatchNorm);
