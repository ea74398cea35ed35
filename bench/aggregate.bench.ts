// node bin/run-ts.mjs bench/aggregate.bench.ts — the coordinator's streaming
// aggregation: fold 100 updates of 1M float32 values (weights 1..1000, as
// numExamples) into a running sum. GB/s = bytes of updates read (100 × 4 MB) /
// time; each figure is the median of 5 runs, the methods interleaved within
// each run so that all see the same background load.
//
// Rows:
//   memcpy                 Float32Array.prototype.set of the same bytes (the floor for "touch every byte once")
//   JS loop, f32 sum       sum[i] += w·x[i] into a Float32Array (the plain loop)
//   JS loop, f64 sum       the same into a Float64Array
//   RunningSum js          the fallback kernel (f64, 4-way unrolled)
//   RunningSum wasm        the default kernel (f64, SIMD128, update copied in by 64 KB chunks)
//   wasm f32 sum           the same kernel summing in float32 (assembled here from WAT, not used: precision)
//   wasm f64, no copy-in   the production kernel on updates already in its memory: the bound if a decoder
//                          wrote updates straight into the kernel's staging area
// plus numpy (acc += w*x, float32 and float64 accumulators) when python3 has numpy.
// The last column is the worst error of each final sum relative to Σ|w·x|.
import { spawnSync } from 'node:child_process';
import { assembleWat } from '../scripts/assembleWat.ts';
import { RunningSum } from '../coordinator/strategies/runningSum.ts';
import { RUNNING_SUM_WASM_BASE64 } from '../coordinator/strategies/runningSumWasm.ts';
import { median, printContext } from './machine.ts';

const N = 1_000_000;
const UPDATES = 100;
const RUNS = 5;
const CHUNK = 16384;
const BYTES = UPDATES * N * 4;

/** Seeded values in [-0.5, 0.5), from the project's PRNG. */
function rng(seed: number): () => number {
  const r = new Rng(seed);
  return () => r.next() - 0.5;
}

// The f32 variant of runningSum.wat's kernel: sum32[i] += w·x[i], 8 per iteration.
const WAT_F32 = `(module
  (import "env" "memory" (memory 1))
  (func (export "add") (param $s i32) (param $x i32) (param $n i32) (param $w f32)
    (local $wv v128) (local $end8 i32) (local $end i32)
    (local.set $wv (f32x4.splat (local.get $w)))
    (local.set $end8 (i32.add (local.get $x) (i32.shl (i32.and (local.get $n) (i32.const -8)) (i32.const 2))))
    (local.set $end (i32.add (local.get $x) (i32.shl (local.get $n) (i32.const 2))))
    (block $d8 (loop $l8
      (br_if $d8 (i32.ge_u (local.get $x) (local.get $end8)))
      (v128.store offset=0 (local.get $s) (f32x4.add (v128.load offset=0 (local.get $s)) (f32x4.mul (local.get $wv) (v128.load offset=0 (local.get $x)))))
      (v128.store offset=16 (local.get $s) (f32x4.add (v128.load offset=16 (local.get $s)) (f32x4.mul (local.get $wv) (v128.load offset=16 (local.get $x)))))
      (local.set $s (i32.add (local.get $s) (i32.const 32)))
      (local.set $x (i32.add (local.get $x) (i32.const 32)))
      (br $l8)))
    (block $d (loop $l
      (br_if $d (i32.ge_u (local.get $x) (local.get $end)))
      (f32.store (local.get $s) (f32.add (f32.load (local.get $s)) (f32.mul (local.get $w) (f32.load (local.get $x)))))
      (local.set $s (i32.add (local.get $s) (i32.const 4)))
      (local.set $x (i32.add (local.get $x) (i32.const 4)))
      (br $l)))))`;

const assemble = async (wat: string) => new WebAssembly.Module(await assembleWat('bench.wat', wat));

type AddFn = (s: number, x: number, n: number, w: number) => void;

interface Method {
  name: string;
  /** Untimed: zero the sum. */
  reset(): void;
  /** Timed: fold all updates. */
  fold(): void;
  /** The sum after a fold (for the error column), or null. */
  result(): ArrayLike<number> | null;
}

const NUMPY = `
import json, sys, time
import numpy as np
N, U, RUNS = ${N}, ${UPDATES}, ${RUNS}
rng = np.random.default_rng(0)
xs = [(rng.random(N, dtype=np.float32) - 0.5) * np.float32(10.0) ** (rng.random(N, dtype=np.float32) * 5 - 3) for _ in range(U)]
ws = rng.integers(1, 1001, U)
out = {}
for name, dt in (("f32", np.float32), ("f64", np.float64)):
    acc = np.zeros(N, dtype=dt)
    times = []
    for r in range(RUNS + 1):
        acc[:] = 0
        t0 = time.perf_counter()
        for x, w in zip(xs, ws):
            acc += dt(w) * x
        times.append(time.perf_counter() - t0)
    out[name] = sorted(times[1:])[RUNS // 2] * 1000
print(json.dumps(out))
`;
import { Rng } from '../recommender/random.ts';

function numpyReference(): Record<string, number> | null {
  for (const py of ['/usr/bin/python3', 'python3']) {
    const r = spawnSync(py, ['-c', NUMPY], { encoding: 'utf8', maxBuffer: 1 << 20 });
    if (r.status === 0) {
      try {
        return JSON.parse(r.stdout.trim().split('\n').at(-1)!);
      } catch {
        return null;
      }
    }
  }
  return null;
}

async function main(): Promise<void> {
  printContext('aggregate: fold 100 updates of 1M float32 into a running sum');
  const next = rng(1);
  const xs = Array.from({ length: UPDATES }, () => {
    const x = new Float32Array(N);
    for (let i = 0; i < N; i++) x[i] = next() * 10 ** ((next() + 0.5) * 5 - 3);
    return x;
  });
  const ws = Array.from({ length: UPDATES }, () => 1 + Math.floor((next() + 0.5) * 1000));

  const methods: Method[] = [];

  const dst = new Float32Array(N);
  methods.push({ name: 'memcpy (Float32Array.set)', reset: () => {}, fold: () => xs.forEach((x) => dst.set(x)), result: () => null });

  const s32 = new Float32Array(N);
  methods.push({
    name: 'JS loop, f32 sum',
    reset: () => s32.fill(0),
    fold: () => {
      for (let u = 0; u < UPDATES; u++) {
        const x = xs[u];
        const w = ws[u];
        for (let i = 0; i < N; i++) s32[i] += w * x[i];
      }
    },
    result: () => s32,
  });

  const s64 = new Float64Array(N);
  methods.push({
    name: 'JS loop, f64 sum',
    reset: () => s64.fill(0),
    fold: () => {
      for (let u = 0; u < UPDATES; u++) {
        const x = xs[u];
        const w = ws[u];
        for (let i = 0; i < N; i++) s64[i] += w * x[i];
      }
    },
    result: () => s64,
  });

  for (const kernel of ['js', 'wasm'] as const) {
    const r = new RunningSum(N, { kernel });
    methods.push({
      name: `RunningSum ${kernel}${kernel === 'wasm' ? ' (default)' : ''}`,
      reset: () => r.reset(),
      fold: () => {
        for (let u = 0; u < UPDATES; u++) r.add(xs[u], ws[u]);
      },
      result: () => r.sum,
    });
  }

  {
    const mod = await assemble(WAT_F32);
    const stagingPtr = N * 4;
    const memory = new WebAssembly.Memory({ initial: Math.ceil((stagingPtr + CHUNK * 4) / 65536) });
    const add = new WebAssembly.Instance(mod, { env: { memory } }).exports.add as AddFn;
    const sum = new Float32Array(memory.buffer, 0, N);
    const staging = new Float32Array(memory.buffer, stagingPtr, CHUNK);
    methods.push({
      name: 'wasm f32 sum (chunked copy-in)',
      reset: () => sum.fill(0),
      fold: () => {
        for (let u = 0; u < UPDATES; u++) {
          const x = xs[u];
          for (let i = 0; i < N; i += CHUNK) {
            const m = Math.min(CHUNK, N - i);
            staging.set(x.subarray(i, i + m));
            add(i * 4, stagingPtr, m, ws[u]);
          }
        }
      },
      result: () => sum,
    });
  }

  {
    // the production binary on a memory that already holds all 100 updates after the sum
    const bin = Uint8Array.from(atob(RUNNING_SUM_WASM_BASE64), (c) => c.charCodeAt(0));
    const memory = new WebAssembly.Memory({ initial: Math.ceil((N * 8 + BYTES) / 65536) });
    const add = new WebAssembly.Instance(new WebAssembly.Module(bin), { env: { memory } }).exports.add as AddFn;
    const sum = new Float64Array(memory.buffer, 0, N);
    xs.forEach((x, u) => new Float32Array(memory.buffer, N * 8 + u * N * 4, N).set(x));
    methods.push({
      name: 'wasm f64, no copy-in (bound)',
      reset: () => sum.fill(0),
      fold: () => {
        for (let u = 0; u < UPDATES; u++) add(0, N * 8 + u * N * 4, N, ws[u]);
      },
      result: () => sum,
    });
  }

  // warm-up, then RUNS interleaved timed runs
  const times = methods.map(() => [] as number[]);
  for (let run = 0; run <= RUNS; run++) {
    methods.forEach((m, k) => {
      m.reset();
      const t0 = performance.now();
      m.fold();
      const ms = performance.now() - t0;
      if (run > 0) times[k].push(ms);
    });
  }

  // error of each final sum, relative to Σ|w·x| per element, against a compensated float64 reference
  const ref = new Float64Array(N);
  const comp = new Float64Array(N);
  const abs = new Float64Array(N);
  for (let u = 0; u < UPDATES; u++) {
    const x = xs[u];
    const w = ws[u];
    for (let i = 0; i < N; i++) {
      const p = w * x[i];
      const t = ref[i] + p;
      comp[i] += Math.abs(ref[i]) >= Math.abs(p) ? ref[i] - t + p : p - t + ref[i];
      ref[i] = t;
      abs[i] += Math.abs(p);
    }
  }
  const maxErr = (s: ArrayLike<number>) => {
    let e = 0;
    for (let i = 0; i < N; i++) e = Math.max(e, Math.abs(s[i] - (ref[i] + comp[i])) / abs[i]);
    return e;
  };

  const med = times.map(median);
  const gbs = (ms: number) => BYTES / ms / 1e6;
  const memcpyMs = med[0];
  const loopMs = med[methods.findIndex((m) => m.name === 'JS loop, f64 sum')];
  console.log(`\n${UPDATES} updates × ${N.toLocaleString('en')} float32 = ${BYTES / 1e6} MB read per fold; median of ${RUNS} runs\n`);
  const header = ['method', 'ms', 'GB/s', '× memcpy', '× JS f64 loop', 'max err / Σ|w·x|'];
  const rows = methods.map((m, k) => {
    const res = m.result();
    return [m.name, med[k].toFixed(1), gbs(med[k]).toFixed(2), (memcpyMs / med[k]).toFixed(2), (loopMs / med[k]).toFixed(2), res ? maxErr(res).toExponential(1) : '—'];
  });

  const np = numpyReference();
  if (np) {
    for (const [k, ms] of Object.entries(np)) {
      rows.push([`numpy acc += w*x (${k} acc)`, ms.toFixed(1), gbs(ms).toFixed(2), (memcpyMs / ms).toFixed(2), (loopMs / ms).toFixed(2), '(own data)']);
    }
  }
  const widths = header.map((h, c) => Math.max(h.length, ...rows.map((r) => r[c].length)));
  const line = (r: string[]) => r.map((v, c) => (c === 0 ? v.padEnd(widths[c]) : v.padStart(widths[c]))).join('  ');
  console.log(line(header));
  for (const r of rows) console.log(line(r));
  if (!np) console.log('\nnumpy reference: skipped (no python3 with numpy)');
  console.log(`\nall runs (ms): ${methods.map((m, k) => `${m.name}: ${times[k].map((t) => t.toFixed(0)).join(' ')}`).join(' | ')}`);
}

await main();
