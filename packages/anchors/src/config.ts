/** Thrown when an `AnchorConfig` is inconsistent; `field` names the culprit. */
export class AnchorConfigError extends Error {
  override readonly name = 'AnchorConfigError';
  constructor(
    readonly field: string,
    message: string,
  ) {
    super(`AnchorConfig.${field}: ${message}`);
  }
}

/**
 * Where SSD's default boxes sit and how large they are. All sizes are pixels of
 * the (square) network input; one entry per source feature map, in order.
 */
export interface AnchorConfig {
  /** Side of the square network input in pixels (300 for SSD300). */
  readonly imageSize: number;
  /** Side of each square source feature map (38, 19, … for SSD300). */
  readonly featureMapSizes: readonly number[];
  /** Input pixels per feature-map cell for each map: cx = (x + offset)·step / imageSize. */
  readonly steps: readonly number[];
  /** s_k·imageSize: side of the aspect-1 default box of each map. */
  readonly minSizes: readonly number[];
  /** s_{k+1}·imageSize: the extra aspect-1 box has side √(minSize·maxSize). */
  readonly maxSizes: readonly number[];
  /** Extra aspect ratios r ≥ 1 per map; each adds (s√r, s/√r) and (s/√r, s√r). */
  readonly aspectRatios: readonly (readonly number[])[];
  /**
   * Clamp each default box's width and height to [0, 1], leaving centres alone
   * (torchvision's `DefaultBoxGenerator`). ssd.pytorch also clamps centres, which
   * moves the last row and column of SSD300's 10×10 map (centre 9.5·32/300 =
   * 1.0133) to 1; the Caffe release clips corners instead.
   */
  readonly clip: boolean;
  /** Centre offset within a cell, 0.5 in every SSD release. */
  readonly offset: number;
}

function positive(field: string, values: readonly number[], strict = true): void {
  values.forEach((v, i) => {
    if (!(Number.isFinite(v) && (strict ? v > 0 : v >= 0))) {
      throw new AnchorConfigError(`${field}[${i}]`, `expected a positive number, got ${v}`);
    }
  });
}

/** Throws `AnchorConfigError` naming the first inconsistent field. */
export function validateAnchorConfig(config: AnchorConfig): void {
  positive('imageSize', [config.imageSize]);
  const maps = config.featureMapSizes.length;
  if (maps === 0)
    throw new AnchorConfigError('featureMapSizes', 'expected at least one feature map');
  for (const field of ['steps', 'minSizes', 'maxSizes', 'aspectRatios'] as const) {
    if (config[field].length !== maps) {
      throw new AnchorConfigError(
        field,
        `has ${config[field].length} entries but featureMapSizes has ${maps}`,
      );
    }
  }
  config.featureMapSizes.forEach((v, i) => {
    if (!(Number.isInteger(v) && v > 0)) {
      throw new AnchorConfigError(`featureMapSizes[${i}]`, `expected a positive integer, got ${v}`);
    }
  });
  positive('steps', config.steps);
  positive('minSizes', config.minSizes);
  positive('maxSizes', config.maxSizes);
  config.aspectRatios.forEach((ratios, k) => positive(`aspectRatios[${k}]`, ratios));
  if (!(Number.isFinite(config.offset) && config.offset >= 0 && config.offset < 1)) {
    throw new AnchorConfigError('offset', `expected a number in [0, 1), got ${config.offset}`);
  }
}

/**
 * The paper's linear scale rule (Liu et al. 2016, eq. 4):
 * s_k = s_min + (s_max − s_min)(k − 1)/(m − 1), k = 1..m. The first scale is
 * s_min and the last s_max.
 */
export function linearScales(options: { sMin: number; sMax: number; numScales: number }): number[] {
  const { sMin, sMax, numScales } = options;
  if (!(Number.isInteger(numScales) && numScales >= 1)) {
    throw new AnchorConfigError('numScales', `expected a positive integer, got ${numScales}`);
  }
  if (numScales === 1) return [sMin];
  return Array.from({ length: numScales }, (_, i) => sMin + ((sMax - sMin) * i) / (numScales - 1));
}

/**
 * An `AnchorConfig` from m + 1 relative scales (torchvision's `DefaultBoxGenerator`
 * convention): map k gets minSize = scales[k]·imageSize and maxSize = scales[k+1]·imageSize.
 */
export function anchorConfigFromScales(options: {
  imageSize: number;
  featureMapSizes: readonly number[];
  steps: readonly number[];
  scales: readonly number[];
  aspectRatios: readonly (readonly number[])[];
  clip?: boolean;
  offset?: number;
}): AnchorConfig {
  const { imageSize, scales } = options;
  const maps = options.featureMapSizes.length;
  if (scales.length !== maps + 1) {
    throw new AnchorConfigError(
      'scales',
      `expected featureMapSizes.length + 1 = ${maps + 1} scales, got ${scales.length}`,
    );
  }
  const config: AnchorConfig = {
    imageSize,
    featureMapSizes: [...options.featureMapSizes],
    steps: [...options.steps],
    minSizes: scales.slice(0, maps).map((s) => s * imageSize),
    maxSizes: scales.slice(1).map((s) => s * imageSize),
    aspectRatios: options.aspectRatios.map((r) => [...r]),
    clip: options.clip ?? true,
    offset: options.offset ?? 0.5,
  };
  validateAnchorConfig(config);
  return config;
}
