import { defineConfig } from 'vite';
import { defaultModelPlugin, wasmFilesPlugin } from './build/site-assets';

/**
 * The static site: `dist/` holds the page, the tfjs-backend-wasm binaries under
 * `wasm/` and, when `npm start` has trained one, the newest `runs/<run>/model/`
 * under `models/default/`.
 */
export default defineConfig({
  base: './',
  plugins: [wasmFilesPlugin(), defaultModelPlugin()],
  build: { target: 'es2022', chunkSizeWarningLimit: 4000 },
  server: { host: '127.0.0.1' },
  preview: { host: '127.0.0.1' },
});
