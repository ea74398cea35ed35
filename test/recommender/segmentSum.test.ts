// The scatter-add UnsortedSegmentSum kernel (recommender/backend/segmentSum.ts):
// its arithmetic against a naive reference, its registration on the cpu and
// wasm backends (the stock cpu kernel is O(segments × size): seconds to minutes per gather
// gradient on a 2,001-row table; wasm has none at all), and the gradient of an
// embedding lookup it serves.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { initBackend, scatterAddRows, segmentSumKernels } from '../../recommender/backend/index.ts';
import { Rng } from '../../recommender/random.ts';
import { tf } from '../../recommender/tf.ts';

/**
 * Naive segment sum, segment-major: out[s][j] = Σ_i [ids[i] == s] · x[i][j].
 * Ids outside [0, numSegments) match no segment, so they are dropped.
 */
function naiveSegmentSum(x: ArrayLike<number>, ids: ArrayLike<number>, numSegments: number, inner: number): number[] {
  const out: number[] = [];
  for (let s = 0; s < numSegments; s++) {
    for (let j = 0; j < inner; j++) {
      let sum = 0;
      for (let i = 0; i < ids.length; i++) if (ids[i] === s) sum += x[i * inner + j];
      out.push(sum);
    }
  }
  return out;
}

const arr = (a: ArrayLike<number>) => Array.from(a);

describe('scatterAddRows', () => {
  it('sums rows into their segments (a hand-worked case with a repeated id)', () => {
    // rows: [1,2] -> seg 2, [3,4] -> seg 0, [5,6] -> seg 2, [7,8] -> seg 0
    const x = Float32Array.from([1, 2, 3, 4, 5, 6, 7, 8]);
    const ids = Int32Array.from([2, 0, 2, 0]);
    const out = new Float32Array(3 * 2);
    scatterAddRows(x, ids, 3, out);
    expect(arr(out)).toEqual([3 + 7, 4 + 8, 0, 0, 1 + 5, 2 + 6]);
  });

  it('drops ids outside [0, numSegments) (negative and too large), as TensorFlow does', () => {
    const x = Float32Array.from([1, 10, 100, 1000, 10000]);
    const ids = Int32Array.from([-1, 0, 3, 1, 2]); // numSegments 3: -1 and 3 are out of range
    const out = new Float32Array(3);
    scatterAddRows(x, ids, 3, out);
    expect(arr(out)).toEqual([10, 1000, 10000]);
  });

  it('overwrites whatever `out` held (wasm output buffers are not zeroed)', () => {
    const out = Float32Array.from([9, 9, 9, 9]);
    scatterAddRows(Float32Array.from([1, 2]), Int32Array.from([1]), 2, out);
    expect(arr(out)).toEqual([0, 0, 1, 2]);
    scatterAddRows(new Float32Array(0), new Int32Array(0), 2, out);
    expect(arr(out)).toEqual([0, 0, 0, 0]);
  });

  it('matches the naive reference on random inputs with repeats and out-of-range ids', () => {
    const rng = new Rng(7);
    for (let trial = 0; trial < 50; trial++) {
      const numSegments = 1 + rng.int(12);
      const n = rng.int(30);
      const inner = 1 + rng.int(5);
      // ids in [-2, numSegments + 2): mostly in range, many repeats, some dropped
      const ids = Int32Array.from({ length: n }, () => rng.int(numSegments + 4) - 2);
      // small integers keep float32 sums exact, so the comparison can be exact
      const x = Float32Array.from({ length: n * inner }, () => rng.int(21) - 10);
      const out = new Float32Array(numSegments * inner);
      scatterAddRows(x, ids, numSegments, out);
      expect(arr(out)).toEqual(naiveSegmentSum(x, ids, numSegments, inner));
    }
  });
});

const BACKENDS = ['cpu', 'wasm'] as const;

describe.each(BACKENDS)('UnsortedSegmentSum on the %s backend', (backend) => {
  let previous: string;
  beforeAll(async () => {
    previous = tf.getBackend();
    await initBackend(backend);
  });
  afterAll(async () => {
    if (previous && previous !== backend) await tf.setBackend(previous);
  });

  it('the registered kernel is the scatter-add one (guard against the stock O(segments×size) cpu kernel / missing wasm kernel)', () => {
    expect(tf.getBackend()).toBe(backend);
    const registered = tf.getKernel('UnsortedSegmentSum', backend);
    expect(registered, `no UnsortedSegmentSum kernel registered for ${backend}`).toBeDefined();
    expect(registered!.kernelFunc).toBe(segmentSumKernels[backend].kernelFunc);
  });

  it('initBackend is idempotent: a second call keeps our kernel', async () => {
    await initBackend(backend);
    expect(tf.getKernel('UnsortedSegmentSum', backend)?.kernelFunc).toBe(segmentSumKernels[backend].kernelFunc);
  });

  it('tf.unsortedSegmentSum matches the naive reference (repeats, out-of-range ids, rank-3 x)', () => {
    const rng = new Rng(11);
    const before = tf.memory().numTensors;
    for (let trial = 0; trial < 10; trial++) {
      const numSegments = 1 + rng.int(9);
      const n = 1 + rng.int(20);
      const shape = [n, 1 + rng.int(3), 1 + rng.int(3)];
      const inner = shape[1] * shape[2];
      const ids = Int32Array.from({ length: n }, () => rng.int(numSegments + 3) - 1);
      const x = Float32Array.from({ length: n * inner }, () => rng.int(21) - 10);
      const got = tf.tidy(() => {
        const y = tf.unsortedSegmentSum(tf.tensor(x, shape), tf.tensor1d(ids, 'int32'), numSegments);
        expect(y.shape).toEqual([numSegments, shape[1], shape[2]]);
        return y.dataSync();
      });
      expect(arr(got)).toEqual(naiveSegmentSum(x, ids, numSegments, inner));
    }
    expect(tf.memory().numTensors).toBe(before);
  });

  it('the gradient of sum(gather(table, idx) * w) adds w into each looked-up row, once per occurrence', () => {
    const rows = 6;
    const dim = 3;
    const table = tf.tensor2d(Float32Array.from({ length: rows * dim }, (_, i) => i / 10), [rows, dim]);
    // 2-D indices, as SASRec looks up [batch, length]; row 4 appears three times, row 0 twice, rows 2 and 5 never
    const idx = [
      [4, 0, 4],
      [1, 3, 4],
      [0, 1, 3],
    ];
    const w = idx.map((r, a) => r.map((_, b) => [1 + a, 2 * b - 1, a * b + 0.5]));
    // by hand: d/dtable[r][k] = Σ over positions (a,b) with idx[a][b] = r of w[a][b][k]
    const expected: number[][] = Array.from({ length: rows }, () => new Array(dim).fill(0));
    idx.forEach((r, a) => r.forEach((item, b) => w[a][b].forEach((v, k) => (expected[item][k] += v))));
    expect(expected[2]).toEqual([0, 0, 0]);
    // row 4 at (0,0), (0,2), (1,2): [1,-1,0.5] + [1,3,0.5] + [2,3,2.5]
    expect(expected[4]).toEqual([4, 5, 3.5]);

    const wT = tf.tensor3d(w);
    const idxT = tf.tensor2d(idx, [3, 3], 'int32');
    const grad = tf.grad((t: tf.Tensor) => tf.sum(tf.mul(tf.gather(t, idxT), wT)))(table);
    expect(grad.shape).toEqual([rows, dim]);
    const got = grad.arraySync() as number[][];
    got.forEach((row, r) => row.forEach((v, k) => expect(v).toBeCloseTo(expected[r][k], 5)));
    tf.dispose([table, wT, idxT, grad]);
  });

  it('an embedding gradient on a 2,001-row table sums every lookup (timing: npm run bench:segment)', () => {
    const table = tf.variable(tf.randomNormal([2001, 32], 0, 0.1, 'float32', 1));
    const idx = tf.tensor2d(Int32Array.from({ length: 128 * 50 }, (_, i) => (i * 37) % 2001), [128, 50], 'int32');
    const g = tf.grad((t: tf.Tensor) => tf.sum(tf.gather(t, idx)))(table);
    const data = g.dataSync();
    // each of the 6,400 lookups adds 1 to all 32 entries of its row
    let total = 0;
    for (const v of data) total += v;
    expect(total).toBe(128 * 50 * 32);
    tf.dispose([table, idx, g]);
  });
});
