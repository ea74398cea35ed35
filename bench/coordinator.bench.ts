// npm run bench:coordinator — the coordinator end to end on loopback: N
// virtual clients in separate load-generator processes
// (bench/coordinator/loadClient.ts) connect over socket.io and answer every
// task at once by uploading (HTTP POST /api/updates) a precomputed,
// per-client signed f32 delta of an MF model sized to ~100k or
// ~1M parameters; the coordinator (startCoordinator, FedAvg, quorum = N) runs
// in a fresh process per case (bench/coordinator/runCase.ts) so that its RSS
// starts clean. Figures per committed round, medians printed:
//
//   updates/s      N / (first update arrival → last update arrival)
//   MB/s           payload bytes received (1 MB = 1e6 B) / the same span
//   task→commit    tasks sent → model committed (checkpoint fsynced)
//   commit ms      last update's arrival → committed model: the engine's stats.lastCommitMs
//                  (measured from the last update's *validation*) and measured here (from its arrival)
//   engine ms/upd  time inside engine.receiveUpdate per update (validate + fold)
//   peak RSS       the coordinator process, sampled every 50 ms and at update arrivals; VmHWM as a check
//   loop stall     longest event-loop delay in the coordinator during the round
//
// Then the aggregation kernel alone next to memcpy, measured in this run, and
// the coordinator's per-update CPU around it.
//
// Flags: --quick (100-client cases only), --no-big (skip 1,000 × 1M), --timeout=S per case (default 600),
//        --verbose (coordinator log and per-round lines on stderr), --json=FILE (every case's raw per-round results).
import { spawn } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { fileURLToPath } from 'node:url';
import { join } from 'node:path';
import { measureKernel, measureUpdatePath } from './coordinator/kernel.ts';
import type { CaseConfig, CaseResult, RoundResult } from './coordinator/runCase.ts';
import { median, printContext } from './machine.ts';

const args = process.argv.slice(2);
const flag = (name: string) => args.includes(`--${name}`);
const opt = (name: string, dflt: number) => {
  const a = args.find((x) => x.startsWith(`--${name}=`));
  return a ? Number(a.split('=')[1]) : dflt;
};
const QUICK = flag('quick');
const NO_BIG = flag('no-big');
const VERBOSE = flag('verbose');
const TIMEOUT_S = opt('timeout', 600);
const JSON_OUT = args.find((x) => x.startsWith('--json='))?.slice('--json='.length);
const repo = fileURLToPath(new URL('..', import.meta.url));

const DIM = 32;
const ITEMS_100K = 3030; // 3,030 × 33 = 99,990 values
const ITEMS_1M = 30303; // 30,303 × 33 = 999,999 values

interface Case {
  label: string;
  cfg: CaseConfig;
  /** Leading rounds left out of the medians (JIT, first allocations, first fsync). */
  warmup: number;
}

const cases: Case[] = [
  { label: '100 × 100k', cfg: { clients: 100, items: ITEMS_100K, dim: DIM, rounds: 4, procs: 2 }, warmup: 1 },
  { label: '100 × 1M', cfg: { clients: 100, items: ITEMS_1M, dim: DIM, rounds: 4, procs: 2 }, warmup: 1 },
];
if (!QUICK) {
  cases.push({ label: '1000 × 100k', cfg: { clients: 1000, items: ITEMS_100K, dim: DIM, rounds: 4, procs: 4 }, warmup: 1 });
  if (!NO_BIG) {
    // 4 GB on the wire per round: 2 rounds, both measured
    cases.push({ label: '1000 × 1M', cfg: { clients: 1000, items: ITEMS_1M, dim: DIM, rounds: 2, procs: 4 }, warmup: 0 });
    // the same with at most 4 uploads in flight per load process (16 in all), as clients finishing at different times would
    cases.push({ label: '1000 × 1M, 16 in flight', cfg: { clients: 1000, items: ITEMS_1M, dim: DIM, rounds: 2, procs: 4, window: 4 }, warmup: 0 });
  }
}

function memAvailableMB(): number {
  try {
    const m = /MemAvailable:\s+(\d+) kB/.exec(readFileSync('/proc/meminfo', 'utf8'));
    return m ? Number(m[1]) / 1024 : Infinity;
  } catch {
    return Infinity;
  }
}

function runCase(c: Case): Promise<CaseResult> {
  const cfg = { ...c.cfg, timeoutMs: TIMEOUT_S * 1000, verbose: VERBOSE };
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [join(repo, 'bin/run-ts.mjs'), join(repo, 'bench/coordinator/runCase.ts'), JSON.stringify(cfg)], {
      cwd: repo,
      stdio: ['ignore', 'pipe', VERBOSE ? 'inherit' : 'pipe'],
    });
    let out = '';
    let err = '';
    child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr?.on('data', (d: Buffer) => (err = (err + d.toString()).slice(-4000)));
    // the case enforces its own timeout; this is the backstop
    const backstop = setTimeout(() => child.pid && child.exitCode === null && process.kill(child.pid, 'SIGKILL'), (TIMEOUT_S + 120) * 1000);
    child.on('exit', (code, signal) => {
      clearTimeout(backstop);
      const line = out.split('\n').find((l) => l.startsWith('RESULT '));
      if (line) resolve(JSON.parse(line.slice(7)) as CaseResult);
      else reject(new Error(`case process exited (${code ?? signal}) without a result${err ? `: ${err.trim().split('\n').slice(-5).join(' / ')}` : ''}`));
    });
  });
}

const f = (x: number, d = 0) => (Number.isFinite(x) ? x.toLocaleString('en', { minimumFractionDigits: d, maximumFractionDigits: d }) : '—');

function table(header: string[], rows: string[][]): void {
  const widths = header.map((h, c) => Math.max(h.length, ...rows.map((r) => r[c].length)));
  const line = (r: string[]) => r.map((v, c) => (c === 0 ? v.padEnd(widths[c]) : v.padStart(widths[c]))).join('  ');
  console.log(line(header));
  for (const r of rows) console.log(line(r));
}

async function main(): Promise<void> {
  printContext('coordinator: socket.io sessions and HTTP uploads on loopback, clients in separate processes, FedAvg over f32 updates');

  // --- the kernel first, on a quiet machine
  const k = measureKernel();
  console.log(`\n## aggregation kernel alone: ${k.updates} updates × ${f(k.n)} float32 (${(k.updates * k.n * 4) / 1e6} MB read per fold), median of ${k.runs} runs\n`);
  table(
    ['method', 'ms', 'GB/s', '× memcpy'],
    k.rows.map((r) => [r.name, f(r.ms, 1), f(r.gbs, 2), f(r.xMemcpy, 2)]),
  );
  const steps1m = measureUpdatePath(999_999);
  const steps100k = measureUpdatePath(99_990);
  console.log(`\n## the coordinator's CPU per update (ms, median of 21), what bounds updates/s below the kernel\n`);
  table(
    ['step', '100k values', '1M values'],
    steps1m.map((s, i) => [s.name, f(steps100k[i].ms, 2), f(s.ms, 2)]),
  );
  const vu = (rows: typeof steps1m) => rows[0].ms + rows[rows.length - 1].ms;
  console.log(
    `validate + fold on one core: ceiling ≈ ${f(1000 / vu(steps100k))} updates/s at 100k (${f((1000 / vu(steps100k)) * 0.4)} MB/s), ` +
      `${f(1000 / vu(steps1m))} updates/s at 1M (${f((1000 / vu(steps1m)) * 4)} MB/s), before any socket work`,
  );

  // --- end to end
  const results: Array<{ c: Case; r?: CaseResult; skipped?: string; load?: number }> = [];
  for (const c of cases) {
    const bytes = c.cfg.clients * (c.cfg.items * (DIM + 1) * 4 + 16);
    // what the load generators send at once sits in socket buffers; the coordinator holds at most its upload buffer
    const needMB = (2 * bytes) / 2 ** 20 + 1024;
    const avail = memAvailableMB();
    if (needMB > avail) {
      results.push({ c, skipped: `needs ~${f(needMB / 1024, 1)} GiB (2 × ${f(bytes / 1e9, 1)} GB of updates in flight + 1 GiB), ${f(avail / 1024, 1)} GiB available` });
      continue;
    }
    process.stderr.write(`running ${c.label} (${c.cfg.rounds} rounds)...\n`);
    try {
      const load = loadavg()[0];
      results.push({ c, r: await runCase(c), load });
    } catch (err) {
      results.push({ c, skipped: (err as Error).message });
    }
  }

  const measured = (c: Case, r: CaseResult) => r.rounds.filter((x) => x.round > c.warmup && x.outcome === 'committed');
  const med = (rs: RoundResult[], key: keyof RoundResult) => median(rs.map((x) => x[key] as number));

  console.log(`\n## end to end (medians over the measured rounds; update = ${DIM}-dim MF item embeddings + biases, f32)\n`);
  const rows: string[][] = [];
  const notes: string[] = [];
  for (const { c, r, skipped, load } of results) {
    if (!r) {
      rows.push([c.label, ...Array(10).fill('—')]);
      notes.push(`${c.label}: skipped: ${skipped}`);
      continue;
    }
    const rs = measured(c, r);
    const all = r.rounds.map((x) => `r${x.round} ${x.outcome === 'committed' ? '' : `${x.outcome} `}${f(x.updatesPerSec, 1)}/s ${f(x.taskToCommitMs / 1000, 1)}s`).join(', ');
    if (rs.length === 0) {
      rows.push([c.label, ...Array(10).fill('—')]);
    } else {
      rows.push([
        c.label,
        f(r.size),
        `${rs.length}/${r.rounds.length}`,
        f(med(rs, 'updatesPerSec'), 1),
        f(med(rs, 'mbPerSec'), 1),
        f(med(rs, 'firstArrivalMs') / 1000, 2),
        f(med(rs, 'taskToCommitMs') / 1000, 2),
        `${f(med(rs, 'commitMsEngine'))} / ${f(med(rs, 'commitMsMeasured'))}`,
        `${f(med(rs, 'toAggregatingMs'))} + ${f(med(rs, 'aggregateMs'))} + ${f(med(rs, 'storeCommitMs'))}`,
        f(med(rs, 'engineMsPerUpdate'), 1),
        f(med(rs, 'eventLoopMaxMs') / 1000, 2),
      ]);
    }
    notes.push(`${c.label}: load average ${f(load ?? NaN, 2)} at start; rounds: ${all}`);
    if (r.error) notes.push(`${c.label}: ${r.error}`);
    const sd = Object.entries(r.serverDisconnects);
    if (sd.length) notes.push(`${c.label}: server-side disconnects: ${sd.map(([k, v]) => `${k} ×${v.count} (${f(v.firstMs / 1000, 1)}–${f(v.lastMs / 1000, 1)} s into the round)`).join(', ')}`);
    const ld = Object.entries(r.loadDisconnects);
    if (ld.length) notes.push(`${c.label}: client-side disconnects: ${ld.map(([k, v]) => `${k} ×${v}`).join(', ')}`);
    if (r.loadRetries > 0) notes.push(`${c.label}: uploads retried after a network error: ${r.loadRetries}`);
    const rej = Object.entries(r.loadRejected);
    if (rej.length) notes.push(`${c.label}: rejected updates: ${rej.map(([k, v]) => `${k} ×${v}`).join(', ')}`);
  }
  table(['case (clients × params)', 'values', 'rounds', 'updates/s', 'MB/s', '1st arrival s', 'task→commit s', 'commit ms eng/meas', '= last upd + aggregate + store', 'engine ms/upd', 'loop stall s'], rows);

  console.log(`\n## coordinator memory (MB = 2^20 B): is it O(model) or O(clients × model)?\n`);
  const mrows: string[][] = [];
  for (const { c, r } of results) {
    if (!r || r.rounds.length === 0) continue;
    const peak = Math.max(...r.rounds.map((x) => x.rssPeakMB));
    const ab = Math.max(...r.rounds.map((x) => x.arrayBuffersPeakMB));
    const up = r.rounds.reduce((a, x) => (x.uploadBufferPeakMB > a.uploadBufferPeakMB ? x : a), r.rounds[0]);
    const updMB = r.updateBytes / 2 ** 20;
    const inFlight = c.cfg.window ? Math.min(c.cfg.clients, c.cfg.window * c.cfg.procs) : c.cfg.clients;
    mrows.push([
      c.label,
      f(updMB, 2),
      f(r.rssConnectedMB),
      f(peak),
      r.hwmMB === null ? '—' : f(r.hwmMB),
      f(peak - r.rssConnectedMB),
      f((peak - r.rssConnectedMB) / updMB, 0),
      f(ab),
      `${f(up.uploadBufferPeakMB)} / ${f(Math.max(...r.rounds.map((x) => x.uploadsWaitingPeak)))}`,
      f(inFlight),
      f((c.cfg.clients * r.updateBytes) / 2 ** 20),
      r.loadRssPeakMB.length ? r.loadRssPeakMB.map((x) => f(x)).join('/') : '—',
    ]);
  }
  table(['case', 'update MB', 'RSS connected', 'peak RSS', 'VmHWM', 'peak − connected', '= updates', 'ArrayBuffers peak', 'upload buffer peak / waiting', 'uploads at once', 'N × update', 'load-gen RSS peaks'], mrows);

  console.log(
    '(peak − connected: RSS added by a round; "upload buffer": bytes of upload bodies the coordinator held at once (being\n' +
      ' read or waiting for the engine; limits.uploadBufferBytes) / the most uploads waiting unread for room in it;\n' +
      ' "uploads at once": updates the load generators had in flight)',
  );
  console.log('\nnotes:');
  for (const n of notes) console.log(`  ${n}`);
  if (JSON_OUT) {
    writeFileSync(JSON_OUT, JSON.stringify({ kernel: k, updatePath: { '100k': steps100k, '1M': steps1m }, cases: results }, null, 1));
    console.log(`\nraw results: ${JSON_OUT}`);
  }
}

await main();
