import { existsSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Plugin } from 'vite';

const here = path.dirname(fileURLToPath(import.meta.url));
const repoRoot = path.resolve(here, '../../..');

/** The tfjs-backend-wasm binaries the page serves under `wasm/` (`setWasmPaths`). */
export const WASM_FILES = [
  'tfjs-backend-wasm.wasm',
  'tfjs-backend-wasm-simd.wasm',
  'tfjs-backend-wasm-threaded-simd.wasm',
] as const;

function wasmDir(): string {
  const require = createRequire(import.meta.url);
  return path.dirname(require.resolve('@tensorflow/tfjs-backend-wasm/package.json')) + '/dist';
}

/** The newest `runs/<run>/model/` that holds a `model.json` (by its modification time), or null. */
export function newestRunModel(runsDir = path.join(repoRoot, 'runs')): string | null {
  if (!existsSync(runsDir)) return null;
  let best: { dir: string; time: number } | null = null;
  for (const run of readdirSync(runsDir)) {
    const dir = path.join(runsDir, run, 'model');
    const json = path.join(dir, 'model.json');
    if (!existsSync(json)) continue;
    const time = statSync(json).mtimeMs;
    if (best === null || time > best.time) best = { dir, time };
  }
  return best?.dir ?? null;
}

/** Files of a saved model: `model.json` and the weight files its manifest names. */
function modelFiles(dir: string): string[] {
  const json = JSON.parse(readFileSync(path.join(dir, 'model.json'), 'utf8')) as {
    weightsManifest?: { paths: string[] }[];
  };
  const weights = (json.weightsManifest ?? []).flatMap((group) => group.paths);
  return ['model.json', ...weights.map((p) => path.normalize(p))];
}

const MIME: Record<string, string> = {
  '.wasm': 'application/wasm',
  '.json': 'application/json',
  '.bin': 'application/octet-stream',
};

/** Serves `files` (url → path on disk) from the dev server. */
function serveFiles(files: () => Map<string, string>): Plugin['configureServer'] {
  return (server) => {
    server.middlewares.use((req, res, next) => {
      const file = files().get((req.url ?? '').split('?')[0]!);
      if (file === undefined) return next();
      res.setHeader('Content-Type', MIME[path.extname(file)] ?? 'application/octet-stream');
      res.end(readFileSync(file));
    });
  };
}

/** Copies the tfjs-backend-wasm binaries into the build as `wasm/*.wasm` (and serves them in dev). */
export function wasmFilesPlugin(): Plugin {
  const files = (): Map<string, string> =>
    new Map(WASM_FILES.map((name) => [`/wasm/${name}`, path.join(wasmDir(), name)]));
  return {
    name: 'ssd-wasm-files',
    configureServer: serveFiles(files),
    generateBundle() {
      for (const [url, file] of files()) {
        this.emitFile({ type: 'asset', fileName: url.slice(1), source: readFileSync(file) });
      }
    },
  };
}

/**
 * Bundles the newest model `npm start` trained as `models/default/` and tells the
 * page (`import.meta.env.VITE_DEFAULT_MODEL`: the run's name, empty without one).
 */
export function defaultModelPlugin(runsDir?: string): Plugin {
  const dir = newestRunModel(runsDir);
  const files = (): Map<string, string> =>
    dir === null
      ? new Map()
      : new Map(modelFiles(dir).map((name) => [`/models/default/${name}`, path.join(dir, name)]));
  const runName = dir === null ? '' : path.basename(path.dirname(dir));
  return {
    name: 'ssd-default-model',
    config: () => ({ define: { 'import.meta.env.VITE_DEFAULT_MODEL': JSON.stringify(runName) } }),
    configResolved(config) {
      if (config.command !== 'build') return;
      config.logger.info(
        dir === null
          ? 'ssd-web: no runs/*/model/ found: the site has no bundled model (npm start trains one)'
          : `ssd-web: bundling ${path.relative(repoRoot, dir)} as models/default/`,
      );
    },
    configureServer: serveFiles(files),
    generateBundle() {
      for (const [url, file] of files()) {
        this.emitFile({ type: 'asset', fileName: url.slice(1), source: readFileSync(file) });
      }
    },
  };
}
