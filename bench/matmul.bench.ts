// node bin/run-ts.mjs bench/matmul.bench.ts — the wasm backend's BatchMatMul:
// stock (XNNPACK for plain unbatched products, a scalar loop otherwise) vs
// the SIMD GEMM of recommender/backend/gemm.wat, on the shapes SASRec and
// scoring produce. Each figure is the median of 5–25 timed calls of the kernel
// function itself (same inputs, output freed after each call); stock and SIMD
// calls alternate so that both see the same background load.
import { tf } from '../recommender/tf.ts';
import { initBackend, gemmKernelConfig, stockBatchMatMul } from '../recommender/backend/index.ts';
import type { NamedAttrMap, TensorInfo } from '@tensorflow/tfjs-core';
import { median, printContext } from './machine.ts';

interface Case {
  what: string;
  a: number[];
  b: number[];
  tA: boolean;
  tB: boolean;
}

const B = 128, L = 50, D = 32;
const CASES: Case[] = [
  { what: 'dense fwd  X·W', a: [B * L, D], b: [D, D], tA: false, tB: false },
  { what: 'dense dX   dY·Wᵀ', a: [B * L, D], b: [D, D], tA: false, tB: true },
  { what: 'dense dW   Xᵀ·dY', a: [B * L, D], b: [B * L, D], tA: true, tB: false },
  { what: 'dense fwd d=64', a: [B * L, 64], b: [64, 64], tA: false, tB: false },
  { what: 'dense dW d=64', a: [B * L, 64], b: [B * L, 64], tA: true, tB: false },
  { what: 'attn  Q·Kᵀ', a: [B, L, D], b: [B, L, D], tA: false, tB: true },
  { what: 'attn  P·V', a: [B, L, L], b: [B, L, D], tA: false, tB: false },
  { what: 'attn  dP = dO·Vᵀ', a: [B, L, D], b: [B, L, D], tA: false, tB: true },
  { what: 'attn  dV = Pᵀ·dO', a: [B, L, L], b: [B, L, D], tA: true, tB: false },
  { what: 'attn  dQ = dS·K', a: [B, L, L], b: [B, L, D], tA: false, tB: false },
  { what: 'attn  dK = dSᵀ·Q', a: [B, L, L], b: [B, L, D], tA: true, tB: false },
  { what: 'score [B,d]·E₁₀₀₀ᵀ', a: [B, D], b: [1000, D], tA: false, tB: true },
  { what: 'score [B,d]·E₄₀₀₀ᵀ', a: [B, D], b: [4000, D], tA: false, tB: true },
  { what: 'catalog X·E₂₀₀₀ᵀ', a: [B * L, D], b: [2000, D], tA: false, tB: true },
  { what: 'catalog dX = dZ·E', a: [B * L, 2000], b: [2000, D], tA: false, tB: false },
  { what: 'catalog dE = dZᵀ·X', a: [B * L, 2000], b: [B * L, D], tA: true, tB: false },
];

function flops(c: Case): number {
  const r = c.a.length;
  const M = c.tA ? c.a[r - 1] : c.a[r - 2];
  const K = c.tA ? c.a[r - 2] : c.a[r - 1];
  const N = c.tB ? c.b[c.b.length - 2] : c.b[c.b.length - 1];
  const batch = c.a.slice(0, -2).reduce((x, y) => x * y, 1);
  return 2 * batch * M * N * K;
}

type Kernel = (args: { inputs: { a: TensorInfo; b: TensorInfo }; backend: unknown; attrs: NamedAttrMap }) => TensorInfo;

/**
 * Median ms of each kernel, timed alternately (stock, ours, stock, …) so that
 * both see the same background load: at least 5 and at most 25 pairs, ~1 s in all.
 */
function timePair(kernels: Kernel[], a: tf.Tensor, b: tf.Tensor, c: Case): number[] {
  const backend = tf.backend() as unknown as { disposeData(id: object): boolean };
  const args = { inputs: { a, b }, backend, attrs: { transposeA: c.tA, transposeB: c.tB } };
  const once = (kernel: Kernel) => {
    const t0 = performance.now();
    const out = kernel(args);
    const dt = performance.now() - t0;
    backend.disposeData(out.dataId);
    return dt;
  };
  const firsts = kernels.map(once); // warm-up: heap growth, caches
  const pairMs = firsts.reduce((x, y) => x + y, 0);
  const runs = Math.max(5, Math.min(25, Math.ceil(1000 / Math.max(pairMs, 1e-3))));
  const times = kernels.map(() => [] as number[]);
  for (let r = 0; r < runs; r++) kernels.forEach((k, i) => times[i].push(once(k)));
  return times.map(median);
}

function maxRelDiff(x: Float32Array, y: Float32Array): number {
  let worst = 0;
  for (let i = 0; i < x.length; i++) worst = Math.max(worst, Math.abs(x[i] - y[i]) / (1 + Math.abs(y[i])));
  return worst;
}

await initBackend('wasm');
printContext('wasm BatchMatMul: stock vs SIMD GEMM (1 thread)');
const ours = gemmKernelConfig.kernelFunc as unknown as Kernel;
// Let V8 tier the GEMM's wasm functions up (Liftoff → TurboFan) before timing.
{
  const wa = tf.randomNormal([128, 128]);
  const wb = tf.randomNormal([128, 128]);
  const backend = tf.backend() as unknown as { disposeData(id: object): boolean };
  for (const [tA, tB] of [[false, false], [false, true], [true, false], [true, true]]) {
    for (let i = 0; i < 50; i++) backend.disposeData(ours({ inputs: { a: wa, b: wb }, backend, attrs: { transposeA: tA, transposeB: tB } }).dataId);
  }
  tf.dispose([wa, wb]);
}
const rows: string[][] = [['case', 'A', 'B', 'stock ms', 'GF/s', 'simd ms', 'GF/s', 'speed-up']];
for (const c of CASES) {
  const a = tf.randomNormal(c.a, 0, 1, 'float32', 1);
  const b = tf.randomNormal(c.b, 0, 1, 'float32', 2);
  // Same answer from both before timing them.
  const backend = tf.backend() as unknown as { typedArrayFromHeap(t: TensorInfo): Float32Array; disposeData(id: object): boolean };
  const args = { inputs: { a, b }, backend, attrs: { transposeA: c.tA, transposeB: c.tB } };
  const o1 = ours(args), o2 = stockBatchMatMul(args);
  const diff = maxRelDiff(backend.typedArrayFromHeap(o1), backend.typedArrayFromHeap(o2));
  backend.disposeData(o1.dataId);
  backend.disposeData(o2.dataId);
  if (diff > 1e-3) throw new Error(`${c.what}: results differ by ${diff}`);
  const [msStock, msOurs] = timePair([stockBatchMatMul, ours], a, b, c);
  const gf = (ms: number) => (flops(c) / ms / 1e6).toFixed(1);
  const shape = (s: number[], t: boolean) => `[${s.join(',')}]${t ? 'ᵀ' : ''}`;
  rows.push([c.what, shape(c.a, c.tA), shape(c.b, c.tB), msStock.toFixed(3), gf(msStock), msOurs.toFixed(3), gf(msOurs), `${(msStock / msOurs).toFixed(1)}×`]);
  tf.dispose([a, b]);
}
const widths = rows[0].map((_, j) => Math.max(...rows.map((r) => r[j].length)));
for (const [i, r] of rows.entries()) {
  console.log(r.map((cell, j) => (j < 3 ? cell.padEnd(widths[j]) : cell.padStart(widths[j]))).join('  '));
  if (i === 0) console.log(widths.map((w) => '-'.repeat(w)).join('  '));
}
