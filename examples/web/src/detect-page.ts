import {
  loadSsd,
  type Detection,
  type DetectOptions,
  type RgbImage,
  type SsdDetector,
} from '@ssd/detect';
import * as tf from '@tensorflow/tfjs-core';
import { detectWithTimes, type StageTimes } from './detection-run';
import { drawDetections } from './draw';
import { decodeImage, rgbFromDrawable } from './image';
import { shapesSample } from './training';

const $ = <T extends HTMLElement>(id: string): T => document.getElementById(id) as T;

/** The seed of the "generated shapes image" button's images (not the training seed's first images). */
const SAMPLE_SEED = 20_261_130;

/** The Detect page: a model, an image or the webcam, detections drawn over it. */
export class DetectPage {
  private detector: SsdDetector | null = null;
  private image: RgbImage | null = null;
  private detections: Detection[] = [];
  /** Stage times of the last detection. */
  lastTimes: StageTimes | null = null;
  private sampleIndex = 0;
  private webcam: MediaStream | null = null;
  private readonly canvas = $<HTMLCanvasElement>('detect-canvas');
  private readonly threshold = $<HTMLInputElement>('threshold');

  constructor() {
    const defaultRun = import.meta.env.VITE_DEFAULT_MODEL as string;
    const bundled = $<HTMLButtonElement>('model-default');
    if (defaultRun) {
      bundled.hidden = false;
      bundled.textContent = `Bundled model (${defaultRun})`;
      bundled.onclick = () => void this.openModel(DetectPage.bundledModelUrl(), defaultRun);
    }
    $<HTMLFormElement>('model-url-form').onsubmit = (event) => {
      event.preventDefault();
      const url = $<HTMLInputElement>('model-url').value.trim();
      if (url) void this.openModel(url, url);
    };
    $<HTMLInputElement>('model-files').onchange = (event) => {
      const files = [...((event.target as HTMLInputElement).files ?? [])];
      // browserFiles wants model.json first, then the weight files its manifest names.
      files.sort((a, b) => Number(b.name.endsWith('.json')) - Number(a.name.endsWith('.json')));
      if (files.length > 0) void this.openModel(tf.io.browserFiles(files), files[0]!.name);
    };
    $<HTMLInputElement>('image-file').onchange = (event) => {
      const file = (event.target as HTMLInputElement).files?.[0];
      if (file) void this.openImage(file);
    };
    $<HTMLButtonElement>('image-sample').onclick = () => void this.openSample();
    $<HTMLButtonElement>('webcam').onclick = () => void this.toggleWebcam();
    this.threshold.oninput = () => this.redraw();
    const zone = $<HTMLDivElement>('drop-zone');
    zone.ondragover = (event) => {
      event.preventDefault();
      zone.classList.add('dragging');
    };
    zone.ondragleave = () => zone.classList.remove('dragging');
    zone.ondrop = (event) => {
      event.preventDefault();
      zone.classList.remove('dragging');
      const file = [...(event.dataTransfer?.files ?? [])].find((f) => f.type.startsWith('image/'));
      if (file) void this.openImage(file);
    };
  }

  /** Where the build puts the newest `npm start` model, when it found one. */
  static bundledModelUrl(): string {
    return new URL('models/default/model.json', document.baseURI).href;
  }

  static hasBundledModel(): boolean {
    return Boolean(import.meta.env.VITE_DEFAULT_MODEL);
  }

  get scoreThreshold(): number {
    return Number(this.threshold.value);
  }

  /** Loads a model (URL or IOHandler); the previous one is freed. */
  async openModel(source: string | tf.io.IOHandler, name: string): Promise<SsdDetector> {
    const status = $<HTMLParagraphElement>('model-status');
    status.textContent = `loading ${name} …`;
    try {
      const t0 = performance.now();
      const detector = await loadSsd(source);
      this.setTime('load', performance.now() - t0);
      this.detector?.dispose();
      this.detector = detector;
      const [, size] = detector.model.inputs[0]!.shape;
      status.textContent = `${name}: ${size}×${size} input, ${detector.labels?.length ?? '?'} classes (${detector.labels?.join(', ') ?? 'no labels'})`;
      if (this.image) await this.run();
      else await this.openSample();
      return detector;
    } catch (error) {
      status.textContent = `${name}: ${(error as Error).message}`;
      throw error;
    }
  }

  /** Detections of an image file or URL, drawn; what `window.ssdApp.detect` runs. */
  async openImage(source: Blob | string, options: DetectOptions = {}): Promise<Detection[]> {
    this.stopWebcam();
    if (options.scoreThreshold !== undefined) this.threshold.value = String(options.scoreThreshold);
    this.image = await decodeImage(source);
    return this.run(options);
  }

  /** A shapes image generated in the page (the data the Train page learns from). */
  async openSample(): Promise<Detection[]> {
    this.stopWebcam();
    const sample = shapesSample(SAMPLE_SEED, this.sampleIndex++);
    this.image = { data: sample.image as Uint8Array, width: sample.width, height: sample.height };
    return this.run();
  }

  private async run(options: DetectOptions = {}): Promise<Detection[]> {
    const image = this.image!;
    if (!this.detector) {
      this.detections = [];
      this.redraw();
      return [];
    }
    const { detections, times } = await detectWithTimes(this.detector, image, options);
    this.detections = detections;
    this.lastTimes = times;
    this.showTimes(times);
    this.redraw();
    return detections;
  }

  private redraw(): void {
    $<HTMLOutputElement>('threshold-value').value = this.scoreThreshold.toFixed(2);
    if (!this.image) return;
    const shown = drawDetections(this.canvas, this.image, this.detections, {
      scoreThreshold: this.scoreThreshold,
    });
    $<HTMLParagraphElement>('detect-summary').textContent = this.detector
      ? `${shown} of ${this.detections.length} detections at score ≥ ${this.scoreThreshold.toFixed(2)}`
      : 'open a model to detect';
  }

  private setTime(stage: keyof StageTimes | 'load', ms: number): void {
    const cell = document.querySelector<HTMLTableCellElement>(`#times td[data-stage="${stage}"]`);
    if (cell) cell.textContent = `${ms.toFixed(1)} ms`;
  }

  private showTimes(times: StageTimes): void {
    for (const [stage, ms] of Object.entries(times)) this.setTime(stage as keyof StageTimes, ms);
  }

  private async toggleWebcam(): Promise<void> {
    if (this.webcam) {
      this.stopWebcam();
      return;
    }
    const video = $<HTMLVideoElement>('webcam-video');
    const button = $<HTMLButtonElement>('webcam');
    try {
      this.webcam = await navigator.mediaDevices.getUserMedia({ video: true, audio: false });
    } catch (error) {
      $<HTMLParagraphElement>('detect-summary').textContent = `webcam: ${(error as Error).message}`;
      return;
    }
    video.srcObject = this.webcam;
    await video.play();
    button.textContent = 'Stop webcam';
    const stream = this.webcam;
    const frame = async (): Promise<void> => {
      if (this.webcam !== stream) return;
      this.image = rgbFromDrawable(video, video.videoWidth, video.videoHeight);
      await this.run();
      requestAnimationFrame(() => void frame());
    };
    void frame();
  }

  private stopWebcam(): void {
    if (!this.webcam) return;
    for (const track of this.webcam.getTracks()) track.stop();
    this.webcam = null;
    $<HTMLButtonElement>('webcam').textContent = 'Start webcam';
  }
}
