// The aggregation kernel alone, next to a memory-copy reference measured in
// the same run (the method of bench/aggregate.bench.ts: 100 updates of 1M
// float32, weights 1..1000, GB/s = bytes of updates read / time, methods
// interleaved within each run, median of RUNS after a warm-up), plus what the
// coordinator does per update around the kernel (validateUpdate's parts), so
// the end-to-end figures can be read against it.
import { validateUpdate, type UpdateContext } from '../../coordinator/engine/validateUpdate.ts';
import { RunningSum } from '../../coordinator/strategies/runningSum.ts';
import { createStrategy } from '../../coordinator/strategies/index.ts';
import { PROTOCOL_VERSION, decodeInto, encode, fromBase64, toBase64, updateSigningBytes } from '../../protocol/index.ts';
import { Ed25519Verifier, sha512Native } from '../../protocol/node/index.ts';
import { median } from '../machine.ts';
import { benchIdentities, privateKeyOf, publicKeyOf, signWith } from './identities.ts';
import { Rng } from '../../recommender/random.ts';

export interface KernelRow {
  name: string;
  ms: number;
  gbs: number;
  xMemcpy: number;
}

export interface KernelResult {
  n: number;
  updates: number;
  runs: number;
  rows: KernelRow[];
}

/** Seeded values in [-0.5, 0.5), from the project's PRNG. */
function rng(seed: number): () => number {
  const r = new Rng(seed);
  return () => r.next() - 0.5;
}

export function measureKernel(n = 1_000_000, updates = 100, runs = 5): KernelResult {
  const next = rng(1);
  const xs = Array.from({ length: updates }, () => {
    const x = new Float32Array(n);
    for (let i = 0; i < n; i++) x[i] = next() * 10 ** ((next() + 0.5) * 5 - 3);
    return x;
  });
  const ws = Array.from({ length: updates }, () => 1 + Math.floor((next() + 0.5) * 1000));
  const dst = new Float32Array(n);
  const wasm = new RunningSum(n, { kernel: 'wasm' });
  const js = new RunningSum(n, { kernel: 'js' });
  const s64 = new Float64Array(n);
  const fedavg = createStrategy({ name: 'fedavg', size: n });
  const methods: Array<{ name: string; reset(): void; fold(): void }> = [
    { name: 'memcpy (Float32Array.set)', reset: () => {}, fold: () => xs.forEach((x) => dst.set(x)) },
    { name: 'RunningSum wasm (default kernel)', reset: () => wasm.reset(), fold: () => xs.forEach((x, u) => wasm.add(x, ws[u])) },
    { name: 'FedAvg.add (what the engine calls)', reset: () => fedavg.begin(), fold: () => xs.forEach((x, u) => fedavg.add(x, ws[u])) },
    { name: 'RunningSum js (fallback)', reset: () => js.reset(), fold: () => xs.forEach((x, u) => js.add(x, ws[u])) },
    {
      name: 'plain JS loop, f64 sum',
      reset: () => s64.fill(0),
      fold: () => {
        for (let u = 0; u < updates; u++) {
          const x = xs[u];
          const w = ws[u];
          for (let i = 0; i < n; i++) s64[i] += w * x[i];
        }
      },
    },
  ];
  const times = methods.map(() => [] as number[]);
  for (let run = 0; run <= runs; run++) {
    methods.forEach((m, k) => {
      m.reset();
      const t0 = performance.now();
      m.fold();
      const ms = performance.now() - t0;
      if (run > 0) times[k].push(ms);
    });
  }
  const bytes = updates * n * 4;
  const med = times.map(median);
  return {
    n,
    updates,
    runs,
    rows: methods.map((m, k) => ({ name: m.name, ms: med[k], gbs: bytes / med[k] / 1e6, xMemcpy: med[0] / med[k] })),
  };
}

export interface StepRow {
  name: string;
  ms: number;
}

/** Per-update coordinator CPU at `n` values (f32 codec): validateUpdate as a whole and its parts, and the fold. */
export function measureUpdatePath(n: number, repeats = 21): StepRow[] {
  const [id] = benchIdentities(1, 'kernel');
  const key = privateKeyOf(id.seedHex);
  const publicKey = publicKeyOf(id.seedHex);
  const next = rng(2);
  const delta = Float32Array.from({ length: n }, () => next() * 1e-3);
  const payload = Buffer.from(encode(delta, 'f32'));
  const payloadHash = toBase64(sha512Native(payload));
  const taskId = toBase64(new Uint8Array(16).fill(7));
  const fields = { round: 1, modelVersion: 0, taskId, clientId: id.id, payloadHash, numExamples: 7, weight: 7 };
  const signed = updateSigningBytes({ protocolVersion: PROTOCOL_VERSION, lineage: 'bench', ...fields });
  const signature = toBase64(signWith(key, signed));
  const raw = { ...fields, codec: 'f32', payload, signature, metrics: {} };
  const verifier = new Ed25519Verifier();
  const strategy = createStrategy({ name: 'fedavg', size: n });
  const ctx = (): UpdateContext => ({
    clientId: id.id,
    lineage: 'bench',
    round: 1,
    taskId,
    open: true,
    fromVersion: 0,
    selected: new Set([id.id]),
    submitted: new Set(),
    deadline: Date.now() + 3_600_000,
    now: Date.now(),
    size: n,
    maxBytes: n * 4 + 1040,
    check: () => {},
    publicKey,
    verifier,
    sha512: sha512Native,
  });
  const time = (f: () => void): number => {
    const ts: number[] = [];
    for (let r = 0; r <= repeats; r++) {
      const t0 = performance.now();
      f();
      if (r > 0) ts.push(performance.now() - t0);
    }
    return median(ts);
  };
  let sink = 0;
  const scratch = new Float32Array(n);
  return [
    { name: 'validateUpdate (all checks, as the engine runs it)', ms: time(() => void validateUpdate(raw, ctx())) },
    { name: '  SHA-512 of the payload (sha512Native)', ms: time(() => void sha512Native(payload)) },
    { name: '  Ed25519 verify (native)', ms: time(() => void verifier.verify(signed, fromBase64(signature), publicKey)) },
    { name: '  decodeInto a fresh Float32Array (as validateUpdate)', ms: time(() => void decodeInto(payload, new Float32Array(n))) },
    { name: '  decodeInto a reused Float32Array', ms: time(() => void decodeInto(payload, scratch)) },
    {
      name: '  finiteness + norm scan (validateUpdate\'s loop)',
      ms: time(() => {
        let sq = 0;
        for (let i = 0; i < delta.length; i++) {
          const v = delta[i];
          if (!Number.isFinite(v)) throw new Error('non-finite');
          sq += v * v;
        }
        sink += sq;
      }),
    },
    {
      name: 'FedAvg.add (fold into the running sum)',
      ms: time(() => {
        strategy.begin();
        strategy.add(delta, 7);
      }),
    },
  ].map((r) => ({ ...r, ms: r.ms + sink * 0 }));
}
