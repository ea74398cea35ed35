import { beforeAll, describe, expect, it } from 'vitest';
import { tf } from '../../recommender/tf.ts';
import { gatherRows, initBackend, registerGradientFixes, sumGradConfig, wasmKernelFuncs } from '../../recommender/backend/index.ts';

beforeAll(async () => {
  await initBackend('wasm');
});

describe('wasm kernel replacements', () => {
  it('are the registered Identity and GatherV2 kernels after initBackend', () => {
    expect(tf.getKernel('Identity', 'wasm')?.kernelFunc).toBe(wasmKernelFuncs.Identity);
    expect(tf.getKernel('GatherV2', 'wasm')?.kernelFunc).toBe(wasmKernelFuncs.GatherV2);
  });

  it('gatherRows copies rows by index and rejects out-of-range indices', () => {
    const x = Float32Array.from([0, 1, 10, 11, 20, 21]); // 3 rows of 2
    const out = new Float32Array(6);
    gatherRows(x, 2, 3, Int32Array.from([2, 0, 2]), out);
    expect(Array.from(out)).toEqual([20, 21, 0, 1, 20, 21]);
    expect(() => gatherRows(x, 2, 3, Int32Array.from([3]), out)).toThrow(/index value 3 is not in \[0, 2\]/);
    expect(() => gatherRows(x, 2, 3, Int32Array.from([-1]), out)).toThrow(/index value -1/);
  });

  it('tf.gather on axis 0 with 2-D indices gives rows in index order, and other axes still work', () => {
    const table = tf.tensor2d([[1, 2, 3], [4, 5, 6], [7, 8, 9]]);
    const idx = tf.tensor2d([[2, 0], [1, 1]], [2, 2], 'int32');
    const g = tf.gather(table, idx);
    expect(g.shape).toEqual([2, 2, 3]);
    expect(Array.from(g.dataSync())).toEqual([7, 8, 9, 1, 2, 3, 4, 5, 6, 4, 5, 6]);
    // axis 1 takes the stock path: columns 2 and 0
    expect(Array.from(tf.gather(table, tf.tensor1d([2, 0], 'int32'), 1).dataSync())).toEqual([3, 1, 6, 4, 9, 7]);
    tf.dispose([table, idx, g]);
  });

  it('Identity shares data without leaking: disposing either tensor keeps the other readable', () => {
    const before = tf.memory().numTensors;
    const a = tf.tensor1d([1, 2, 3]);
    const b = tf.clone(a); // Identity kernel
    a.dispose();
    expect(Array.from(b.dataSync())).toEqual([1, 2, 3]);
    b.dispose();
    expect(tf.memory().numTensors).toBe(before);
    // a same-dtype cast also routes through Identity
    const c = tf.tensor1d([4, 5]);
    const d = tf.cast(c, 'float32');
    c.dispose();
    expect(Array.from(d.dataSync())).toEqual([4, 5]);
    d.dispose();
  });
});

describe('Sum gradient fix', () => {
  it('is registered and equals the analytic gradient of a weighted sum over an axis', () => {
    registerGradientFixes();
    expect(tf.getGradient('Sum')?.gradFunc).toBe(sumGradConfig.gradFunc);
    // f(x) = Σ_i w_i · Σ_j x_ij  →  ∂f/∂x_ij = w_i
    const x = tf.randomNormal([3, 4]);
    const w = tf.tensor1d([1, -2, 0.5]);
    const g = tf.grad((t: tf.Tensor) => tf.sum(tf.mul(tf.sum(t, 1), w)))(x);
    expect(Array.from(g.dataSync())).toEqual([1, 1, 1, 1, -2, -2, -2, -2, 0.5, 0.5, 0.5, 0.5]);
    // keepDims and several axes: ∂/∂x of Σ x over axes [0, 2] weighted by v_j is v_j everywhere in column j
    const y = tf.randomNormal([2, 3, 2]);
    const v = tf.tensor3d([[[1], [2], [3]]]);
    const gy = tf.grad((t: tf.Tensor) => tf.sum(tf.mul(tf.sum(t, [0, 2], true), v)))(y);
    expect(Array.from(gy.dataSync())).toEqual([1, 1, 2, 2, 3, 3, 1, 1, 2, 2, 3, 3]);
    tf.dispose([x, w, g, y, v, gy]);
  });
});
