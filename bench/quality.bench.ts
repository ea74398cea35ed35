// npm run bench:quality — time-to-quality on MovieLens ml-latest-small:
// `fedrec train --model sasrec` with its defaults vs an independent PyTorch
// SASRec trainer (bench/reference/sasrec_train_torch.py) under the same
// protocol (leave-one-out, full ranking over all items, ties against the
// target), run one after the other on the same machine.
//
// Env:
//   FEDREC_ML_DIR      MovieLens CSV directory (ratings.csv); default
//                      ../shared/data/ml-latest-small from the repo root. The
//                      data is read in place: it must never be copied into the repo.
//   FEDREC_TRAIN_ARGS  extra arguments for `fedrec train` (split on spaces)
//   FEDREC_TORCH_ARGS  extra arguments for the PyTorch trainer (split on spaces)
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { cpus } from 'node:os';
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { printContext, systemBlas } from './machine.ts';
import { runStreaming, type Run } from './run.ts';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const DATA = process.env.FEDREC_ML_DIR ? resolve(process.env.FEDREC_ML_DIR) : resolve(ROOT, '../shared/data/ml-latest-small');
const THREADS = cpus().length;
const splitArgs = (v: string | undefined): string[] => (v ?? '').split(/\s+/).filter((a) => a !== '');
const TRAIN_ARGS = splitArgs(process.env.FEDREC_TRAIN_ARGS);
const TORCH_ARGS = splitArgs(process.env.FEDREC_TORCH_ARGS);

function findTorchPython(): string | null {
  for (const py of ['/usr/bin/python3', 'python3']) {
    const r = spawnSync(py, ['-c', 'import torch, numpy'], { stdio: 'ignore' });
    if (r.status === 0) return py;
  }
  return null;
}

interface Row {
  system: string;
  config: string;
  epochs?: number;
  bestEpoch?: number;
  seconds?: number;
  secondsToBest?: number;
  ndcg?: number;
  hr?: number;
  wall?: number;
  error?: string;
}

const num = (v: unknown): number | undefined => (typeof v === 'number' && Number.isFinite(v) ? v : undefined);

function failure(what: string, run: Run): string {
  const last = [...run.stderrTail].reverse().find((l) => l.trim() !== '') ?? '(no output)';
  return `${what} failed (exit ${run.code}): ${last.trim()}`;
}

printContext('fedrec bench:quality');
console.log(`data: ${DATA} (read in place) | pytorch threads: ${THREADS} | system libblas.so.3: ${systemBlas()}`);
if (!existsSync(resolve(DATA, 'ratings.csv'))) {
  console.log(`error: ${resolve(DATA, 'ratings.csv')} not found; set FEDREC_ML_DIR to a MovieLens CSV directory (e.g. ml-latest-small)`);
  process.exit(1);
}

const rows: Row[] = [];

// fedrec: the CLI as a user runs it, defaults only (plus FEDREC_TRAIN_ARGS).
const fedrecArgs = ['bin/fedrec.mjs', 'train', '--data', `movielens:${DATA}`, '--model', 'sasrec', '--json', ...TRAIN_ARGS];
console.log(`\n$ node ${fedrecArgs.join(' ')}`);
const fr = await runStreaming('[fedrec]', process.execPath, fedrecArgs);
const fedrecConfig = `sasrec, fedrec train defaults${TRAIN_ARGS.length ? ` + ${TRAIN_ARGS.join(' ')}` : ''}`;
if (fr.code === 0 && fr.json && num(fr.json['ndcg@10']) !== undefined) {
  const bestLine = fr.stderrTail.map((l) => /best validation epoch:\s*(\d+)/.exec(l)).find((m) => m);
  rows.push({
    system: `fedrec (${String(fr.json.backend ?? '?')})`,
    config: fedrecConfig,
    epochs: num(fr.json.epochs),
    bestEpoch: num(fr.json.best_epoch) ?? (bestLine ? Number(bestLine[1]) : undefined),
    seconds: num(fr.json.seconds),
    secondsToBest: num(fr.json.seconds_to_best),
    ndcg: num(fr.json['ndcg@10']),
    hr: num(fr.json['hr@10']),
    wall: fr.wallSeconds,
  });
} else {
  const why = fr.code === 0 ? 'fedrec train printed no JSON line with ndcg@10' : failure('fedrec train', fr);
  console.log(`fedrec: ${why}`);
  rows.push({ system: 'fedrec', config: fedrecConfig, error: why });
}

// PyTorch: the independent reference trainer, on all cores.
const py = findTorchPython();
let torchRow: Row | null = null;
let torchValid: number | undefined;
if (!py) {
  console.log('\nPyTorch: skipped (no python3 with torch and numpy; on Debian: apt-get install python3-torch)');
} else {
  const torchArgs = ['bench/reference/sasrec_train_torch.py', '--data', DATA, '--threads', String(THREADS), ...TORCH_ARGS];
  console.log(`\n$ OPENBLAS_NUM_THREADS=${THREADS} ${py} ${torchArgs.join(' ')}`);
  const env = { ...process.env, OPENBLAS_NUM_THREADS: String(THREADS), OMP_NUM_THREADS: String(THREADS) };
  const tr = await runStreaming('[pytorch]', py, torchArgs, env);
  if (tr.code === 0 && tr.json && num(tr.json['test_ndcg@10']) !== undefined) {
    const j = tr.json;
    torchValid = num(j['valid_ndcg@10']);
    torchRow = {
      system: `pytorch ${String(j.torch)}`,
      config: `sasrec L${j.maxlen} d${j.dim} ${j.blocks} blocks ${j.heads} head, ${j.threads} threads`,
      epochs: num(j.epochs),
      bestEpoch: num(j.best_epoch),
      seconds: num(j.seconds),
      secondsToBest: num(j.seconds_to_best),
      ndcg: num(j['test_ndcg@10']),
      hr: num(j['test_hr@10']),
      wall: tr.wallSeconds,
    };
    rows.push(torchRow);
  } else {
    const why = tr.code === 0 ? 'the PyTorch trainer printed no JSON line with test_ndcg@10' : failure('the PyTorch trainer', tr);
    console.log(`pytorch: ${why}`);
    rows.push({ system: 'pytorch', config: 'sasrec_train_torch.py', error: why });
  }
}

const f = (v: number | undefined, digits: number) => (v === undefined ? '-' : v.toFixed(digits));
const header = ['system', 'config', 'epochs', 'best', 'seconds', 'to best', 'test NDCG@10', 'HR@10', 'wall s'];
const cells = rows.map((r) =>
  r.error
    ? [r.system, r.config, '-', '-', '-', '-', '-', '-', '-']
    : [r.system, r.config, f(r.epochs, 0), f(r.bestEpoch, 0), f(r.seconds, 1), f(r.secondsToBest, 1), f(r.ndcg, 4), f(r.hr, 4), f(r.wall, 1)],
);
const widths = header.map((h, i) => Math.max(h.length, ...cells.map((c) => c[i].length)));
const line = (c: string[]) => c.map((v, i) => (i < 2 ? v.padEnd(widths[i]) : v.padStart(widths[i]))).join('  ');
console.log(`\n## time to quality on ${DATA} (test split, full ranking over all items)\n`);
console.log(line(header));
for (const c of cells) console.log(line(c));
for (const r of rows) if (r.error) console.log(`${r.system}: ${r.error}`);
console.log(
  '(seconds: training incl. validation, without loading the data and the test evaluation; to best: until the evaluation of the\n' +
    ' state that was kept; wall s: the whole process; fedrec validates as its plan prints, the PyTorch trainer every 5 epochs)',
);

const fedrecRow = rows.find((r) => r.system.startsWith('fedrec') && !r.error);
if (fedrecRow && torchRow && torchRow.ndcg && torchRow.seconds) {
  const ndcgRatio = (fedrecRow.ndcg ?? NaN) / torchRow.ndcg;
  const timeRatio = (fedrecRow.seconds ?? NaN) / torchRow.seconds;
  console.log(`\nfedrec / pytorch: test NDCG@10 ${ndcgRatio.toFixed(2)}, training seconds ${timeRatio.toFixed(2)}`);
  // Time to quality: when fedrec's validation NDCG@10 first reached the best
  // validation NDCG@10 of the PyTorch run (its epoch lines carry per-epoch seconds).
  const target = torchValid;
  let elapsed = 0;
  let reached: { epoch: number; seconds: number } | null = null;
  for (const l of fr.stderrAll) {
    const m = /^epoch\s+(\d+)\/\d+\s+loss \S+\s+(?:valid NDCG@10 (\S+).*?)?\s(\d+(?:\.\d+)?)s$/.exec(l.trim());
    if (!m) continue;
    elapsed += Number(m[3]);
    if (m[2] !== undefined && target !== undefined && Number(m[2]) >= target) {
      reached = { epoch: Number(m[1]), seconds: elapsed };
      break;
    }
  }
  if (target !== undefined && torchRow.secondsToBest) {
    console.log(
      reached
        ? `time to PyTorch's best validation NDCG@10 (${target.toFixed(4)}): fedrec ${reached.seconds.toFixed(1)} s (epoch ${reached.epoch}), ` +
            `pytorch ${torchRow.secondsToBest.toFixed(1)} s; fedrec / pytorch ${(reached.seconds / torchRow.secondsToBest).toFixed(2)}`
        : `fedrec never reached PyTorch's best validation NDCG@10 (${target.toFixed(4)})`,
    );
  }
} else {
  console.log('\nfedrec / pytorch: - (needs both rows)');
}
if (rows.some((r) => r.error)) process.exitCode = 1;
