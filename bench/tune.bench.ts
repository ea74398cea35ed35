// npm run bench:tune — how much quality `fedrec train`'s data-chosen defaults
// leave to hand tuning: the defaults, then a small grid around them (learning
// rate halved and doubled, embedding size doubled, the reference recipe of the
// SASRec paper's PyTorch port), each a separate `fedrec train --json` run on
// the same split, one after the other. "tuned" is the best test NDCG@10 of the
// grid; the ratio default / tuned is the share of reachable quality the
// defaults get.
//
// Env:
//   FEDREC_TUNE_DATA     data spec (default synthetic); for MovieLens use
//                        movielens:../shared/data/ml-latest-small (read in
//                        place, never copied into the repo)
//   FEDREC_TUNE_VARIANTS comma-separated subset of the variant names below
//                        (default: all)
//   FEDREC_TRAIN_ARGS    extra arguments for every run (split on spaces)
import { printContext } from './machine.ts';
import { runStreaming } from './run.ts';

const DATA = process.env.FEDREC_TUNE_DATA ?? 'synthetic';
const splitArgs = (v: string | undefined): string[] => (v ?? '').split(/[\s,]+/).filter((a) => a !== '');
const EXTRA = splitArgs(process.env.FEDREC_TRAIN_ARGS);

interface Variant {
  name: string;
  /** Flags derived from the default run's chosen config. */
  args: (chosen: Record<string, number>) => string[];
}

const VARIANTS: Variant[] = [
  { name: 'lr/2', args: (c) => ['--lr', String(c.lr / 2)] },
  { name: 'lr*2', args: (c) => ['--lr', String(c.lr * 2)] },
  { name: 'dim*2', args: (c) => ['--dim', String(c.dim * 2)] },
  // The recipe of the PyTorch reference (bench/reference/sasrec_train_torch.py).
  { name: 'reference', args: () => ['--loss', 'bce', '--max-len', '200', '--dim', '64', '--batch-size', '128', '--eval-every', '5'] },
];
const wanted = splitArgs(process.env.FEDREC_TUNE_VARIANTS);
for (const w of wanted) {
  if (!VARIANTS.some((v) => v.name === w)) {
    console.log(`error: unknown variant "${w}" in FEDREC_TUNE_VARIANTS; known: ${VARIANTS.map((v) => v.name).join(', ')}`);
    process.exit(2);
  }
}
const grid = wanted.length ? VARIANTS.filter((v) => wanted.includes(v.name)) : VARIANTS;

interface Row {
  name: string;
  flags: string;
  epochs?: number;
  best?: number;
  seconds?: number;
  ndcg?: number;
  hr?: number;
  error?: string;
}

const num = (v: unknown): number | undefined => (typeof v === 'number' && Number.isFinite(v) ? v : undefined);

async function train(name: string, flags: string[]): Promise<{ row: Row; config?: Record<string, number> }> {
  const args = ['bin/fedrec.mjs', 'train', '--data', DATA, '--model', 'sasrec', '--json', ...EXTRA, ...flags];
  console.log(`\n$ node ${args.join(' ')}`);
  const r = await runStreaming(`[${name}]`, process.execPath, args);
  const flagText = flags.join(' ') || '(none)';
  const ndcg = num(r.json?.['ndcg@10']);
  if (r.code !== 0 || !r.json || ndcg === undefined) {
    const last = [...r.stderrTail].reverse().find((l) => l.trim() !== '') ?? '(no output)';
    return { row: { name, flags: flagText, error: `exit ${r.code}: ${last.trim()}` } };
  }
  const j = r.json;
  const row = { name, flags: flagText, epochs: num(j.epochs), best: num(j.best_epoch), seconds: num(j.seconds), ndcg, hr: num(j['hr@10']) };
  return { row, config: j.config as Record<string, number> | undefined };
}

printContext('fedrec bench:tune');
console.log(`data: ${DATA} | variants: default, ${grid.map((v) => v.name).join(', ')}`);

const rows: Row[] = [];
const base = await train('default', []);
rows.push(base.row);
if (!base.config) {
  console.log(`the default run failed (${base.row.error}); the grid needs its chosen config`);
  process.exit(1);
}
console.log(`default config chosen from the data: ${JSON.stringify(base.config)}`);
for (const v of grid) rows.push((await train(v.name, v.args(base.config))).row);

const f = (v: number | undefined, d: number) => (v === undefined ? '-' : v.toFixed(d));
const header = ['run', 'flags', 'epochs', 'best', 'train s', 'test NDCG@10', 'HR@10'];
const cells = rows.map((r) => [r.name, r.flags, f(r.epochs, 0), f(r.best, 0), f(r.seconds, 0), r.error ? 'failed' : f(r.ndcg, 4), f(r.hr, 4)]);
const widths = header.map((h, i) => Math.max(h.length, ...cells.map((c) => c[i].length)));
const line = (c: string[]) => c.map((v, i) => (i < 2 ? v.padEnd(widths[i]) : v.padStart(widths[i]))).join('  ');
console.log(`\n## default vs tuned fedrec train on ${DATA} (test split, full ranking, seen items excluded)\n`);
console.log(line(header));
for (const c of cells) console.log(line(c));
for (const r of rows) if (r.error) console.log(`${r.name}: ${r.error}`);

const ok = rows.filter((r) => r.ndcg !== undefined);
const tuned = ok.reduce((a, b) => ((b.ndcg ?? 0) > (a.ndcg ?? 0) ? b : a), ok[0]);
if (base.row.ndcg !== undefined && tuned?.ndcg) {
  console.log(
    `\ntuned (best of the grid): ${tuned.name} ${tuned.ndcg.toFixed(4)}; default / tuned = ${(base.row.ndcg / tuned.ndcg).toFixed(3)}` +
      ` (goal: >= 0.95)`,
  );
}
if (rows.some((r) => r.error)) process.exitCode = 1;
