'use strict';
// The pthread worker of @tensorflow/tfjs-backend-wasm's threaded SIMD build, in Node
// (started by Emscripten; `enableWasmThreads` in wasm-threads.ts points it here).
//
// tfjs 4.22 hands Emscripten this worker's code and the main script as Blobs, which
// Node's Worker and `importScripts` cannot load. This file runs the same worker code
// (the package's `wasm-out/…worker.js`) and, when the main thread sends the main
// script as a Blob, loads the package's own copy of that script from disk instead.
const path = require('node:path');
const { parentPort } = require('node:worker_threads');

const dir = path.join(
  path.dirname(require.resolve('@tensorflow/tfjs-backend-wasm/package.json')),
  'wasm-out',
);
const mainScript = path.join(dir, 'tfjs-backend-wasm-threaded-simd.js');
const { wasmWorkerContents } = require(path.join(dir, 'tfjs-backend-wasm-threaded-simd.worker.js'));

const on = parentPort.on.bind(parentPort);
parentPort.on = (event, listener) =>
  on(
    event,
    event !== 'message'
      ? listener
      : (data) => {
          if (data && data.cmd === 'load' && typeof data.urlOrBlob !== 'string') {
            data.urlOrBlob = mainScript;
          }
          listener(data);
        },
  );

// The worker code is a script: it declares its globals with `var` and uses `require`
// and `__filename` the way a CommonJS module sees them. Its string literals hold
// `\n` escapes that the template literal it ships in turned into newlines.
new Function('require', '__filename', wasmWorkerContents.replace(/\n/g, '\\n'))(
  require,
  __filename,
);
