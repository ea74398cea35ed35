// `fedrec sweep`: a grid of simulations run one after another into
// sub-directories of one output directory, then one table of the runs
// (results.csv, results.md) and the privacy–utility frontier (frontier.svg).
//
// The sweep file (JSON):
//
//   {
//     "base":     { "data": "synthetic", "dp": "central", "q": 0.05, "rounds": 30 },
//     "grid":     { "noise": [0.5, 1, 2], "seed": [1, 2] },
//     "out":      "runs/sweep1",
//     "baseline": true
//   }
//
// - base: any `fedrec simulate` config keys (simulations/config.ts) but out;
//   optional, default {}. It need not be valid on its own (e.g. dp central
//   with the noise only in the grid): every run is validated.
// - grid: key → non-empty list of values; keys are simulate config keys or
//   `modelConfig.<name>` (one model hyper-parameter, e.g. modelConfig.dim).
//   The runs are the cartesian product of the values in the file's key order,
//   the last key varying fastest, each applied over base. Every run is
//   validated with parseSimulationConfig before any run starts.
// - out: the output directory (`--out` wins); new, empty, or holding this
//   same sweep (its sweep.json), which resumes it.
// - baseline: add one non-private run of base (dp none, the DP keys removed)
//   as the frontier's ceiling, last; default true when any run has dp central.
//
// A run's sub-directory is named by its grid values, `noise=0.5,seed=1`
// (characters outside [A-Za-z0-9._+-] of a value become `_`; a name equal to
// an earlier one, ignoring case, gets `~2`, `~3`, …); the baseline's is
// `non-private`. Each holds what `fedrec simulate` writes. Resume: a
// sub-directory with every output file and the run's config.json is kept as
// it is; any other (an interrupted run) is removed and run again.
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { isDeepStrictEqual } from 'node:util';
import { z } from 'zod';
import { parseSimulationConfig, simulationConfigSchema, type SimulationConfig } from './config.ts';
import { OUTPUT_FILES, writeConfig, writeOutputs } from './outputs.ts';
import { lineChart, toCsv, toMarkdownTable } from './report/index.ts';
import { runSimulation, type RoundRow, type SimulationHooks, type SimulationResult, type SimulationSummary } from './runner.ts';

export const BASELINE_NAME = 'non-private';
export const SWEEP_FILES = ['sweep.json', 'results.csv', 'results.md', 'frontier.svg'] as const;
/** The result columns of results.csv / results.md, after the grid keys. */
export const RESULT_COLUMNS = ['dp', 'epsilon', 'delta', 'noise_multiplier', 'hr@10', 'ndcg@10', 'mrr', 'val_ndcg@10', 'seconds', 'directory'] as const;
/** Keys a non-private run drops (with dp set to none). */
const DP_KEYS = ['noise', 'targetEpsilon', 'delta', 'clip', 'adaptiveClip', 'seededNoise'];
const SIMULATION_KEYS = new Set(Object.keys(simulationConfigSchema.shape).filter((k) => k !== 'out'));
const MODEL_KEY = /^modelConfig\.([A-Za-z]\w*)$/;

const sweepFileSchema = z
  .object({
    base: z.record(z.string(), z.unknown()).default({}),
    grid: z.record(z.string(), z.array(z.unknown()).min(1, 'needs at least one value')).refine((g) => Object.keys(g).length > 0, 'needs at least one key'),
    out: z.string().min(1).optional(),
    baseline: z.boolean().optional(),
  })
  .strict()
  .superRefine((s, ctx) => {
    for (const key of Object.keys(s.grid)) {
      if (!SIMULATION_KEYS.has(key) && !MODEL_KEY.test(key)) ctx.addIssue({ code: 'custom', path: ['grid', key], message: 'is not a simulate config key (or modelConfig.<name>)' });
    }
    if ('out' in s.base) ctx.addIssue({ code: 'custom', path: ['base', 'out'], message: 'give out at the top level of the sweep file (or --out)' });
  });

export class SweepError extends Error {
  override name = 'SweepError';
}

export interface SweepRun {
  /** Sub-directory name: the grid values, or BASELINE_NAME. */
  name: string;
  /** This run's grid values ({} for the baseline). */
  values: Record<string, unknown>;
  config: SimulationConfig;
}

/** The resolved sweep, as saved in sweep.json: a rerun resumes only the same one. */
export interface Sweep {
  base: Record<string, unknown>;
  grid: Record<string, unknown[]>;
  baseline: boolean;
  runs: SweepRun[];
}

export type SweepRow = Record<string, unknown> & {
  dp: SimulationSummary['dp'];
  epsilon: number | null;
  'ndcg@10': number;
  seconds: number;
  directory: string;
};

export type SimulationRunner = (cfg: SimulationConfig, dir: string, hooks: SimulationHooks) => Promise<SimulationResult>;

export interface SweepProgress {
  /** 1-based. */
  index: number;
  total: number;
  run: SweepRun;
  row: SweepRow;
  /** Finished by an earlier invocation (resume). */
  skipped: boolean;
}

export interface SweepHooks {
  /** Runs one simulation; default runSimulation (tests inject a counting one). */
  runner?: SimulationRunner;
  onRound?: (run: SweepRun, row: RoundRow) => void;
  onRun?: (p: SweepProgress) => void;
}

/** Every combination of the grid's values, in key order, the last key varying fastest. */
export function expandGrid(grid: Record<string, readonly unknown[]>): Array<Record<string, unknown>> {
  return Object.entries(grid).reduce<Array<Record<string, unknown>>>((combos, [key, values]) => combos.flatMap((c) => values.map((v) => ({ ...c, [key]: v }))), [{}]);
}

const valueText = (v: unknown): string => (typeof v === 'string' ? v : JSON.stringify(v));

/** `key=value` pairs as given, for messages and chart labels. */
export function runLabel(values: Record<string, unknown>): string {
  return Object.entries(values)
    .map(([k, v]) => `${k}=${valueText(v)}`)
    .join(', ');
}

/** Filesystem-safe directory names from grid values, unique even on a case-insensitive filesystem. */
export function runNames(combos: ReadonlyArray<Record<string, unknown>>): string[] {
  const taken = new Set<string>();
  return combos.map((values) => {
    const natural = Object.entries(values)
      .map(([k, v]) => `${k}=${valueText(v).replace(/[^A-Za-z0-9._+-]/g, '_')}`)
      .join(',');
    let name = natural;
    for (let k = 2; taken.has(name.toLowerCase()); k++) name = `${natural}~${k}`;
    taken.add(name.toLowerCase());
    return name;
  });
}

function applyValues(base: Record<string, unknown>, values: Record<string, unknown>): Record<string, unknown> {
  const cfg = { ...base };
  for (const [key, v] of Object.entries(values)) {
    const model = MODEL_KEY.exec(key);
    if (model) cfg.modelConfig = { ...(cfg.modelConfig as object | undefined), [model[1]]: v };
    else cfg[key] = v;
  }
  return cfg;
}

function nonPrivate(base: Record<string, unknown>): Record<string, unknown> {
  const cfg: Record<string, unknown> = { ...base, dp: 'none' };
  for (const k of DP_KEYS) delete cfg[k];
  return cfg;
}

function issuesText(error: z.ZodError): string {
  return error.issues.map((i) => `  ${i.path.length ? i.path.join('.') : '(top level)'}: ${i.message}`).join('\n');
}

/**
 * Validates a sweep file's contents and resolves every run's config; throws
 * naming the first bad combination (nothing has run yet).
 */
export function resolveSweep(raw: unknown, source = 'sweep file'): { sweep: Sweep; out: string | undefined } {
  const r = sweepFileSchema.safeParse(raw);
  if (!r.success) throw new SweepError(`${source} is invalid:\n${issuesText(r.error)}`);
  const { base, grid, out } = r.data;
  const combos = expandGrid(grid);
  const runs = runNames(combos).map((name, i) => ({
    name,
    values: combos[i],
    config: parseSimulationConfig(applyValues(base, combos[i]), `${source}: run ${runLabel(combos[i])}`),
  }));
  const baseline = r.data.baseline ?? runs.some((run) => run.config.dp === 'central');
  if (baseline) runs.push({ name: BASELINE_NAME, values: {}, config: parseSimulationConfig(nonPrivate(base), `${source}: the non-private baseline (base with dp none)`) });
  return { sweep: { base, grid, baseline, runs }, out };
}

const readJson = (path: string): unknown => JSON.parse(readFileSync(path, 'utf8'));
const sameJson = (saved: unknown, value: unknown): boolean => isDeepStrictEqual(saved, JSON.parse(JSON.stringify(value)));

/** Makes `out` ready: new or empty (sweep.json is written), or already holding this same sweep (resume). */
export function prepareSweepDir(out: string, sweep: Sweep): void {
  const file = join(out, 'sweep.json');
  if (existsSync(out) && readdirSync(out).length > 0) {
    if (!existsSync(file)) throw new SweepError(`${out} is not empty and holds no sweep; choose a new directory`);
    if (!sameJson(readJson(file), sweep)) throw new SweepError(`${out} holds a different sweep (its sweep.json); choose a new directory, or give the same sweep to resume it`);
    return;
  }
  mkdirSync(out, { recursive: true });
  writeFileSync(file, `${JSON.stringify(sweep, null, 2)}\n`);
}

/** The summary of a run an earlier invocation finished in `dir`, if any. */
function finishedSummary(run: SweepRun, dir: string): SimulationSummary | undefined {
  if (!OUTPUT_FILES.every((f) => existsSync(join(dir, f)))) return undefined;
  if (!sameJson(readJson(join(dir, 'config.json')), run.config)) throw new SweepError(`${dir} holds a finished run of another config; choose a new directory`);
  return readJson(join(dir, 'summary.json')) as SimulationSummary;
}

async function simulate(run: SweepRun, dir: string, hooks: SweepHooks): Promise<SimulationSummary> {
  rmSync(dir, { recursive: true, force: true }); // an interrupted run's partial store
  mkdirSync(dir, { recursive: true });
  writeConfig(dir, run.config);
  const result = await (hooks.runner ?? runSimulation)(run.config, dir, { onRound: (row) => hooks.onRound?.(run, row) });
  writeOutputs(dir, result);
  return result.summary;
}

function sweepRow(run: SweepRun, s: SimulationSummary): SweepRow {
  return {
    ...run.values,
    dp: s.dp,
    epsilon: s.epsilon,
    delta: s.delta,
    noise_multiplier: s.noise_multiplier,
    'hr@10': s['hr@10'],
    'ndcg@10': s['ndcg@10'],
    mrr: s.mrr,
    'val_ndcg@10': s['val_ndcg@10'],
    seconds: s.seconds,
    directory: run.name,
  };
}

/**
 * Runs (or, resuming, keeps) every run of `sweep` in `out` (prepared by
 * prepareSweepDir), then writes results.csv, results.md and frontier.svg.
 * @returns one row per run, in run order.
 */
export async function runSweep(sweep: Sweep, out: string, hooks: SweepHooks = {}): Promise<SweepRow[]> {
  const rows: SweepRow[] = [];
  for (const [i, run] of sweep.runs.entries()) {
    const dir = join(out, run.name);
    const done = finishedSummary(run, dir);
    const row = sweepRow(run, done ?? (await simulate(run, dir, hooks)));
    rows.push(row);
    hooks.onRun?.({ index: i + 1, total: sweep.runs.length, run, row, skipped: done !== undefined });
  }
  writeSweepResults(out, sweep, rows);
  return rows;
}

function writeSweepResults(out: string, sweep: Sweep, rows: SweepRow[]): void {
  const keys = Object.keys(sweep.grid).filter((k) => !(RESULT_COLUMNS as readonly string[]).includes(k));
  const columns = [...keys, ...RESULT_COLUMNS];
  writeFileSync(join(out, 'results.csv'), toCsv(rows, columns));
  writeFileSync(join(out, 'results.md'), toMarkdownTable(rows, columns));
  writeFileSync(join(out, 'frontier.svg'), frontierChart(sweep, rows));
}

/** ε (x) against test NDCG@10 (y) of the DP runs, each labelled by its grid values; the baseline as the ceiling. */
function frontierChart(sweep: Sweep, rows: SweepRow[]): string {
  const dp = sweep.runs.map((run, i) => ({ run, row: rows[i] })).filter((e) => e.row.dp === 'central');
  const ceiling = rows.find((r) => r.directory === BASELINE_NAME);
  const { model, data } = sweep.runs[0].config;
  return lineChart([{ name: 'central DP', points: dp.map((e) => [e.row.epsilon ?? Number.NaN, e.row['ndcg@10']] as const) }], {
    title: `privacy–utility frontier: ${model} on ${data}`,
    xLabel: 'ε',
    yLabel: 'test NDCG@10',
    kind: 'scatter',
    hlines: ceiling ? [{ y: ceiling['ndcg@10'], label: BASELINE_NAME }] : [],
    pointLabels: [dp.map((e) => runLabel(e.run.values))],
  });
}
