// npm run bench:train — training throughput of sasrec and mf per available
// backend, and the identical PyTorch step (bench/reference/) on the same
// number of threads when a python3 with torch is present.
//
// Shapes (the issue's): sasrec 2,000 items, d=32, L=50, 2 blocks, 1 head,
// batch 128, BCE with 1 negative, full-length sequences; mf d=32, batch 256,
// 4 negatives. Each figure is the median of REPEATS timed runs after a warm-up.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { tf } from '../recommender/tf.ts';
import { initBackend, type BackendChoice } from '../recommender/backend/index.ts';
import { createModel, type Model } from '../recommender/models/index.ts';
import type { UserSequence } from '../recommender/types.ts';
import { Rng } from '../recommender/random.ts';
import { median, printContext, systemBlas } from './machine.ts';

const ITEMS = 2000;
const REPEATS = Number(process.env.BENCH_REPEATS ?? 5);
const SASREC = { dim: 32, maxLen: 50, blocks: 2, heads: 1, dropout: 0.2, batch: 128, steps: 8 };
const MF = { dim: 32, negatives: 4, batch: 256, steps: 40, users: 6040 };

function randomSequences(users: number, length: number, seed: number): UserSequence[] {
  const rng = new Rng(seed);
  return Array.from({ length: users }, (_, u) => ({
    user: `u${u}`,
    items: Int32Array.from({ length }, () => rng.int(ITEMS)),
    types: Uint8Array.from({ length }, () => rng.int(4)),
    ts: new Float64Array(length),
  }));
}

/** Median examples/s of fitLocal over `repeats` one-epoch runs of `steps` batches. */
async function throughput(model: Model, data: UserSequence[], batch: number, examplesPerRun: number, repeats: number): Promise<{ perSec: number; msPerStep: number }> {
  const opts = { epochs: 1, batchSize: batch, lr: 1e-3, seed: 1 };
  await model.fitLocal(data, opts); // warm-up: kernels, allocations, JIT
  const rates: number[] = [];
  let steps = 1;
  for (let r = 0; r < repeats; r++) {
    const res = await model.fitLocal(data, { ...opts, seed: r + 2 });
    rates.push(examplesPerRun / res.seconds);
    steps = res.steps;
  }
  const perSec = median(rates);
  return { perSec, msPerStep: (examplesPerRun / perSec / steps) * 1000 };
}

function weightTimes(model: Model): { getMs: number; setMs: number } {
  const gets: number[] = [];
  const sets: number[] = [];
  for (let r = 0; r < 7; r++) {
    let t = performance.now();
    const w = model.getWeights();
    gets.push(performance.now() - t);
    t = performance.now();
    model.setWeights(w);
    sets.push(performance.now() - t);
  }
  return { getMs: median(gets), setMs: median(sets) };
}

interface Row {
  backend: string;
  model: string;
  unit: string;
  perSec: number;
  msPerStep: number;
  getMs: number;
  setMs: number;
}

async function benchBackend(choice: BackendChoice): Promise<Row[] | string> {
  try {
    await initBackend(choice);
  } catch (err) {
    return (err as Error).message;
  }
  const name = tf.getBackend();
  // The plain-JS cpu backend is ~50x slower: fewer steps so the bench ends.
  const scale = name === 'cpu' ? 0.25 : 1;
  const rows: Row[] = [];
  const sSteps = Math.max(1, Math.round(SASREC.steps * scale));
  const sData = randomSequences(SASREC.batch * sSteps, SASREC.maxLen + 1, 1);
  const sasrec = createModel('sasrec', { numItems: ITEMS, ...SASREC });
  const s = await throughput(sasrec, sData, SASREC.batch, sData.length, name === 'cpu' ? 2 : REPEATS);
  rows.push({ backend: name, model: 'sasrec', unit: 'sequences/s', ...s, ...weightTimes(sasrec) });
  sasrec.dispose();
  // MF: MF.steps batches of 256 positives, i.e. users × length positives.
  const mSteps = Math.max(1, Math.round(MF.steps * scale));
  const perUser = 20;
  const mData = randomSequences(Math.ceil((MF.batch * mSteps) / perUser), perUser, 2);
  const mf = createModel('mf', { numItems: ITEMS, dim: MF.dim, negatives: MF.negatives });
  const positives = mData.length * perUser;
  const m = await throughput(mf, mData, MF.batch, positives, name === 'cpu' ? 2 : REPEATS);
  rows.push({ backend: name, model: 'mf', unit: 'positives/s', ...m, ...weightTimes(mf) });
  mf.dispose();
  return rows;
}

function findTorchPython(): string | null {
  for (const py of ['/usr/bin/python3', 'python3']) {
    const r = spawnSync(py, ['-c', 'import torch'], { stdio: 'ignore' });
    if (r.status === 0) return py;
  }
  return null;
}

/**
 * Debian's python3-torch calls whatever libblas.so.3 the system provides; the
 * reference BLAS (Debian's default) and OpenBLAS differ ~2.5x on this step, so
 * the reference runs once per BLAS found, each loaded with LD_PRELOAD.
 */
const BLAS_CANDIDATES: Array<[string, string]> = [
  ['reference BLAS (Debian default)', '/usr/lib/x86_64-linux-gnu/blas/libblas.so.3'],
  ['OpenBLAS', '/usr/lib/x86_64-linux-gnu/openblas-openmp/libblas.so.3'],
  ['OpenBLAS (pthread)', '/usr/lib/x86_64-linux-gnu/openblas-pthread/libblas.so.3'],
];

function availableBlas(): Array<[string, string | null]> {
  const found = BLAS_CANDIDATES.filter(([, path]) => existsSync(path));
  return found.length > 0 ? found : [[`system BLAS ${systemBlas()}`, null]];
}

function runReference(py: string, script: string, args: string[], blas: string | null): Record<string, unknown> | null {
  const env = blas ? { ...process.env, LD_PRELOAD: blas } : process.env;
  const r = spawnSync(py, [script, '--threads', '1', '--repeats', String(REPEATS), '--json', ...args], { encoding: 'utf8', env });
  if (r.status !== 0) {
    console.log(`reference ${script} failed (exit ${r.status}): ${r.stderr.trim().split('\n').pop()}`);
    return null;
  }
  return JSON.parse(r.stdout.trim().split('\n').pop()!);
}

printContext('fedrec bench:train');
const rows: Row[] = [];
for (const b of ['tensorflow', 'wasm', 'cpu'] as BackendChoice[]) {
  const res = await benchBackend(b);
  if (typeof res === 'string') console.log(`backend ${b}: not available (${res})`);
  else rows.push(...res);
}
console.log('\nbackend     model   throughput              ms/step  getWeights ms  setWeights ms');
for (const r of rows) {
  console.log(
    `${r.backend.padEnd(11)} ${r.model.padEnd(7)} ${r.perSec.toFixed(0).padStart(8)} ${r.unit.padEnd(13)} ${r.msPerStep.toFixed(1).padStart(8)}  ${r.getMs.toFixed(2).padStart(13)}  ${r.setMs.toFixed(2).padStart(13)}`,
  );
}

const py = findTorchPython();
if (!py) {
  console.log('\nPyTorch reference: skipped (no python3 with torch; on Debian: apt-get install python3-torch)');
} else {
  console.log('\nPyTorch reference (1 thread), once per BLAS:');
  const refs: Array<[string, string, string, string[]]> = [
    ['sasrec', 'bench/reference/sasrec_torch.py', 'sequences_per_s', ['--items', String(ITEMS), '--dim', '32', '--maxlen', '50', '--blocks', '2', '--heads', '1', '--batch', '128']],
    ['mf', 'bench/reference/mf_torch.py', 'positives_per_s', ['--items', String(ITEMS), '--dim', '32', '--batch', '256', '--negatives', '4']],
  ];
  for (const [blasName, blasPath] of availableBlas()) {
    for (const [model, script, key, args] of refs) {
      const ref = runReference(py, script, args, blasPath);
      if (!ref) continue;
      const refRate = ref[key] as number;
      const ours = rows.filter((x) => x.model === model).map((r) => `${r.backend} ${(r.perSec / refRate).toFixed(2)}`);
      console.log(`  ${model.padEnd(7)} pytorch ${ref.torch} + ${blasName}: ${refRate.toFixed(0)} ${key.replace(/_/g, ' ')}; fedrec / pytorch: ${ours.join(', ')}`);
    }
  }
}
