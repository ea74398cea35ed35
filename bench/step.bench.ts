// npm run bench:step — where one SASRec training step's time goes, per kernel.
// The shapes: 2,000 items, d=32, L=50, 2 blocks, 1 head, batch 128.
// Usage: npm run bench:step [-- cpu|wasm]
import { tf } from '../recommender/tf.ts';
import { initBackend, type BackendChoice } from '../recommender/backend/index.ts';
import { Sasrec } from '../recommender/models/sasrec.ts';
import { median, printContext } from './machine.ts';

const backend = (process.argv[2] ?? 'wasm') as BackendChoice;
const info = await initBackend(backend);
printContext(`fedrec bench:step on ${info.detail}`);
const N = 2000;
const L = 50;
const B = 128;
const model = new Sasrec({ numItems: N, dim: 32, maxLen: L, blocks: 2, heads: 1, dropout: 0.2 });
const seqs = Array.from({ length: B }, (_, u) => ({
  user: `u${u}`,
  items: Int32Array.from({ length: L + 1 }, (_, j) => (u * 131 + j * 17) % N),
  types: new Uint8Array(L + 1),
  ts: new Float64Array(L + 1),
}));
const opts = { epochs: 1, batchSize: B, lr: 1e-3, seed: 1 };
for (let i = 0; i < 3; i++) await model.fitLocal(seqs, opts); // warm-up
const times: number[] = [];
for (let i = 0; i < 10; i++) times.push((await model.fitLocal(seqs, opts)).seconds * 1000);
const ms = median(times);
console.log(`one step: median ${ms.toFixed(1)} ms over 10 (${((B / ms) * 1000).toFixed(0)} sequences/s)`);
const prof = await tf.profile(async () => {
  await model.fitLocal(seqs, opts);
});
const byKernel = new Map<string, { ms: number; n: number }>();
for (const k of prof.kernels) {
  const e = byKernel.get(k.name) ?? { ms: 0, n: 0 };
  e.ms += k.kernelTimeMs as number;
  e.n++;
  byKernel.set(k.name, e);
}
const total = [...byKernel.values()].reduce((s, e) => s + e.ms, 0);
console.log(`kernel launches: ${prof.kernels.length}, time in kernels: ${total.toFixed(1)} ms (the rest is tfjs per-op overhead and batch building)`);
console.log('kernel                       ms   launches');
for (const [name, e] of [...byKernel.entries()].sort((a, b) => b[1].ms - a[1].ms).slice(0, 15)) {
  console.log(`${name.padEnd(24)} ${e.ms.toFixed(1).padStart(7)}  ${String(e.n).padStart(8)}`);
}
model.dispose();
