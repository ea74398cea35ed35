// The fused layer norm (recommender/models/fusedLayerNorm.ts, kernels in
// recommender/backend/layerNormKernels.ts): forward and gradients against the
// composite implementation it replaces and a float64 central finite
// difference, memory hygiene, registration, and the composite fallback when
// the active backend has no fused kernel. On both the wasm and cpu backends.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  LAYER_NORM,
  LAYER_NORM_GRAD,
  initBackend,
  layerNormGradConfig,
  layerNormKernels,
  registerLayerNormKernels,
} from '../../recommender/backend/index.ts';
import { fusedLayerNorm, fusedLayerNormAvailable } from '../../recommender/models/fusedLayerNorm.ts';
import { layerNorm } from '../../recommender/models/layers.ts';
import { Rng } from '../../recommender/random.ts';
import { tf } from '../../recommender/tf.ts';

/** The composite layer norm the fused op replaces (layers.ts before the change; still its fallback). */
function composite(x: tf.Tensor, gamma: tf.Tensor, beta: tf.Tensor, eps = 1e-8): tf.Tensor {
  const { mean, variance } = tf.moments(x, -1, true);
  return tf.add(tf.mul(tf.div(tf.sub(x, mean), tf.sqrt(tf.add(variance, eps))), gamma), beta);
}

function randomArray(rng: Rng, n: number, scale = 1, offset = 0): Float32Array {
  return Float32Array.from({ length: n }, () => offset + scale * rng.normal());
}

/** max_i |a_i - b_i| / (1 + |b_i|) */
function maxRelErr(a: ArrayLike<number>, b: ArrayLike<number>): number {
  expect(a.length).toBe(b.length);
  let worst = 0;
  for (let i = 0; i < a.length; i++) worst = Math.max(worst, Math.abs(a[i] - b[i]) / (1 + Math.abs(b[i])));
  return worst;
}

/** Σ w · layerNorm(x) in float64, written out independently of the kernels. */
function referenceLoss(x: number[], gamma: number[], beta: number[], w: number[], d: number, eps = 1e-8): number {
  let loss = 0;
  for (let o = 0; o < x.length; o += d) {
    const row = x.slice(o, o + d);
    const mean = row.reduce((s, v) => s + v, 0) / d;
    const variance = row.reduce((s, v) => s + (v - mean) ** 2, 0) / d;
    for (let j = 0; j < d; j++) loss += w[o + j] * (((row[j] - mean) / Math.sqrt(variance + eps)) * gamma[j] + beta[j]);
  }
  return loss;
}

const SHAPES: number[][] = [
  [5],
  [7, 1],
  [7, 3],
  [9, 32],
  [2, 5, 1],
  [2, 5, 3],
  [3, 6, 32],
];

describe.each(['wasm', 'cpu'] as const)('fused layer norm on %s', (backendName) => {
  let backend: { numDataIds(): number };

  beforeAll(async () => {
    await initBackend(backendName);
    backend = tf.engine().backend as unknown as { numDataIds(): number };
  });

  it('has its kernels and gradient registered after initBackend, and serves float32 [.., d] with [d] params', () => {
    for (const name of [LAYER_NORM, LAYER_NORM_GRAD]) {
      for (const b of ['cpu', 'wasm']) {
        const config = layerNormKernels.find((k) => k.kernelName === name && k.backendName === b);
        expect(tf.getKernel(name, b)?.kernelFunc).toBe(config?.kernelFunc);
      }
    }
    expect(tf.getGradient(LAYER_NORM)?.gradFunc).toBe(layerNormGradConfig.gradFunc);
    expect(tf.getBackend()).toBe(backendName);
    tf.tidy(() => {
      const x = tf.zeros([4, 8]);
      expect(fusedLayerNormAvailable(x, tf.ones([8]), tf.zeros([8]))).toBe(true);
      expect(fusedLayerNormAvailable(x, tf.ones([1, 8]), tf.zeros([8]))).toBe(false); // broadcast params: composite
      expect(fusedLayerNormAvailable(tf.zeros([4, 8], 'int32'), tf.ones([8]), tf.zeros([8]))).toBe(false);
    });
  });

  it('forward equals the composite implementation (rank 1, 2 and 3, d in {1, 3, 32})', () => {
    const rng = new Rng(11);
    for (const shape of SHAPES) {
      const d = shape[shape.length - 1];
      const n = shape.reduce((a, b) => a * b, 1);
      tf.tidy(() => {
        const x = tf.tensor(randomArray(rng, n, 2, 0.5), shape);
        const gamma = tf.tensor1d(randomArray(rng, d, 0.5, 1));
        const beta = tf.tensor1d(randomArray(rng, d, 0.5));
        const fused = fusedLayerNorm(x, gamma, beta);
        expect(fused.shape).toEqual(shape);
        expect(fused.dtype).toBe('float32');
        expect(maxRelErr(fused.dataSync(), composite(x, gamma, beta).dataSync())).toBeLessThan(1e-5);
        // layers.ts's layerNorm takes the fused path and gives the same numbers
        expect(maxRelErr(layerNorm(x, gamma, beta).dataSync(), fused.dataSync())).toBe(0);
      });
    }
  });

  it('handles constant rows (zero variance) as the composite does: y = beta', () => {
    tf.tidy(() => {
      const x = tf.tensor2d([[3, 3, 3, 3], [-1, -1, -1, -1]]);
      const gamma = tf.tensor1d([1, 2, 3, 4]);
      const beta = tf.tensor1d([0.5, 0, -0.5, 1]);
      const fused = fusedLayerNorm(x, gamma, beta).dataSync();
      expect(Array.from(fused)).toEqual([0.5, 0, -0.5, 1, 0.5, 0, -0.5, 1]);
      expect(maxRelErr(fused, composite(x, gamma, beta).dataSync())).toBe(0);
    });
  });

  it('gradients wrt x, gamma and beta equal the composite implementation\'s tf.grads', () => {
    const rng = new Rng(12);
    for (const shape of SHAPES) {
      const d = shape[shape.length - 1];
      const n = shape.reduce((a, b) => a * b, 1);
      tf.tidy(() => {
        const x = tf.tensor(randomArray(rng, n, 2, 0.5), shape);
        const gamma = tf.tensor1d(randomArray(rng, d, 0.5, 1));
        const beta = tf.tensor1d(randomArray(rng, d, 0.5));
        const w = tf.tensor(randomArray(rng, n), shape); // a non-uniform upstream gradient
        const loss = (f: typeof composite) => (a: tf.Tensor, b: tf.Tensor, c: tf.Tensor) => tf.sum(tf.mul(f(a, b, c), w));
        const fusedGrads = tf.grads(loss(fusedLayerNorm))([x, gamma, beta]);
        const compositeGrads = tf.grads(loss(composite))([x, gamma, beta]);
        for (let i = 0; i < 3; i++) {
          expect(fusedGrads[i].shape).toEqual(compositeGrads[i].shape);
          expect(maxRelErr(fusedGrads[i].dataSync(), compositeGrads[i].dataSync()), `${shape} input ${i}`).toBeLessThan(1e-4);
        }
      });
    }
  });

  it('gradients match a float64 central finite difference (tiny case)', () => {
    const rng = new Rng(13);
    const shape = [2, 3, 4];
    const d = 4;
    const n = 24;
    const xs = randomArray(rng, n, 1.5, 0.3);
    const gs = randomArray(rng, d, 0.5, 1);
    const bs = randomArray(rng, d, 0.5);
    const ws = randomArray(rng, n);
    const [dx, dgamma, dbeta] = tf.tidy(() => {
      const w = tf.tensor(ws, shape);
      return tf
        .grads((a: tf.Tensor, b: tf.Tensor, c: tf.Tensor) => tf.sum(tf.mul(fusedLayerNorm(a, b, c), w)))([
          tf.tensor(xs, shape),
          tf.tensor1d(gs),
          tf.tensor1d(bs),
        ])
        .map((g) => Array.from(g.dataSync()));
    });
    const point = [Array.from(xs), Array.from(gs), Array.from(bs)];
    const w = Array.from(ws);
    const h = 1e-5;
    const analytic = [dx, dgamma, dbeta];
    for (let which = 0; which < 3; which++) {
      for (let i = 0; i < point[which].length; i++) {
        const at = (delta: number) => {
          const p = point.map((a) => a.slice());
          p[which][i] += delta;
          return referenceLoss(p[0], p[1], p[2], w, d);
        };
        const numeric = (at(h) - at(-h)) / (2 * h);
        expect(Math.abs(analytic[which][i] - numeric), `input ${which} element ${i}`).toBeLessThan(1e-4 * (1 + Math.abs(numeric)));
      }
    }
  });

  it('leaks no tensors or backend data in forward, forward+backward, and partial gradients', () => {
    const rng = new Rng(14);
    const x = tf.tensor(randomArray(rng, 2 * 5 * 8), [2, 5, 8]);
    const gamma = tf.variable(tf.tensor1d(randomArray(rng, 8, 0.5, 1)));
    const beta = tf.variable(tf.tensor1d(randomArray(rng, 8, 0.5)));
    const w = tf.tensor(randomArray(rng, 2 * 5 * 8), [2, 5, 8]);
    try {
      const tensors = tf.memory().numTensors;
      const dataIds = backend.numDataIds();
      // forward only, outside any tidy (the stats outputs must be freed)
      fusedLayerNorm(x, gamma, beta).dispose();
      expect(tf.memory().numTensors).toBe(tensors);
      expect(backend.numDataIds()).toBe(dataIds);
      // forward + backward wrt all three
      const all = tf.grads((a: tf.Tensor, b: tf.Tensor, c: tf.Tensor) => tf.sum(tf.mul(fusedLayerNorm(a, b, c), w)))([x, gamma, beta]);
      tf.dispose(all);
      expect(tf.memory().numTensors).toBe(tensors);
      expect(backend.numDataIds()).toBe(dataIds);
      // wrt x only: the unused dgamma and dbeta must be freed too
      tf.grad((a: tf.Tensor) => tf.sum(tf.mul(fusedLayerNorm(a, gamma, beta), w)))(x).dispose();
      expect(tf.memory().numTensors).toBe(tensors);
      expect(backend.numDataIds()).toBe(dataIds);
      // wrt the variables (as training does), value and grads disposed
      const { value, grads } = tf.variableGrads(() => tf.sum(tf.mul(layerNorm(x, gamma, beta), w)) as tf.Scalar, [gamma, beta]);
      value.dispose();
      tf.dispose(Object.values(grads));
      expect(tf.memory().numTensors).toBe(tensors);
      expect(backend.numDataIds()).toBe(dataIds);
    } finally {
      tf.dispose([x, gamma, beta, w]);
    }
  });

  it('runs as one kernel forward and one backward; falls back to the composite without the kernel', async () => {
    const rng = new Rng(15);
    const x = tf.tensor(randomArray(rng, 4 * 16), [4, 16]);
    const gamma = tf.tensor1d(randomArray(rng, 16, 0.5, 1));
    const beta = tf.tensor1d(randomArray(rng, 16, 0.5));
    const run = () => tf.grads((a: tf.Tensor, b: tf.Tensor, c: tf.Tensor) => tf.sum(tf.square(layerNorm(a, b, c))))([x, gamma, beta]);
    const kernelsOf = async () => {
      let grads: tf.Tensor[] = [];
      const prof = await tf.profile(() => {
        grads = run();
        return grads;
      });
      const values = grads.map((g) => Array.from(g.dataSync()));
      tf.dispose(grads);
      return { names: prof.kernels.map((k) => k.name), values };
    };
    try {
      const fused = await kernelsOf();
      expect(fused.names.filter((n) => n === LAYER_NORM)).toHaveLength(1);
      expect(fused.names.filter((n) => n === LAYER_NORM_GRAD)).toHaveLength(1);
      expect(fused.names).not.toContain('Mean');

      // As on a backend without the kernel (tensorflow, webgl): the composite, same gradients.
      tf.unregisterKernel(LAYER_NORM, backendName);
      expect(fusedLayerNormAvailable(x, gamma, beta)).toBe(false);
      const fallback = await kernelsOf();
      expect(fallback.names).not.toContain(LAYER_NORM);
      expect(fallback.names).toContain('Mean');
      for (let i = 0; i < 3; i++) expect(maxRelErr(fused.values[i], fallback.values[i])).toBeLessThan(1e-4);
    } finally {
      registerLayerNormKernels();
      tf.dispose([x, gamma, beta]);
    }
    expect(tf.getKernel(LAYER_NORM, backendName)).toBeDefined();
  });
});

afterAll(() => {
  registerLayerNormKernels();
});
