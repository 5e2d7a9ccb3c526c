import { drawDetections } from './draw';
import { drawLossChart } from './loss-chart';
import {
  BROWSER_TRAIN_DEFAULTS,
  BrowserTrainer,
  type BrowserTrainOptions,
  type StepLoss,
} from './training';

const $ = <T extends HTMLElement>(id: string): T => document.getElementById(id) as T;

/** Images shown with their detections after an evaluation. */
const SHOWN_RESULTS = 8;

/** "12 s", "3 min 5 s". */
export function formatDuration(seconds: number): string {
  if (!Number.isFinite(seconds)) return '–';
  if (seconds < 60) return `${seconds.toFixed(0)} s`;
  return `${Math.floor(seconds / 60)} min ${Math.round(seconds % 60)} s`;
}

/** The Train page: trains the shapes preset in the page, charts the loss, evaluates, exports. */
export class TrainPage {
  private trainer: BrowserTrainer | null = null;
  private losses: StepLoss[] = [];
  private stopRequested = false;
  private running = false;
  private readonly form = $<HTMLFieldSetElement>('train-options');
  private readonly start = $<HTMLButtonElement>('train-start');
  private readonly stop = $<HTMLButtonElement>('train-stop');
  private readonly evaluateButton = $<HTMLButtonElement>('train-evaluate');
  private readonly download = $<HTMLButtonElement>('train-download');

  constructor() {
    this.start.onclick = () => void this.train();
    this.stop.onclick = () => {
      this.stopRequested = true;
    };
    this.evaluateButton.onclick = () => void this.evaluate();
    this.download.onclick = () => void this.downloadModel();
    this.form.onchange = () => {
      // New options: the next Train starts a new run.
      if (!this.running) this.reset();
    };
    this.setOptions(BROWSER_TRAIN_DEFAULTS);
    drawLossChart($<HTMLCanvasElement>('loss-chart'), []);
  }

  /** Sets the form's fields (the next Train starts a new run with them). */
  setOptions(options: Partial<BrowserTrainOptions>): void {
    if (this.running) throw new Error('training: stop first');
    for (const [key, value] of Object.entries(options)) {
      this.form.querySelector<HTMLInputElement>(`[name="${key}"]`)!.value = String(value);
    }
    this.reset();
  }

  private field(name: string): string {
    return this.form.querySelector<HTMLInputElement>(`[name="${name}"]`)!.value;
  }

  /** The run's options: the trainer's, or the form's before a run starts. */
  options(): BrowserTrainOptions {
    if (this.trainer) return { ...this.trainer.options };
    const o = { ...BROWSER_TRAIN_DEFAULTS } as Record<keyof BrowserTrainOptions, number | string>;
    for (const key of Object.keys(o) as (keyof BrowserTrainOptions)[]) {
      // The selects of strings stay strings; every other field is a number.
      o[key] =
        typeof BROWSER_TRAIN_DEFAULTS[key] === 'string' ? this.field(key) : Number(this.field(key));
    }
    return o as unknown as BrowserTrainOptions;
  }

  private reset(): void {
    this.trainer?.dispose();
    this.trainer = null;
    this.losses = [];
    this.start.textContent = 'Train';
    drawLossChart($<HTMLCanvasElement>('loss-chart'), []);
  }

  /**
   * Trains `steps` more steps (when not given: to the end of the run, the form's
   * Steps); a stopped run goes on from where it stopped. A new run starts with the
   * LSUV initialisation. Returns the losses of these steps.
   */
  async train(requested?: number): Promise<StepLoss[]> {
    if (this.running) throw new Error('already training');
    this.running = true;
    this.stopRequested = false;
    this.setButtons();
    const status = $<HTMLParagraphElement>('train-status');
    const progress = $<HTMLProgressElement>('train-progress');
    const chart = $<HTMLCanvasElement>('loss-chart');
    try {
      if (!this.trainer) {
        status.textContent = 'building the network, LSUV initialisation on 16 images …';
        this.trainer = await BrowserTrainer.create(this.options());
      }
      const trainer = this.trainer;
      const remaining = trainer.options.steps - trainer.step;
      const steps = requested ?? (remaining > 0 ? remaining : trainer.options.steps);
      const first = trainer.step;
      const recent: number[] = [];
      status.textContent = `generating images and starting at step ${first} …`;
      const losses = await trainer.train({
        steps,
        shouldStop: () => this.stopRequested,
        onStep: async (loss) => {
          this.losses.push(loss);
          recent.push(loss.milliseconds);
          if (recent.length > 20) recent.shift();
          const msPerStep = recent.reduce((a, b) => a + b, 0) / recent.length;
          const done = loss.step - first;
          progress.value = done / steps;
          status.textContent =
            `step ${loss.step} (${done}/${steps}) · loss ${loss.total.toFixed(3)} · ` +
            `lr ${loss.learningRate.toPrecision(2)} · ` +
            `${(msPerStep / 1000).toFixed(2)} s/step · ETA ${formatDuration(((steps - done) * msPerStep) / 1000)}`;
          drawLossChart(chart, this.losses);
          // Let the page paint between steps.
          await new Promise((resolve) => setTimeout(resolve, 0));
        },
      });
      status.textContent += this.stopRequested ? ' · stopped' : ' · done';
      this.start.textContent = 'Resume';
      return losses;
    } finally {
      this.running = false;
      this.setButtons();
    }
  }

  private setButtons(): void {
    this.start.disabled = this.running;
    this.stop.disabled = !this.running;
    this.evaluateButton.disabled = this.running || this.trainer === null;
    this.download.disabled = this.running || this.trainer === null;
  }

  /** Detections on the held-out images, the first few drawn, and the VOC07 mAP. */
  async evaluate(): Promise<number | null> {
    const trainer = this.trainer;
    if (!trainer) throw new Error('train first');
    const samples = trainer.testSamples();
    const { detections, result } = await trainer.evaluate(samples);
    $<HTMLParagraphElement>('train-map').textContent =
      `mAP@0.5 (VOC07 11-point) on ${samples.length} held-out images: ` +
      (result.map === null ? 'n/a' : `${(result.map * 100).toFixed(1)}`);
    const grid = $<HTMLDivElement>('train-results');
    grid.replaceChildren();
    samples.slice(0, SHOWN_RESULTS).forEach((sample, i) => {
      const canvas = document.createElement('canvas');
      drawDetections(
        canvas,
        { data: sample.image as Uint8Array, width: sample.width, height: sample.height },
        detections[i]!,
        { scoreThreshold: 0.5, maxSide: 200 },
      );
      grid.append(canvas);
    });
    return result.map;
  }

  /** `model.json` and `model.weights.bin`, as the download gives them. */
  async modelFiles(): Promise<{ modelJson: string; weights: ArrayBuffer }> {
    if (!this.trainer) throw new Error('train first');
    return this.trainer.modelFiles();
  }

  private async downloadModel(): Promise<void> {
    const { modelJson, weights } = await this.modelFiles();
    for (const [name, blob] of [
      ['model.json', new Blob([modelJson], { type: 'application/json' })],
      ['model.weights.bin', new Blob([weights], { type: 'application/octet-stream' })],
    ] as const) {
      const link = document.createElement('a');
      link.href = URL.createObjectURL(blob);
      link.download = name;
      link.click();
      setTimeout(() => URL.revokeObjectURL(link.href), 1000);
    }
  }
}
