/**
 * Worker-thread side of the data-parallel trainer: builds one replica, computes
 * gradients on its slice of each batch into its slot of a shared buffer, and
 * applies the averaged gradients the main thread leaves in another.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { releaseBackwardMemory } from './backward-memory';
import type { FromWorker, ToWorker, WorkerInit } from './protocol';
import { createReplicaRunner } from './runner';

const port = parentPort;
if (port == null) throw new Error('@ssd/backend worker: must run in a worker thread');

function fail(error: unknown): void {
  const e = error as Error;
  port!.postMessage({
    type: 'error',
    message: e?.message ?? String(error),
    stack: e?.stack,
  } satisfies FromWorker);
}

// This thread's engine serves only the replica: its backward passes free each op's
// saved tensors as they go, which lowers the step's peak (the wasm heap never shrinks).
releaseBackwardMemory();

createReplicaRunner(workerData as WorkerInit).then(({ ready, handle }) => {
  // The trainer sends one message at a time and waits for its reply.
  port.on('message', (message: ToWorker) => {
    handle(message).then((reply) => port.postMessage(reply.message, reply.transfer), fail);
  });
  port.postMessage(ready);
}, fail);
