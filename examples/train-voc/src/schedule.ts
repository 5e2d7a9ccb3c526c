/**
 * The learning-rate schedule: linear warm-up, then step decay (Caffe's `multistep`,
 * the paper's) or cosine decay to `minLrFactor·baseLr` at `totalIterations`
 * (SGDR without restarts; torchvision's reference scripts' `cosineannealinglr`).
 */
export interface LrSchedule {
  /** `step` (default): ×`gamma` at each of `steps`; `cosine`: half a cosine from the end of warm-up. */
  readonly kind?: 'step' | 'cosine';
  /** Length of the cosine (the run's iterations); cosine only. */
  readonly totalIterations?: number;
  /** Where the cosine ends, as a fraction of `baseLr` (default 0); cosine only. */
  readonly minLrFactor?: number;
  /** Learning rate after warm-up and before the first step. */
  readonly baseLr: number;
  /** Iterations at which the rate is multiplied by `gamma` (SSD300 on VOC07+12: 80k, 100k). */
  readonly steps: readonly number[];
  /** Factor applied at each step (0.1 in the paper). */
  readonly gamma: number;
  /** Iterations of linear warm-up from `warmupFactor·baseLr` to `baseLr` (0 = none). */
  readonly warmupIterations: number;
  /** Starting fraction of `baseLr` during warm-up. */
  readonly warmupFactor: number;
}

/** Thrown for a schedule whose numbers cannot be right. */
export class ScheduleError extends Error {
  override readonly name = 'ScheduleError';
}

export function validateSchedule(s: LrSchedule): void {
  if (!(s.baseLr > 0 && Number.isFinite(s.baseLr))) {
    throw new ScheduleError(`baseLr must be a positive number, got ${s.baseLr}`);
  }
  if (!(s.gamma > 0 && Number.isFinite(s.gamma))) {
    throw new ScheduleError(`gamma must be a positive number, got ${s.gamma}`);
  }
  s.steps.forEach((v, i) => {
    if (!(Number.isInteger(v) && v > 0) || (i > 0 && v <= (s.steps[i - 1] as number))) {
      throw new ScheduleError(`steps must be increasing positive integers, got [${s.steps}]`);
    }
  });
  if (!(Number.isInteger(s.warmupIterations) && s.warmupIterations >= 0)) {
    throw new ScheduleError(
      `warmupIterations must be a non-negative integer, got ${s.warmupIterations}`,
    );
  }
  if (!(s.warmupFactor > 0 && s.warmupFactor <= 1)) {
    throw new ScheduleError(`warmupFactor must be in (0, 1], got ${s.warmupFactor}`);
  }
  if (s.kind === 'cosine') {
    const total = s.totalIterations ?? NaN;
    if (!(Number.isInteger(total) && total > s.warmupIterations)) {
      throw new ScheduleError(
        `cosine: totalIterations must be an integer above warmupIterations (${s.warmupIterations}), got ${s.totalIterations}`,
      );
    }
    const min = s.minLrFactor ?? 0;
    if (!(min >= 0 && min <= 1)) {
      throw new ScheduleError(`cosine: minLrFactor must be in [0, 1], got ${s.minLrFactor}`);
    }
  }
}

/**
 * Learning rate for 0-based `iteration`. Warm-up is linear from
 * `warmupFactor·baseLr` at iteration 0 to `baseLr` at `warmupIterations`;
 * each step boundary s applies from iteration s on (the rate of iteration
 * 80000 is already ×0.1, as in Caffe and torchvision's MultiStepLR).
 */
export function learningRateAt(iteration: number, s: LrSchedule): number {
  let lr = s.baseLr;
  if (s.kind === 'cosine') {
    const warm = s.warmupIterations;
    const span = (s.totalIterations as number) - warm;
    const t = Math.min(Math.max(iteration - warm, 0), span) / span;
    const min = s.minLrFactor ?? 0;
    lr *= min + (1 - min) * 0.5 * (1 + Math.cos(Math.PI * t));
  } else {
    for (const step of s.steps) if (iteration >= step) lr *= s.gamma;
  }
  if (iteration < s.warmupIterations) {
    const alpha = iteration / s.warmupIterations;
    lr *= s.warmupFactor + (1 - s.warmupFactor) * alpha;
  }
  return lr;
}

/**
 * How many step boundaries lie at or before `iteration` (the schedule's position);
 * a cosine schedule has one phase (its position is the iteration itself).
 */
export function schedulePhase(iteration: number, s: LrSchedule): number {
  if (s.kind === 'cosine') return 0;
  return s.steps.filter((step) => iteration >= step).length;
}
