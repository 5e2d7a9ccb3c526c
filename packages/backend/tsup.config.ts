import { libraryConfig } from '../../tsup.base';

// worker.ts is the worker-thread entry the data-parallel trainer starts; shims
// give the CommonJS build an import.meta.url to find it by.
export default libraryConfig({
  entry: ['src/index.ts', 'src/node.ts', 'src/worker.ts'],
  shims: true,
  // The threaded wasm build's pthread worker (wasm-threads.ts) is plain CommonJS.
  onSuccess: 'cp src/wasm-pthread-worker.cjs dist/',
});
