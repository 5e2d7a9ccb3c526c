import { defineConfig } from 'vite';
import { defaultModelPlugin, wasmFilesPlugin } from './build/site-assets';

/**
 * Cross-origin isolation: with these headers the page gets SharedArrayBuffer, and
 * tfjs's wasm backend its multi-threaded build. A host without them (e.g. GitHub
 * Pages) serves the same site single-threaded.
 */
export const CROSS_ORIGIN_ISOLATION = {
  'Cross-Origin-Opener-Policy': 'same-origin',
  'Cross-Origin-Embedder-Policy': 'require-corp',
};

/**
 * The static site: `dist/` holds the page, the tfjs-backend-wasm binaries under
 * `wasm/` and, when `npm start` has trained one, the newest `runs/<run>/model/`
 * under `models/default/`.
 */
export default defineConfig({
  base: './',
  plugins: [wasmFilesPlugin(), defaultModelPlugin()],
  build: { target: 'es2022', chunkSizeWarningLimit: 4000 },
  server: { host: '127.0.0.1', headers: CROSS_ORIGIN_ISOLATION },
  preview: { host: '127.0.0.1', headers: CROSS_ORIGIN_ISOLATION },
});
