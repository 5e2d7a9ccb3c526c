/** Formats seconds as `1h02m`, `3m04s` or `12s`. */
export function formatDuration(seconds: number): string {
  if (!isFinite(seconds) || seconds < 0) return '?';
  const s = Math.round(seconds);
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const r = s % 60;
  if (h > 0) return `${h}h${String(m).padStart(2, '0')}m`;
  if (m > 0) return `${m}m${String(r).padStart(2, '0')}s`;
  return `${r}s`;
}

export interface ProgressStats {
  readonly iteration: number;
  readonly totalIterations: number;
  /** Seconds since this run (or resume) started. */
  readonly elapsedSeconds: number;
  /** Iterations done since this run (or resume) started, for the rate and ETA. */
  readonly iterationsThisRun: number;
  readonly imagesPerSecond: number;
  readonly loss: { total: number; localization: number; confidence: number };
  readonly learningRate: number;
  /** Fraction of wall time the trainer waited for the next batch. */
  readonly dataWaitFraction: number;
}

/** One progress line: bar, iteration, ETA, speed, loss parts, lr, data wait. */
export function formatProgress(p: ProgressStats, barWidth = 20): string {
  const frac = p.totalIterations > 0 ? Math.min(1, p.iteration / p.totalIterations) : 0;
  const filled = Math.round(frac * barWidth);
  const bar = '█'.repeat(filled) + '░'.repeat(barWidth - filled);
  const perIter = p.iterationsThisRun > 0 ? p.elapsedSeconds / p.iterationsThisRun : NaN;
  const eta = perIter * (p.totalIterations - p.iteration);
  const width = String(p.totalIterations).length;
  return (
    `${bar} ${String(p.iteration).padStart(width)}/${p.totalIterations}` +
    ` ${(frac * 100).toFixed(0).padStart(3)}%` +
    ` ${formatDuration(p.elapsedSeconds)}<${formatDuration(eta)}` +
    ` ${p.imagesPerSecond.toFixed(1)} img/s` +
    ` loss ${p.loss.total.toFixed(3)} (loc ${p.loss.localization.toFixed(3)} conf ${p.loss.confidence.toFixed(3)})` +
    ` lr ${p.learningRate.toExponential(2)}` +
    ` data-wait ${(p.dataWaitFraction * 100).toFixed(0)}%`
  );
}

/**
 * Writes progress lines: on a terminal it redraws one line (`\r`); otherwise
 * (CI logs, pipes) it prints a full line at most every `intervalSeconds`.
 */
export class ProgressPrinter {
  private lastPrint = -Infinity;
  private open = false;

  constructor(
    private readonly stream: NodeJS.WriteStream = process.stderr,
    private readonly intervalSeconds = stream.isTTY ? 0.2 : 10,
  ) {}

  update(line: string, force = false): void {
    const now = performance.now() / 1000;
    if (!force && now - this.lastPrint < this.intervalSeconds) return;
    this.lastPrint = now;
    if (this.stream.isTTY) {
      const cols = this.stream.columns ?? 160;
      this.stream.write(
        `\r${line.slice(0, cols - 1).padEnd(Math.min(cols - 1, line.length))}\x1b[K`,
      );
      this.open = true;
    } else {
      this.stream.write(`${line}\n`);
    }
  }

  /** Ends the redrawn line so the next message starts on its own line. */
  log(message: string): void {
    if (this.open) {
      this.stream.write('\n');
      this.open = false;
    }
    this.stream.write(`${message}\n`);
  }

  finish(): void {
    if (this.open) this.stream.write('\n');
    this.open = false;
  }
}

/** A CPU run longer than this gets {@link slowRunWarning}'s advice. */
export const SLOW_RUN_SECONDS = 3 * 3600;

/**
 * Advice for a run on the CPU whose remaining time (`etaSeconds`, from the steps
 * so far) is over {@link SLOW_RUN_SECONDS}; `null` for a faster run or a GPU.
 */
export function slowRunWarning(o: {
  readonly device: 'gpu' | 'cpu';
  readonly backend: string;
  readonly preset: string;
  readonly etaSeconds: number;
}): string | null {
  if (o.device !== 'cpu' || !(o.etaSeconds > SLOW_RUN_SECONDS)) return null;
  const smaller =
    o.preset === 'shapes'
      ? 'fewer --iterations, a smaller --input-size or --width'
      : '--preset shapes (the small network that trains on a CPU), or fewer --iterations';
  return (
    `warning: at this speed the run needs about ${formatDuration(o.etaSeconds)} more on the CPU (${o.backend}). ` +
    `For a CPU, try ${smaller}; for this recipe, a GPU (--backend webgpu with a Vulkan/Metal/D3D12 driver, or --backend tensorflow with @tensorflow/tfjs-node-gpu and CUDA 11.2).`
  );
}
