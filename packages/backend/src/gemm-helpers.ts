/**
 * Helper threads for the wasm GEMM on the threaded build (Node): each
 * `worker_threads` worker instantiates the same module on the same shared memory
 * and runs the row ranges it is handed of its products (and Winograd transforms),
 * woken through `Atomics` on a small shared control block (no messages per call).
 */
import { Worker } from 'node:worker_threads';
import {
  GEMM_ARGS,
  HELPER_FUNCTIONS,
  type GemmHelpers,
  type GemmHelpersFactory,
} from './kernels/gemm';

/**
 * Control block: [generation, finished helpers, failed helpers, the function (an
 * index of HELPER_FUNCTIONS), its arguments, a row range per helper].
 */
const GENERATION = 0;
const FINISHED = 1;
const FAILED = 2;
const FUNCTION = 3;
const ARGS = 4;

/** Runs in each helper: waits for a new generation, runs its rows, reports (failures too). */
const HELPER = `
const { workerData } = require('node:worker_threads');
const { bytes, memory, control, index, args, functions } = workerData;
const { exports } = new WebAssembly.Instance(new WebAssembly.Module(bytes), { env: { memory } });
const run = functions.map(({ name }) => exports[name]);
const ctl = new Int32Array(control);
const call = new Array(args);
let seen = 0;
for (;;) {
  Atomics.wait(ctl, ${GENERATION}, seen);
  seen = Atomics.load(ctl, ${GENERATION});
  const range = ${ARGS} + args + 2 * index;
  const m0 = ctl[range];
  const m1 = ctl[range + 1];
  try {
    if (m1 > m0) {
      const fn = ctl[${FUNCTION}];
      const first = functions[fn].firstRow;
      for (let i = 0; i < args; i++) call[i] = ctl[${ARGS} + i];
      call[first] = m0;
      call[first + 1] = m1;
      run[fn](...call);
    }
  } catch {
    Atomics.add(ctl, ${FAILED}, 1);
  } finally {
    Atomics.add(ctl, ${FINISHED}, 1);
    Atomics.notify(ctl, ${FINISHED});
  }
}
`;

/**
 * A factory of `count` helper threads per GEMM instance, for
 * `setGemmHelpers`. The workers are `unref`'d: they never keep the process alive,
 * and live as long as it does (one set per wasm memory and multiply-add variant).
 */
export function nodeGemmHelpers(count: number): GemmHelpersFactory {
  return (memory, moduleBytes) => {
    const control = new SharedArrayBuffer((ARGS + GEMM_ARGS + 2 * count) * 4);
    const ctl = new Int32Array(control);
    let alive = count;
    for (let index = 0; index < count; index++) {
      const worker = new Worker(HELPER, {
        eval: true,
        workerData: {
          bytes: moduleBytes,
          memory,
          control,
          index,
          args: GEMM_ARGS,
          functions: HELPER_FUNCTIONS,
        },
      });
      worker.unref();
      // A helper that dies (it should not) fails the next product at its start; a
      // caller already waiting for it is blocked and cannot be told.
      worker.on('exit', () => {
        alive--;
        Atomics.add(ctl, FAILED, 1);
        Atomics.add(ctl, FINISHED, 1);
        Atomics.notify(ctl, FINISHED);
      });
    }
    let started = 0;
    const helpers: GemmHelpers = {
      count,
      start(fn, args, ranges) {
        if (alive < count) throw new Error('@ssd/backend: a GEMM helper thread has stopped');
        ctl[FUNCTION] = fn;
        ctl.fill(0, ARGS, ARGS + GEMM_ARGS);
        ctl.set(args, ARGS);
        for (let i = 0; i < count; i++) {
          const [m0, m1] = ranges[i] ?? [0, 0];
          ctl[ARGS + GEMM_ARGS + 2 * i] = m0;
          ctl[ARGS + GEMM_ARGS + 2 * i + 1] = m1;
        }
        started = count;
        Atomics.store(ctl, FINISHED, 0);
        // Generations count up from 1 and wrap below 2³¹.
        const next = (Atomics.load(ctl, GENERATION) % 0x3fffffff) + 1;
        Atomics.store(ctl, GENERATION, next);
        Atomics.notify(ctl, GENERATION);
      },
      wait() {
        for (;;) {
          const finished = Atomics.load(ctl, FINISHED);
          if (finished >= started) break;
          Atomics.wait(ctl, FINISHED, finished);
        }
        if (Atomics.exchange(ctl, FAILED, 0) > 0) {
          throw new Error('@ssd/backend: a GEMM helper thread failed; the result is incomplete');
        }
      },
    };
    return helpers;
  };
}
