// npm run bench:train — training throughput of sasrec and mf per available
// backend, and the identical PyTorch step (bench/reference/) on the same
// number of threads when a python3 with torch is present.
//
// Shapes (the issue's): sasrec 2,000 items, 2 blocks, 1 head, batch 128, BCE
// with 1 negative, full-length sequences, at d=32 L=50 and at d=64 L=200 (the
// SASRec paper's MovieLens setting); mf d=32, batch 256, 4 negatives. Each
// figure is the median of REPEATS timed runs after a warm-up (fewer steps and
// runs at L=200, whose step is ~20x the L=50 one). The plain-JS cpu backend
// skips a shape whose estimated run exceeds CPU_BUDGET_S.
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
const CPU_BUDGET_S = Number(process.env.BENCH_CPU_BUDGET_S ?? 60);

interface SasrecShape {
  label: string;
  dim: number;
  maxLen: number;
  blocks: number;
  heads: number;
  dropout: number;
  batch: number;
  /** Batches per timed run, and timed runs. */
  steps: number;
  repeats: number;
  /** Step counts of the PyTorch reference (bench/reference/sasrec_torch.py). */
  ref: { steps: number; warmup: number; repeats: number };
}

const SASREC_SHAPES: SasrecShape[] = [
  {
    label: 'sasrec L50 d32', dim: 32, maxLen: 50, blocks: 2, heads: 1, dropout: 0.2, batch: 128,
    steps: 8, repeats: REPEATS, ref: { steps: 30, warmup: 5, repeats: REPEATS },
  },
  {
    label: 'sasrec L200 d64', dim: 64, maxLen: 200, blocks: 2, heads: 1, dropout: 0.2, batch: 128,
    steps: 2, repeats: Math.min(REPEATS, 3), ref: { steps: 4, warmup: 1, repeats: Math.min(REPEATS, 3) },
  },
];

/** Multiply-adds of one sequence position through the blocks: 6 d×d products and 2 L×d attention products. */
function sasrecCost(s: SasrecShape): number {
  return s.blocks * (6 * s.maxLen * s.dim * s.dim + 2 * s.maxLen * s.maxLen * s.dim);
}
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

async function benchBackend(choice: BackendChoice): Promise<{ rows: Row[]; notes: string[] } | string> {
  try {
    await initBackend(choice);
  } catch (err) {
    return (err as Error).message;
  }
  const name = tf.getBackend();
  // The plain-JS cpu backend is ~50x slower: fewer steps so the bench ends.
  const scale = name === 'cpu' ? 0.25 : 1;
  const rows: Row[] = [];
  const notes: string[] = [];
  let measured: { shape: SasrecShape; msPerStep: number } | null = null;
  for (const shape of SASREC_SHAPES) {
    const sSteps = Math.max(1, Math.round(shape.steps * scale));
    const repeats = name === 'cpu' ? 2 : shape.repeats;
    if (name === 'cpu' && measured) {
      // Estimate from the measured smaller shape; warm-up + timed runs.
      const estStep = (measured.msPerStep / 1000) * (sasrecCost(shape) / sasrecCost(measured.shape));
      const estRun = estStep * sSteps * (1 + repeats);
      if (estRun > CPU_BUDGET_S) {
        notes.push(
          `${name} ${shape.label}: skipped (~${estStep.toFixed(0)} s per step estimated from ${measured.shape.label}, ` +
            `~${estRun.toFixed(0)} s for warm-up + ${repeats} runs; budget ${CPU_BUDGET_S} s, BENCH_CPU_BUDGET_S)`,
        );
        continue;
      }
    }
    const sData = randomSequences(shape.batch * sSteps, shape.maxLen + 1, 1);
    const { dim, maxLen, blocks, heads, dropout } = shape;
    const sasrec = createModel('sasrec', { numItems: ITEMS, dim, maxLen, blocks, heads, dropout });
    const s = await throughput(sasrec, sData, shape.batch, sData.length, repeats);
    rows.push({ backend: name, model: shape.label, unit: 'sequences/s', ...s, ...weightTimes(sasrec) });
    sasrec.dispose();
    if (!measured) measured = { shape, msPerStep: s.msPerStep };
  }
  // MF: MF.steps batches of 256 positives, i.e. users × length positives.
  const mSteps = Math.max(1, Math.round(MF.steps * scale));
  const perUser = 20;
  const mData = randomSequences(Math.ceil((MF.batch * mSteps) / perUser), perUser, 2);
  const mf = createModel('mf', { numItems: ITEMS, dim: MF.dim, negatives: MF.negatives });
  const positives = mData.length * perUser;
  const m = await throughput(mf, mData, MF.batch, positives, name === 'cpu' ? 2 : REPEATS);
  rows.push({ backend: name, model: 'mf d32', unit: 'positives/s', ...m, ...weightTimes(mf) });
  mf.dispose();
  return { rows, notes };
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

/** One reference run on `threads` threads; OpenBLAS's own thread pool is held to the same count. */
function runReference(py: string, script: string, args: string[], blas: string | null, threads = 1): Record<string, unknown> | null {
  const env: NodeJS.ProcessEnv = { ...process.env, OPENBLAS_NUM_THREADS: String(threads), OMP_NUM_THREADS: String(threads) };
  if (blas) env.LD_PRELOAD = blas;
  const r = spawnSync(py, [script, '--threads', String(threads), '--repeats', String(REPEATS), '--json', ...args], { encoding: 'utf8', env });
  if (r.status !== 0) {
    console.log(`  reference ${script} ${args.join(' ')} failed (exit ${r.status}): ${(r.stderr ?? '').trim().split('\n').pop()}`);
    return null;
  }
  return JSON.parse(r.stdout.trim().split('\n').pop()!);
}

printContext('fedrec bench:train');
const rows: Row[] = [];
const notes: string[] = [];
for (const b of ['tensorflow', 'wasm', 'cpu'] as BackendChoice[]) {
  const res = await benchBackend(b);
  if (typeof res === 'string') console.log(`backend ${b}: not available (${res})`);
  else {
    rows.push(...res.rows);
    notes.push(...res.notes);
  }
}
const MODEL_W = Math.max(...rows.map((r) => r.model.length), 5);
console.log(`\n${'backend'.padEnd(11)} ${'model'.padEnd(MODEL_W)} throughput              ms/step  getWeights ms  setWeights ms`);
for (const r of rows) {
  console.log(
    `${r.backend.padEnd(11)} ${r.model.padEnd(MODEL_W)} ${r.perSec.toFixed(0).padStart(8)} ${r.unit.padEnd(13)} ${r.msPerStep.toFixed(1).padStart(8)}  ${r.getMs.toFixed(2).padStart(13)}  ${r.setMs.toFixed(2).padStart(13)}`,
  );
}
for (const n of notes) console.log(n);

const py = findTorchPython();
if (!py) {
  console.log('\nPyTorch reference: skipped (no python3 with torch; on Debian: apt-get install python3-torch)');
} else {
  console.log(`\nPyTorch reference (1 thread, OPENBLAS_NUM_THREADS=1; same shapes and random data), once per BLAS (system libblas.so.3: ${systemBlas()}):`);
  interface Ref { model: string; script: string; key: string; unit: string; args: string[] }
  const refs: Ref[] = [
    ...SASREC_SHAPES.map((sh): Ref => ({
      model: sh.label,
      script: 'bench/reference/sasrec_torch.py',
      key: 'sequences_per_s',
      unit: 'sequences/s',
      args: [
        '--items', String(ITEMS), '--dim', String(sh.dim), '--maxlen', String(sh.maxLen), '--blocks', String(sh.blocks),
        '--heads', String(sh.heads), '--batch', String(sh.batch),
        '--steps', String(sh.ref.steps), '--warmup', String(sh.ref.warmup), '--repeats', String(sh.ref.repeats),
      ],
    })),
    { model: 'mf d32', script: 'bench/reference/mf_torch.py', key: 'positives_per_s', unit: 'positives/s', args: ['--items', String(ITEMS), '--dim', String(MF.dim), '--batch', String(MF.batch), '--negatives', String(MF.negatives)] },
  ];
  const blases = availableBlas();
  const BLAS_W = Math.max(...blases.map(([n]) => n.length), 4);
  console.log(`${'model'.padEnd(MODEL_W)}  ${'BLAS'.padEnd(BLAS_W)}  ${'pytorch throughput'.padStart(18)} ${''.padEnd(13)} ${'ms/step'.padStart(8)}  fedrec / pytorch`);
  let torchVersion = '';
  for (const ref of refs) {
    for (const [blasName, blasPath] of blases) {
      const out = runReference(py, ref.script, ref.args, blasPath);
      if (!out) continue;
      torchVersion = String(out.torch);
      const refRate = out[ref.key] as number;
      const ours = rows.filter((x) => x.model === ref.model).map((r) => `${r.backend} ${(r.perSec / refRate).toFixed(2)}`);
      console.log(
        `${ref.model.padEnd(MODEL_W)}  ${blasName.padEnd(BLAS_W)}  ${refRate.toFixed(0).padStart(18)} ${ref.unit.padEnd(13)} ${Number(out.ms_per_step ?? NaN).toFixed(1).padStart(8)}  ${ours.join(', ') || '(not measured)'}`,
      );
    }
  }
  if (torchVersion) console.log(`(pytorch ${torchVersion}; fedrec / pytorch = fedrec's throughput divided by PyTorch's: above 1, fedrec is faster)`);
}
