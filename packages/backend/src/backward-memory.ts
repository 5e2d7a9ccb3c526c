/**
 * Frees each op's backward inputs as soon as the backward pass is done with
 * them. tfjs 4.22's `engine.gradients` keeps every tensor an op saved for its
 * gradient, and every incoming gradient `dy`, until the whole backward pass
 * ends, so a training step's peak memory is the sum of all of them (on the wasm
 * backend the heap then stays at that peak for good). The backward pass walks
 * the tape one op at a time (the op's gradient function, then one closure per
 * input), so when the next op's gradient starts, the previous op's saved
 * tensors and `dy`s have no further reader; they are disposed then. The same
 * kernels run on the same values in the same order: results are unchanged.
 */
import * as tf from '@tensorflow/tfjs-core';

/** What tfjs's engine keeps per tape node (internal; tfjs-core 4.22). */
type GradientFunc = (dys: tf.Tensor[]) => Record<string, () => tf.Tensor>;
interface EngineInternals {
  addTapeNode(
    kernelName: string,
    inputs: Record<string, tf.Tensor>,
    outputs: tf.Tensor[],
    gradientsFunc: unknown,
    saved: tf.Tensor[],
    attrs: unknown,
  ): void;
  state: {
    activeTape: Array<{ saved?: tf.Tensor[]; gradient?: GradientFunc }> | null;
    gradientDepth: number;
  };
}

/** The op whose backward ran last: freed when the next one starts. */
interface Finished {
  tensors: tf.Tensor[];
  /** Gradients the op returned: never freed here (they are the next ops' `dy`s). */
  returned: Set<tf.Tensor>;
}

/** Undoes {@link releaseBackwardMemory}. */
export interface BackwardMemoryRelease {
  restore(): void;
}

/**
 * Makes the engine free each op's saved tensors and incoming gradients right
 * after that op's backward step (first-order gradients only; higher-order ones
 * keep tfjs's behaviour). Process-wide; call once per thread.
 * @returns `restore()`, which puts tfjs's own bookkeeping back for later ops.
 */
export function releaseBackwardMemory(): BackwardMemoryRelease {
  const engine = tf.engine() as unknown as EngineInternals;
  const own = Object.prototype.hasOwnProperty.call(engine, 'addTapeNode');
  const original = engine.addTapeNode;
  let finished: Finished | null = null;
  const release = () => {
    const done = finished;
    finished = null;
    if (done == null) return;
    for (const t of done.tensors) {
      // A kept tensor belongs to the caller; a returned one is still in use.
      if (!t.isDisposed && !(t as { kept?: boolean }).kept && !done.returned.has(t)) t.dispose();
    }
  };
  engine.addTapeNode = function (this: EngineInternals, ...args) {
    original.apply(this, args);
    const tape = this.state.activeTape;
    const node = tape?.[tape.length - 1];
    const gradient = node?.gradient;
    if (node == null || gradient == null) return;
    const saved = args[4] ?? [];
    node.gradient = (dys: tf.Tensor[]) => {
      // The previous op's closures have all run: nothing reads its tensors again.
      release();
      const closures = gradient(dys);
      if (engine.state.gradientDepth !== 0) return closures;
      const returned = new Set<tf.Tensor>();
      finished = { tensors: [...saved, ...dys.filter((d) => d != null)], returned };
      const wrapped: Record<string, () => tf.Tensor> = {};
      for (const [name, closure] of Object.entries(closures)) {
        wrapped[name] = () => {
          const dx = closure();
          returned.add(dx);
          return dx;
        };
      }
      return wrapped;
    };
  };
  return {
    restore() {
      release();
      if (own) engine.addTapeNode = original;
      else delete (engine as Partial<EngineInternals>).addTapeNode;
    },
  };
}
