// npm run bench:simulate — fedrec simulate's throughput and memory.
//   1. client-updates per second for sasrec and mf at 100 clients per round,
//      with 1 and 2 worker threads
//      (per-user partition of the 2,000-user synthetic world, 4 rounds, the
//      first one discarded as warm-up): the clients' share (sync, local
//      training, encode, sign) and end to end (also the engine's checks,
//      aggregation, commit, and the runner's validation pass), medians;
//   2. peak RSS of a whole run with 10,000 virtual clients (per-user
//      partition of a 10,000-user world, 100 per round, 3 rounds).
// Each case runs in its own child process so its peak RSS is its own.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { initBackend } from '../recommender/index.ts';
import { parseSimulationConfig } from '../simulations/config.ts';
import { runSimulation } from '../simulations/runner.ts';
import { median, printContext } from './machine.ts';

interface CaseResult {
  model: string;
  users: number;
  clientUpdatesPerSec: number;
  endToEndUpdatesPerSec: number;
  roundSeconds: number;
  peakRssMiB: number;
}

async function runCase(model: 'sasrec' | 'mf', users: number, rounds: number, workers: number): Promise<CaseResult> {
  await initBackend('wasm');
  const dir = mkdtempSync(join(tmpdir(), 'fedrec-bench-sim-'));
  try {
    const cfg = parseSimulationConfig({ data: `synthetic:users=${users}`, model, partition: 'per-user', rounds, clientsPerRound: 100, seed: 1, workers });
    const r = await runSimulation(cfg, dir);
    const rows = r.rows.slice(1); // the first round warms up tfjs kernels
    return {
      model,
      users,
      clientUpdatesPerSec: median(rows.map((x) => x.clients / x.client_seconds)),
      endToEndUpdatesPerSec: median(rows.map((x) => x.clients / x.seconds)),
      roundSeconds: median(rows.map((x) => x.seconds)),
      peakRssMiB: process.resourceUsage().maxRSS / 1024,
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const child = process.argv[2];
if (child) {
  const [model, users, rounds, workers] = child.split(':');
  const res = await runCase(model as 'sasrec' | 'mf', Number(users), Number(rounds), Number(workers));
  process.stdout.write(`RESULT ${JSON.stringify(res)}\n`);
} else {
  printContext('fedrec bench:simulate');
  const self = fileURLToPath(import.meta.url);
  const runChild = (spec: string): CaseResult => {
    const p = spawnSync(process.execPath, [join(self, '../../bin/run-ts.mjs'), self, spec], { encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 });
    const line = p.stdout.split('\n').find((l) => l.startsWith('RESULT '));
    if (!line) throw new Error(`case ${spec} failed: ${p.stderr.slice(-2000)}`);
    return JSON.parse(line.slice(7)) as CaseResult;
  };
  console.log('\n## client-updates per second, per-user partition, 100 clients per round (rounds 2-4; round 1 warms up)');
  console.log('(with workers the clients run in parallel: client seconds are wall-clock seconds of the round\'s client phase)');
  console.log('model    workers  users  client updates/s  end-to-end updates/s  round s (median)  peak RSS MiB');
  for (const [model, workers] of [['sasrec', 1], ['sasrec', 2], ['mf', 1], ['mf', 2]] as const) {
    const r = runChild(`${model}:2000:4:${workers}`);
    console.log(
      `${model.padEnd(7)}  ${String(workers).padStart(7)}  ${String(r.users).padStart(5)}  ${r.clientUpdatesPerSec.toFixed(1).padStart(16)}  ${r.endToEndUpdatesPerSec.toFixed(1).padStart(20)}  ${r.roundSeconds.toFixed(2).padStart(16)}  ${r.peakRssMiB.toFixed(0).padStart(12)}`,
    );
  }
  console.log('\n## peak RSS with 10,000 virtual clients (per-user partition, 100 per round, 3 rounds)');
  console.log('model    clients  peak RSS MiB  round s (median)');
  for (const model of ['sasrec', 'mf'] as const) {
    const r = runChild(`${model}:10000:3:1`);
    console.log(`${model.padEnd(7)}  ${String(r.users).padStart(7)}  ${r.peakRssMiB.toFixed(0).padStart(12)}  ${r.roundSeconds.toFixed(2).padStart(16)}`);
  }
  console.log('\nclient updates/s: clients per round / seconds inside the clients (sync, local training, encode, sign);');
  console.log('end-to-end: clients per round / round seconds (also the engine\'s checks, aggregation, commit and the validation pass over all users).');
}
