import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-core/dist/register_all_gradients';
import { testRng } from '@ssd/testing';
import { describe, expect, it } from 'vitest';
import { releaseBackwardMemory } from './backward-memory';

let serial = 0;

/** A small conv net's loss: conv → bias → relu (×3), then a mean square. */
function setup() {
  const rng = testRng(7);
  const values = (n: number) => Float32Array.from({ length: n }, () => rng() - 0.5);
  const x = tf.tensor4d(values(2 * 12 * 12 * 3), [2, 12, 12, 3]);
  const shapes: [number, number][] = [
    [3, 8],
    [8, 8],
    [8, 4],
  ];
  // tidy frees the tensors the variables were copied from.
  const vars = tf.tidy(() =>
    shapes.flatMap(([cin, cout], i) => [
      tf.variable(
        tf.tensor4d(values(9 * cin * cout), [3, 3, cin, cout]),
        true,
        `bm_w${i}${serial}`,
      ),
      tf.variable(tf.tensor1d(values(cout)), true, `bm_b${i}${serial++}`),
    ]),
  );
  const loss = () => {
    let h: tf.Tensor4D = x;
    for (let i = 0; i < shapes.length; i++) {
      const z = tf.add(tf.conv2d(h, vars[2 * i] as tf.Tensor4D, 1, 'same'), vars[2 * i + 1]!);
      h = tf.relu(z) as tf.Tensor4D;
    }
    return tf.mean(tf.square(h)) as tf.Scalar;
  };
  return { x, vars, loss };
}

async function gradients(release: boolean) {
  const { x, vars, loss } = setup();
  const handle = release ? releaseBackwardMemory() : null;
  try {
    let out: Float32Array[] = [];
    const profile = await tf.profile(() => {
      const { value, grads } = tf.variableGrads(loss, vars);
      out = vars.map((v) => grads[v.name]!.dataSync() as Float32Array);
      tf.dispose([value, ...Object.values(grads)]);
    });
    return { out, peakBytes: profile.peakBytes };
  } finally {
    handle?.restore();
    tf.dispose([x, ...vars]);
  }
}

describe('releaseBackwardMemory', () => {
  it('gives the same gradients with a lower peak, and leaves no tensors behind', async () => {
    const before = tf.memory().numTensors;
    const stock = await gradients(false);
    const released = await gradients(true);
    expect(tf.memory().numTensors).toBe(before);
    released.out.forEach((g, i) => expect(Array.from(g)).toEqual(Array.from(stock.out[i]!)));
    expect(released.peakBytes).toBeLessThan(stock.peakBytes);
  });

  it('restore() puts the engine back', () => {
    const engine = tf.engine() as unknown as Record<string, unknown>;
    const original = engine.addTapeNode;
    const handle = releaseBackwardMemory();
    expect(engine.addTapeNode).not.toBe(original);
    handle.restore();
    expect(engine.addTapeNode).toBe(original);
    expect(Object.prototype.hasOwnProperty.call(engine, 'addTapeNode')).toBe(false);
  });

  it('keeps tensors the caller kept, and higher-order gradients work', () => {
    const handle = releaseBackwardMemory();
    try {
      const kept = tf.keep(tf.tensor1d([1, 2, 3]));
      const g = tf.grad((w: tf.Tensor) => tf.sum(tf.mul(tf.mul(w, kept), w)));
      const dw = g(tf.tensor1d([1, 1, 1]));
      expect(Array.from(dw.dataSync())).toEqual([2, 4, 6]);
      expect(kept.isDisposed).toBe(false);
      // d²/dw² of Σ w³ is 6w.
      const second = tf.grad((w: tf.Tensor) =>
        tf.sum(tf.grad((v: tf.Tensor) => tf.sum(tf.pow(v, 3)))(w)),
      );
      expect(Array.from(second(tf.tensor1d([1, 2])).dataSync())).toEqual([6, 12]);
      tf.dispose([kept, dw]);
    } finally {
      handle.restore();
    }
  });
});
