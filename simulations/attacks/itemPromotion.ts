// `fedrec attack item-promotion`: a fraction of the clients (chosen with the
// seed) are malicious and push one target item into everyone's
// recommendations by poisoning their updates (the model-poisoning setting of
// federated-recommender promotion attacks).
//
// The poisoned update (model-agnostic, needs only the published model and
// public popularity): the client's honest delta plus boost × a push on the
// target's item-embedding row (and, where the model has one, its item bias)
// along the popularity direction: the POPULAR_ITEMS most popular items' mean
// row minus the catalog's mean row. Training makes nearly every user's
// representation favour popular items, so every step along that direction
// raises the target's score for everyone. FedAvg averages the push with the
// honest updates: with a malicious share F of the weight the target moves
// about F × boost popularity gaps per round, and keeps moving round after
// round (scaling a poisoned update by about 1/F is the model-replacement trick
// of backdoor attacks on federated learning). Under central DP the coordinator
// refuses updates above the clip bound, so a malicious client scales its
// poisoned update down to the norm of its honest (clipped) one; the noise then
// buries what is left.
//
// Modes: none (plain FedAvg) and dp (central DP: clipping and noise).
// Clipping without noise, the usual defence against boosted updates, is not a
// mode: the simulation config has no key for a non-DP clip bound.
//
// Exposure of a model: the share of (at most `evalUsers`, chosen with the
// seed) test users who have not seen the target and get it in their top-10,
// seen items excluded as in the ranking metrics (ties count against the
// target). Baseline: the same mode's run without malicious clients (same
// seed, so the same selection and training), round by round.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createModel, Rng, type Dataset, type EvalCase, type Model, type Split, rankOfTarget } from '../../recommender/index.ts';
import type { SimulationConfig } from '../config.ts';
import { SimulationConfigError } from '../errors.ts';
import { parsePartition, partitionUsers } from '../partition.ts';
import { lineChart, toCsv } from '../report/index.ts';
import type { SimulationHooks } from '../runner.ts';
import { itemRows, loadAttackData, modeConfigs, roundLogger, rowStart, runMode, weightOffset, type DpSettings, type ItemRows } from './index.ts';

export const PROMOTION_MODES = ['none', 'dp'] as const;
export type PromotionMode = (typeof PROMOTION_MODES)[number];

/** How many of the most popular items define the popularity direction. */
export const POPULAR_ITEMS = 10;
/** Exposure counts the target in a user's top EXPOSURE_K. */
export const EXPOSURE_K = 10;

/** Training interactions per catalog item (what the attacker takes as public popularity). */
export function popularity(split: Split, numItems: number): Float64Array {
  const counts = new Float64Array(numItems);
  for (const s of split.train) for (const i of s.items) counts[i]++;
  return counts;
}

/** The `n` most popular items, most popular first (ties by index). */
export function mostPopular(counts: Float64Array, n: number): number[] {
  return Array.from(counts.keys())
    .sort((a, b) => counts[b] - counts[a] || a - b)
    .slice(0, n);
}

/** A random item from the less popular half of the catalog, drawn with `rng`. */
export function unpopularItem(counts: Float64Array, rng: Rng): number {
  const ascending = Array.from(counts.keys()).sort((a, b) => counts[a] - counts[b] || a - b);
  return ascending[rng.int(Math.max(1, Math.floor(counts.length / 2)))];
}

/** round(fraction × clients) of the client ids (at least one), drawn with `rng`. */
export function pickMalicious(clients: readonly string[], fraction: number, rng: Rng): Set<string> {
  const n = Math.min(clients.length, Math.max(1, Math.round(fraction * clients.length)));
  return new Set(rng.shuffle([...clients]).slice(0, n));
}

/** Up to `n` test cases of users who have not seen the target, drawn with `rng`. */
export function exposureCases(split: Split, target: number, n: number, rng: Rng): EvalCase[] {
  const eligible = split.test.filter((c) => !c.history.items.includes(target));
  return rng.shuffle(eligible).slice(0, n);
}

/** Share of the cases whose top EXPOSURE_K (seen items excluded) holds the target. */
export function exposure(model: Model, cases: EvalCase[], target: number, numItems: number, batchSize = 256): number {
  if (cases.length === 0) return Number.NaN;
  let exposed = 0;
  for (let start = 0; start < cases.length; start += batchSize) {
    const batch = cases.slice(start, start + batchSize);
    const scores = model.scoreBatch(batch.map((c) => c.history));
    batch.forEach((c, b) => {
      if (rankOfTarget(scores, b * numItems, numItems, target, c.history.items) < EXPOSURE_K) exposed++;
    });
  }
  return exposed / cases.length;
}

/** Where the push acts: the item-embedding rows, the item biases if the model has them, the target and the popular items. */
export interface PushPlan {
  rows: ItemRows;
  biasOffset: number | undefined;
  target: number;
  popular: readonly number[];
}

/** The mean over `items` of the `width` values starting at offsetOf(item). */
function meanRow(values: Float32Array, offsetOf: (item: number) => number, items: Iterable<number>, width: number): Float64Array {
  const mean = new Float64Array(width);
  let n = 0;
  for (const i of items) {
    const start = offsetOf(i);
    for (let d = 0; d < width; d++) mean[d] += values[start + d];
    n++;
  }
  return mean.map((x) => x / n);
}

/**
 * The popularity direction placed on the target: the popular items' mean
 * embedding row minus the whole catalog's mean row (and the same for the item
 * bias, where the model has one), zero elsewhere. A user whose
 * representation favours popular items, as training makes nearly every user's,
 * scores the target higher by the user's popular-minus-average score gap per
 * unit of push, whatever the model does with the row.
 */
export function popularityPush(weights: Float32Array, plan: PushPlan): Float32Array {
  const { rows, biasOffset, target, popular } = plan;
  const all = Array.from({ length: rows.numItems }, (_, i) => i);
  const push = new Float32Array(weights.length);
  const place = (offsetOf: (item: number) => number, width: number) => {
    const pop = meanRow(weights, offsetOf, popular, width);
    const avg = meanRow(weights, offsetOf, all, width);
    for (let d = 0; d < width; d++) push[offsetOf(target) + d] = pop[d] - avg[d];
  };
  place((i) => rowStart(rows, i), rows.dim);
  if (biasOffset !== undefined) place((i) => biasOffset + i, 1);
  return push;
}

const l2 = (v: Float32Array): number => Math.sqrt(v.reduce((s, x) => s + x * x, 0));

/** honest + boost × push, scaled down to `maxNorm` when given (a DP coordinator's bound). */
export function poison(honest: Float32Array, push: Float32Array, boost: number, maxNorm?: number): Float32Array {
  const out = honest.map((h, i) => h + boost * push[i]);
  const norm = l2(out);
  if (maxNorm !== undefined && norm > maxNorm) for (let i = 0; i < out.length; i++) out[i] *= maxNorm / norm;
  return out;
}

export interface PromotionOptions {
  base: SimulationConfig;
  out: string;
  modes: readonly PromotionMode[];
  dp?: DpSettings;
  /** Fraction of the clients that are malicious, in (0, 1). */
  malicious: number;
  /** Catalog id of the target; default a random item of the less popular half (seeded). */
  target?: string;
  boost: number;
  /** Test users the exposure is measured on (at most). */
  evalUsers: number;
  log?: (line: string) => void;
  /** Also pass the round engine's own log lines to `log`. */
  verbose?: boolean;
}

export interface PromotionModeResult {
  final_exposure: number;
  baseline_exposure: number;
  /** Per committed round: exposure of the attacked run and of the honest run. */
  rounds: Array<{ round: number; exposure: number; baseline_exposure: number }>;
  epsilon: number | null;
}

export interface PromotionReport {
  attack: 'item-promotion';
  target: string;
  target_index: number;
  target_interactions: number;
  malicious_clients: number;
  clients: number;
  boost: number;
  eval_users: number;
  modes: Partial<Record<PromotionMode, PromotionModeResult>>;
}

interface Setup {
  dataset: Dataset;
  counts: Float64Array;
  clients: number;
  plan: PushPlan;
  malicious: Set<string>;
  cases: EvalCase[];
  initialWeights: Float32Array;
}

async function setUp(opts: PromotionOptions): Promise<Setup> {
  const { base } = opts;
  const { dataset, split } = await loadAttackData(base);
  const numItems = dataset.catalog.size;
  const rng = new Rng(base.seed);
  const counts = popularity(split, numItems);
  const target = opts.target === undefined ? unpopularItem(counts, rng.fork('target')) : dataset.catalog.indexOf(opts.target);
  if (target < 0) throw new SimulationConfigError(`--target ${opts.target} is not an item of ${base.data}`);
  const partition = partitionUsers(dataset.sequences, parsePartition(base.partition), (i) => dataset.catalog.meta(i).category, base.seed);
  // the runner's version 0: the same model, config and seed
  const initial = createModel(base.model, { ...base.modelConfig, numItems }, base.seed);
  const initialWeights = initial.getWeights();
  const plan = { rows: itemRows(initial.spec), biasOffset: weightOffset(initial.spec, 'item_bias')?.offset, target, popular: mostPopular(counts, POPULAR_ITEMS) };
  initial.dispose();
  return {
    dataset,
    counts,
    clients: partition.clients.length,
    plan,
    malicious: pickMalicious(partition.clients, opts.malicious, rng.fork('malicious')),
    cases: exposureCases(split, target, opts.evalUsers, rng.fork('exposure')),
    initialWeights,
  };
}

/** Per-round exposure hook; with an attack, also the malicious clients' tampering from the latest published model. */
function promotionHooks(s: Setup, opts: PromotionOptions, dp: boolean, attacked: boolean, record: Map<number, number>): SimulationHooks {
  let published = s.initialWeights;
  const numItems = s.dataset.catalog.size;
  return {
    // the runner evaluates version r before round r + 1 trains, so `published` is the model the malicious clients train from
    extraMetrics: async (model, round) => {
      if (attacked) published = model.getWeights();
      const e = exposure(model, s.cases, s.plan.target, numItems);
      record.set(round, e);
      return { exposure: e };
    },
    ...(attacked
      ? {
          tamper: (clientId: string, _round: number, honest: Float32Array) => {
            if (!s.malicious.has(clientId)) return undefined;
            const bound = dp ? l2(honest) : undefined;
            if (bound === 0) return undefined; // nothing sampled: a non-zero update would be refused
            return poison(honest, popularityPush(published, s.plan), opts.boost, bound);
          },
        }
      : {}),
  };
}

/** Runs each mode attacked and honest; writes attack.json, attack.csv and exposure.svg to `out`. */
export async function runItemPromotion(opts: PromotionOptions): Promise<PromotionReport> {
  const log = opts.log ?? (() => {});
  const s = await setUp(opts);
  const { catalog } = s.dataset;
  const target = s.plan.target;
  log(`target: ${catalog.idOf(target)} (index ${target}); ${s.malicious.size} malicious clients; exposure over ${s.cases.length} test users`);
  const report: PromotionReport = {
    attack: 'item-promotion',
    target: catalog.idOf(target),
    target_index: target,
    target_interactions: s.counts[target],
    malicious_clients: s.malicious.size,
    clients: s.clients,
    boost: opts.boost,
    eval_users: s.cases.length,
    modes: {},
  };
  for (const [mode, cfg] of modeConfigs(opts.base, opts.modes, opts.dp ?? {}, s.dataset.sequences.length)) {
    const dp = cfg.dp === 'central';
    const run = async (name: string, attack: boolean): Promise<{ exposures: Map<number, number>; epsilon: number | null }> => {
      const exposures = new Map<number, number>();
      const hooks = { log, verbose: opts.verbose, onRound: roundLogger(name, cfg.rounds, log), ...promotionHooks(s, opts, dp, attack, exposures) };
      const r = await runMode(cfg, join(opts.out, name), hooks);
      return { exposures, epsilon: r.summary.epsilon };
    };
    const { exposures: attacked, epsilon } = await run(mode, true);
    const { exposures: honest } = await run(`${mode}-honest`, false);
    const rounds = [...attacked.keys()].map((round) => ({ round, exposure: attacked.get(round)!, baseline_exposure: honest.get(round) ?? Number.NaN }));
    report.modes[mode] = { final_exposure: rounds.at(-1)?.exposure ?? Number.NaN, baseline_exposure: rounds.at(-1)?.baseline_exposure ?? Number.NaN, rounds, epsilon };
  }
  writeReport(opts.out, report);
  return report;
}

/** attack.json, attack.csv (one row per round and mode) and exposure.svg (exposure against the round, attacked and honest per mode). */
function writeReport(out: string, report: PromotionReport): void {
  writeFileSync(join(out, 'attack.json'), `${JSON.stringify(report, null, 2)}\n`);
  const modes = Object.entries(report.modes);
  const rows = modes.flatMap(([mode, r]) => r.rounds.map((x) => ({ mode, ...x })));
  writeFileSync(join(out, 'attack.csv'), toCsv(rows, ['round', 'mode', 'exposure', 'baseline_exposure']));
  const series = modes.flatMap(([mode, r]) => [
    { name: `${mode}: attacked`, points: r.rounds.map((x) => [x.round, x.exposure] as const) },
    { name: `${mode}: honest`, points: r.rounds.map((x) => [x.round, x.baseline_exposure] as const) },
  ]);
  const title = `promoting ${report.target}: ${report.malicious_clients} of ${report.clients} clients malicious, boost ${report.boost}`;
  writeFileSync(join(out, 'exposure.svg'), lineChart(series, { title, xLabel: 'round', yLabel: `share of users with the target in their top-${EXPOSURE_K}` }));
}
