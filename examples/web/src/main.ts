import type { Detection, DetectOptions } from '@ssd/detect';
import * as tf from '@tensorflow/tfjs-core';
import { isWebBackend, startBackend, type WebBackend } from './backend';
import { DetectPage } from './detect-page';
import type { StageTimes } from './detection-run';
import { TrainPage } from './train-page';
import type { BrowserTrainOptions } from './training';

/**
 * What a test (or the console) drives the page with. `?backend=` picks the
 * backend, `?model=` the model `ready` waits for (else the bundled one, if any).
 */
export interface SsdApp {
  /** Resolves when the backend runs and the model (if any) is loaded; rejects on failure. */
  ready: Promise<void>;
  /** The tfjs backend in use (set once `ready` resolves). */
  backend: string;
  /**
   * The webgpu adapter or the WebGL renderer (`google swiftshader, software`), else
   * `cpu` (wasm: `cpu, 2 threads`).
   */
  device: string;
  /** wasm's threads (1 unless the page is cross-origin isolated); 1 on other backends. */
  threads: number;
  /** Detections of an image URL, in its pixels, as `@ssd/detect` gives them (and drawn). */
  detect(imageUrl: string, options?: DetectOptions): Promise<Detection[]>;
  /** Milliseconds per stage of the last detection (preprocess, forward, postprocess). */
  lastTimes(): StageTimes | null;
  /**
   * Trains `steps` more steps of the Train page's run; the total loss of each.
   * `options` (the form's fields) start a new run with them.
   */
  train(o: { steps: number; options?: Partial<BrowserTrainOptions> }): Promise<number[]>;
  /** The options of the Train page's run (the form's, before a run starts). */
  trainOptions(): BrowserTrainOptions;
  /** VOC07 mAP@0.5 of the trained model on the held-out images (and drawn). */
  evaluate(): Promise<number | null>;
  /** The trained model's files, as the download gives them (weights in base64). */
  exportModel(): Promise<{ modelJson: string; weightsBase64: string }>;
  /** `tf.memory().numTensors` (leak checks). */
  numTensors(): number;
  /** Shows a page: 'detect' or 'train'. */
  show(page: 'detect' | 'train'): void;
}

declare global {
  interface Window {
    ssdApp: SsdApp;
  }
}

function base64(buffer: ArrayBuffer): string {
  const bytes = new Uint8Array(buffer);
  let text = '';
  for (let i = 0; i < bytes.length; i += 0x8000) {
    text += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  }
  return btoa(text);
}

function show(page: 'detect' | 'train'): void {
  for (const section of document.querySelectorAll<HTMLElement>('.page')) {
    section.hidden = section.id !== page;
  }
  for (const link of document.querySelectorAll<HTMLAnchorElement>('nav a')) {
    link.classList.toggle('active', link.dataset.tab === page);
  }
}

function showFromHash(): void {
  show(location.hash === '#train' ? 'train' : 'detect');
}

async function start(app: SsdApp, detectPage: DetectPage): Promise<void> {
  const params = new URLSearchParams(location.search);
  const requested = params.get('backend');
  const prefer: WebBackend | 'auto' = isWebBackend(requested) ? requested : 'auto';
  const picker = document.getElementById('backend-picker') as HTMLSelectElement;
  const status = document.getElementById('backend-status')!;
  picker.value = prefer === 'auto' ? 'wasm' : prefer;
  picker.onchange = () => {
    // Tensors live on one backend: switching reloads the page on the new one.
    params.set('backend', picker.value);
    location.search = params.toString();
  };
  try {
    const active = await startBackend(prefer);
    app.backend = active.backend;
    app.device = active.device;
    app.threads = active.threads;
    picker.value = active.backend;
    status.textContent = `in use: ${active.backend} (${active.device})`;
    status.title = active.warnings.join('\n');
  } catch (error) {
    status.textContent = `${prefer} unavailable: ${(error as Error).message.split('\n')[0]}`;
    throw error;
  }
  const model = params.get('model');
  if (model) {
    await detectPage.openModel(new URL(model, document.baseURI).href, model);
  } else if (DetectPage.hasBundledModel()) {
    await detectPage.openModel(DetectPage.bundledModelUrl(), import.meta.env.VITE_DEFAULT_MODEL);
  } else {
    await detectPage.openSample();
  }
}

function main(): void {
  const detectPage = new DetectPage();
  const trainPage = new TrainPage();
  const app: SsdApp = {
    ready: Promise.resolve(),
    backend: '',
    device: '',
    threads: 1,
    detect: (imageUrl, options) => detectPage.openImage(imageUrl, options),
    lastTimes: () => detectPage.lastTimes,
    train: async ({ steps, options }) => {
      if (options) trainPage.setOptions(options);
      return (await trainPage.train(steps)).map((l) => l.total);
    },
    trainOptions: () => trainPage.options(),
    evaluate: () => trainPage.evaluate(),
    exportModel: async () => {
      const { modelJson, weights } = await trainPage.modelFiles();
      return { modelJson, weightsBase64: base64(weights) };
    },
    numTensors: () => tf.memory().numTensors,
    show: (page) => {
      location.hash = page;
      show(page);
    },
  };
  app.ready = start(app, detectPage);
  window.ssdApp = app;
  window.addEventListener('hashchange', showFromHash);
  showFromHash();
}

main();
