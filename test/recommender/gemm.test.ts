import { readFile } from 'node:fs/promises';
import { beforeAll, describe, expect, it } from 'vitest';
import { tf } from '../../recommender/tf.ts';
import { initBackend } from '../../recommender/backend/index.ts';
import { gemmBlocking, gemmInstance, gemmKernelConfig, gemmStats } from '../../recommender/backend/gemm.ts';
import { GEMM_TS_URL, GEMM_WAT_URL, renderGemmModule } from '../../scripts/build-gemm.ts';
import { Rng } from '../../recommender/random.ts';

/** Seeded values in [-0.5, 0.5), from the project's PRNG. */
function rng(seed: number): () => number {
  const r = new Rng(seed);
  return () => r.next() - 0.5;
}

function randomData(size: number, next: () => number): Float32Array {
  return Float32Array.from({ length: size }, next);
}

const size = (s: number[]) => s.reduce((x, y) => x * y, 1);

/**
 * float64 C = op(A)·op(B) with numpy-style broadcasting of the batch dims,
 * and Σ|a·b| per element (the scale of float32 rounding error).
 */
function reference(
  a: Float32Array, aShape: number[], b: Float32Array, bShape: number[], tA: boolean, tB: boolean,
): { shape: number[]; c: Float64Array; scale: Float64Array } {
  const ar = aShape.length;
  const br = bShape.length;
  const [M, K] = tA ? [aShape[ar - 1], aShape[ar - 2]] : [aShape[ar - 2], aShape[ar - 1]];
  const N = tB ? bShape[br - 2] : bShape[br - 1];
  const oa = aShape.slice(0, -2);
  const ob = bShape.slice(0, -2);
  const r = Math.max(oa.length, ob.length);
  const pa = [...Array<number>(r - oa.length).fill(1), ...oa];
  const pb = [...Array<number>(r - ob.length).fill(1), ...ob];
  const outer = pa.map((d, i) => Math.max(d, pb[i]));
  const batches = size(outer);
  const c = new Float64Array(batches * M * N);
  const scale = new Float64Array(batches * M * N);
  for (let q = 0; q < batches; q++) {
    // multi-index of q over `outer`, then the flat batch index into A and into B
    let rest = q;
    const idx = new Array<number>(r);
    for (let d = r - 1; d >= 0; d--) {
      idx[d] = rest % outer[d];
      rest = Math.floor(rest / outer[d]);
    }
    let qa = 0;
    let qb = 0;
    for (let d = 0; d < r; d++) {
      qa = qa * pa[d] + (pa[d] === 1 ? 0 : idx[d]);
      qb = qb * pb[d] + (pb[d] === 1 ? 0 : idx[d]);
    }
    for (let i = 0; i < M; i++) {
      for (let j = 0; j < N; j++) {
        let s = 0;
        let sa = 0;
        for (let k = 0; k < K; k++) {
          const x = a[qa * M * K + (tA ? k * M + i : i * K + k)];
          const y = b[qb * K * N + (tB ? j * K + k : k * N + j)];
          s += x * y;
          sa += Math.abs(x * y);
        }
        c[(q * M + i) * N + j] = s;
        scale[(q * M + i) * N + j] = sa;
      }
    }
  }
  return { shape: [...outer, M, N], c, scale };
}

/** Runs tf.matMul on the current backend and checks it against the float64 reference. */
function check(outerA: number[], outerB: number[], M: number, N: number, K: number, tA: boolean, tB: boolean, seed: number): void {
  const next = rng(seed);
  const aShape = [...outerA, ...(tA ? [K, M] : [M, K])];
  const bShape = [...outerB, ...(tB ? [N, K] : [K, N])];
  const a = randomData(size(aShape), next);
  const b = randomData(size(bShape), next);
  const want = reference(a, aShape, b, bShape, tA, tB);
  const c = tf.tidy(() => tf.matMul(tf.tensor(a, aShape), tf.tensor(b, bShape), tA, tB));
  const got = c.dataSync();
  const label = `A${JSON.stringify(aShape)}${tA ? 'ᵀ' : ''} · B${JSON.stringify(bShape)}${tB ? 'ᵀ' : ''}`;
  expect(c.shape, label).toEqual(want.shape);
  c.dispose();
  let worst = 0;
  let at = -1;
  for (let i = 0; i < got.length; i++) {
    const excess = Math.abs(got[i] - want.c[i]) - (1e-6 + 1e-5 * want.scale[i]);
    if (excess > worst) [worst, at] = [excess, i];
  }
  expect(at, `${label}: element ${at} is ${got[at]}, want ${want.c[at]}`).toBe(-1);
}

const TRANSPOSES: [boolean, boolean][] = [
  [false, false],
  [false, true],
  [true, false],
  [true, true],
];
const EDGES = [1, 3, 5, 7, 17, 33];

describe('wasm BatchMatMul (SIMD GEMM)', () => {
  beforeAll(async () => {
    await initBackend('wasm');
  });

  it('gemmWasm.ts is gemm.wat assembled (run npm run build:gemm after editing the .wat)', async () => {
    const [wat, committed] = await Promise.all([readFile(GEMM_WAT_URL, 'utf8'), readFile(GEMM_TS_URL, 'utf8')]);
    expect(committed).toBe(await renderGemmModule(wat));
  });

  it('runs on its own memory, unshared and shared (threaded backend)', () => {
    for (const shared of [false, true]) {
      const memory = new WebAssembly.Memory({ initial: 2, maximum: 64, shared });
      const gemm = gemmInstance(memory);
      expect(gemm, `shared=${shared}`).not.toBeNull();
      const [M, N, K] = [5, 11, 7];
      const next = rng(shared ? 2 : 1);
      const a = randomData(M * K, next);
      const b = randomData(K * N, next);
      const [aOff, bOff, cOff, sOff] = [0, 1024, 2048, 4096];
      const heap = () => new Float32Array(memory.buffer);
      heap().set(a, aOff / 4);
      heap().set(b, bOff / 4);
      const { KC, NC } = gemmBlocking(N, K, false);
      memory.grow(1); // the instance follows the memory as it grows
      gemm!(aOff, bOff, cOff, sOff, 1, 0, 0, 0, M, N, K, 0, K * 4, 4, N * 4, 4, KC, NC);
      const want = reference(a, [M, K], b, [K, N], false, false);
      const got = heap().subarray(cOff / 4, cOff / 4 + M * N);
      for (let i = 0; i < M * N; i++) expect(got[i]).toBeCloseTo(want.c[i], 5);
    }
  });

  it('is the registered BatchMatMul kernel for the wasm backend', () => {
    expect(tf.getBackend()).toBe('wasm');
    expect(tf.getKernel('BatchMatMul', 'wasm')?.kernelFunc).toBe(gemmKernelConfig.kernelFunc);
    const before = gemmStats.simd;
    tf.tidy(() => tf.matMul(tf.ones([3, 4]), tf.ones([4, 5]))).dispose();
    expect(gemmStats.simd).toBe(before + 1);
  });

  it('matches a float64 reference for every transpose and edge sizes of M, N, K', () => {
    const before = gemmStats.stock;
    let seed = 1;
    for (const [tA, tB] of TRANSPOSES) {
      for (const [iM, M] of EDGES.entries()) {
        for (const [iN, N] of EDGES.entries()) {
          check([], [], M, N, EDGES[(iM + 2 * iN) % EDGES.length], tA, tB, seed++);
        }
      }
      for (const K of EDGES) check([], [], 9, 13, K, tA, tB, seed++);
    }
    expect(gemmStats.stock).toBe(before);
  });

  it('handles several K and N blocks (long K accumulates into C)', () => {
    for (const [tA, tB] of TRANSPOSES) {
      const { KC, NC } = gemmBlocking(400, 600, tA);
      expect(KC).toBeLessThan(600);
      expect(NC).toBeLessThan(400);
      check([], [], 9, 400, 600, tA, tB, 11);
      check([2], [2], 6, 400, 530, tA, tB, 12);
      check([3], [], 5, 400, 520, tA, tB, 13); // broadcast B larger than one block
    }
  });

  it('handles rank 3 and 4 batches and broadcasting a single matrix on either side', () => {
    const outers: [number[], number[]][] = [
      [[3], [3]],
      [[1], [4]],
      [[4], [1]],
      [[4], []],
      [[], [4]],
      [[2, 3], [2, 3]],
      [[2, 3], []],
      [[], [2, 3]],
      [[1, 1], [2, 3]],
    ];
    let seed = 100;
    for (const [oa, ob] of outers) {
      for (const [tA, tB] of TRANSPOSES) {
        check(oa, ob, 5, 7, 3, tA, tB, seed++);
        check(oa, ob, 17, 33, 9, tA, tB, seed++);
      }
    }
  });

  it('broadcasts batch dims in general ([2,1] with [1,3], [2,3] with [3])', () => {
    let seed = 200;
    for (const [tA, tB] of TRANSPOSES) {
      check([2, 1], [1, 3], 5, 6, 7, tA, tB, seed++);
      check([2, 3], [3], 4, 9, 3, tA, tB, seed++);
      check([3], [2, 1], 7, 3, 5, tA, tB, seed++);
    }
  });

  it('covers the SASRec shapes, and stays right after the heap grows', () => {
    check([], [], 640, 32, 32, false, false, 300);
    check([], [], 640, 32, 32, false, true, 301);
    check([], [], 32, 32, 640, true, false, 302);
    check([8], [8], 50, 50, 32, false, true, 303);
    check([8], [8], 50, 32, 50, true, false, 304);
    const memory = (tf.backend() as unknown as { wasm: { asm: { memory: WebAssembly.Memory } } }).wasm.asm.memory;
    const bytes = memory.buffer.byteLength;
    const big = tf.zeros([bytes / 4 + 1]);
    expect(memory.buffer.byteLength).toBeGreaterThan(bytes);
    check([4], [4], 50, 50, 32, false, true, 305);
    big.dispose();
  });

  it('gives zeros for K = 0 and an empty result for M = 0', () => {
    const z = tf.matMul(tf.ones([3, 0]), tf.ones([0, 4]));
    expect(z.shape).toEqual([3, 4]);
    expect(Array.from(z.dataSync())).toEqual(new Array(12).fill(0));
    const e = tf.matMul(tf.ones([2, 0, 5]), tf.ones([2, 5, 4]));
    expect(e.shape).toEqual([2, 0, 4]);
    tf.dispose([z, e]);
  });

  it('leaves non-float32 inputs to the stock kernel', () => {
    const before = gemmStats.stock;
    expect(() => tf.matMul(tf.ones([2, 2], 'int32'), tf.ones([2, 2], 'int32'))).toThrow(/float32/);
    expect(gemmStats.stock).toBe(before + 1);
  });

  it('gives the cpu backend’s gradients through matMuls with transposes', async () => {
    const next = rng(7);
    const x = randomData(5 * 7, next);
    const w = randomData(6 * 7, next);
    const v = randomData(5 * 3, next);
    const q = randomData(2 * 4 * 3, next);
    const k = randomData(2 * 5 * 3, next);
    const loss = (xs: tf.Tensor[]) => {
      const [xt, wt, vt, qt, kt] = xs;
      const h = tf.matMul(xt, wt, false, true); // [5,6]
      const y = tf.matMul(h, vt, true, false); // [6,3]
      const s = tf.matMul(qt, kt, false, true); // [2,4,5]
      const o = tf.matMul(s, kt); // [2,4,3]
      const r = tf.matMul(o, s, true, false); // [2,3,5]
      const p = tf.matMul(kt, r, true, true); // [2,3,3]
      return tf.add(tf.sum(tf.square(y)), tf.sum(tf.sin(p)));
    };
    const grads = async (backend: 'cpu' | 'wasm') => {
      await initBackend(backend);
      const inputs = [tf.tensor(x, [5, 7]), tf.tensor(w, [6, 7]), tf.tensor(v, [5, 3]), tf.tensor(q, [2, 4, 3]), tf.tensor(k, [2, 5, 3])];
      const g = tf.grads((...xs: tf.Tensor[]) => loss(xs) as tf.Scalar)(inputs);
      const values = g.map((t) => Array.from(t.dataSync()));
      tf.dispose([...inputs, ...g]);
      return values;
    };
    const onCpu = await grads('cpu');
    const before = gemmStats.simd;
    const onWasm = await grads('wasm');
    expect(gemmStats.simd).toBeGreaterThan(before);
    expect(onWasm.length).toBe(onCpu.length);
    for (const [i, want] of onCpu.entries()) {
      const got = onWasm[i];
      expect(got.length).toBe(want.length);
      for (const [j, value] of want.entries()) expect(got[j]).toBeCloseTo(value, 3);
    }
  });
});
