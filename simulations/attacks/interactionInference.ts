// `fedrec attack interaction-inference`: whoever sees one client's update (the
// coordinator; under central DP it still does, since noise is added to the
// sum) guesses which items the client interacted with from the rows of the
// item-embedding delta. Local training only moves the rows of items the client
// used (as positives) or drew as sampled negatives, so non-zero rows reveal
// interacted items: the leak federated-recommendation attack papers point out
// and README "Privacy model" names.
//
// Scorer: the L2 norm of each catalog item's delta row. Clipping scales the
// whole update, so it cannot change this ranking; only noise on the individual
// update (local DP, or secure aggregation hiding it) would. Sampled negatives
// move rows too: a negative drawn several times moves further than an
// interacted item, which costs precision, and on a catalog not much larger
// than a client's history the scorer falls below chance (MF on 60 items with
// about 28 training items a user: AUC 0.43; on 600 items: 0.92).
//
// Metrics per observed update, averaged over the updates: AUC (probability
// that a random interacted item scores above a random other one, ties half),
// and precision@k / recall@k with k = the client's number of distinct training
// items unless given (then precision and recall are equal: R-precision).
// Ground truth: the items of the client's users' training sequences
// (leave-one-out train split, as the runner trains on); under user-level DP in
// merchants or iid groups it counts every user, sampled this round or not.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { specOf, type Split } from '../../recommender/index.ts';
import type { SimulationConfig } from '../config.ts';
import { toCsv } from '../report/index.ts';
import type { ObservedUpdate } from '../runner.ts';
import { itemRows, loadAttackData, modeConfigs, roundLogger, rowStart, runMode, type DpSettings, type ItemRows } from './index.ts';

export const INFERENCE_MODES = ['plain', 'dp'] as const;
export type InferenceMode = (typeof INFERENCE_MODES)[number];

/**
 * Area under the ROC curve of `scores` for the items in `positives` against
 * all others, by the rank-sum (Mann–Whitney U) with mid-ranks for ties, so a
 * tie counts half. NaN when either class is empty.
 */
export function auc(scores: ArrayLike<number>, positives: ReadonlySet<number>): number {
  const n = scores.length;
  const order = Array.from({ length: n }, (_, i) => i).sort((a, b) => scores[a] - scores[b]);
  let rankSum = 0;
  let pos = 0;
  for (let start = 0; start < n; ) {
    let end = start + 1;
    while (end < n && scores[order[end]] === scores[order[start]]) end++;
    const midRank = (start + 1 + end) / 2; // 1-based ranks start+1 .. end
    for (let j = start; j < end; j++) {
      if (positives.has(order[j])) {
        rankSum += midRank;
        pos++;
      }
    }
    start = end;
  }
  const neg = n - pos;
  if (pos === 0 || neg === 0) return Number.NaN;
  return (rankSum - (pos * (pos + 1)) / 2) / (pos * neg);
}

/**
 * Precision@k and recall@k of the k highest scores. Ties at the cut are
 * broken at random, in expectation: of the t items tied at the k-th score, the
 * m the cut admits contribute m/t of the positives among them.
 */
export function precisionRecallAtK(scores: ArrayLike<number>, positives: ReadonlySet<number>, k: number): { precision: number; recall: number } {
  const n = scores.length;
  const cut = Math.min(k, n);
  if (cut < 1 || positives.size === 0) return { precision: Number.NaN, recall: Number.NaN };
  const threshold = Array.from(scores).sort((a, b) => b - a)[cut - 1];
  let above = 0;
  let posAbove = 0;
  let tied = 0;
  let posTied = 0;
  for (let i = 0; i < n; i++) {
    const p = positives.has(i) ? 1 : 0;
    if (scores[i] > threshold) {
      above++;
      posAbove += p;
    } else if (scores[i] === threshold) {
      tied++;
      posTied += p;
    }
  }
  const hits = posAbove + ((cut - above) * posTied) / tied;
  return { precision: hits / cut, recall: hits / positives.size };
}

/** Each catalog item's score: the L2 norm of its row of the item-embedding delta. */
export function rowNorms(delta: Float32Array, rows: ItemRows): Float64Array {
  const out = new Float64Array(rows.numItems);
  for (let i = 0; i < rows.numItems; i++) {
    const start = rowStart(rows, i);
    let sq = 0;
    for (let d = 0; d < rows.dim; d++) sq += delta[start + d] ** 2;
    out[i] = Math.sqrt(sq);
  }
  return out;
}

/** Distinct items of the users' training sequences. */
function trainedItems(split: Split, users: readonly number[]): Set<number> {
  const items = new Set<number>();
  for (const u of users) for (const i of split.train[u].items) items.add(i);
  return items;
}

export interface InferenceScore {
  auc: number;
  precision: number;
  recall: number;
  /** Updates scored (those with interacted and other items both present). */
  updates: number;
}

/** Running means of the attack's metrics over observed updates. */
class InferenceTally {
  private sums = { auc: 0, precision: 0, recall: 0 };
  updates = 0;

  constructor(
    private readonly rows: ItemRows,
    private readonly split: Split,
    private readonly k: number | undefined,
  ) {}

  observe(u: ObservedUpdate): void {
    const positives = trainedItems(this.split, u.users);
    const scores = rowNorms(u.delta, this.rows);
    const a = auc(scores, positives);
    if (Number.isNaN(a)) return;
    const pr = precisionRecallAtK(scores, positives, this.k ?? positives.size);
    this.sums.auc += a;
    this.sums.precision += pr.precision;
    this.sums.recall += pr.recall;
    this.updates++;
  }

  result(): InferenceScore {
    const mean = (s: number) => (this.updates > 0 ? s / this.updates : Number.NaN);
    return { auc: mean(this.sums.auc), precision: mean(this.sums.precision), recall: mean(this.sums.recall), updates: this.updates };
  }
}

export interface InferenceOptions {
  /** The simulation both modes share (its dp keys are replaced per mode). */
  base: SimulationConfig;
  /** Output directory: attack.json, attack.csv and a sub-directory per mode. */
  out: string;
  modes: readonly InferenceMode[];
  dp?: DpSettings;
  /** Score at most this many updates per mode (the first observed); default all. */
  maxUpdates?: number;
  /** Cut-off of precision/recall; default each client's number of distinct training items. */
  k?: number;
  log?: (line: string) => void;
  /** Also pass the round engine's own log lines to `log`. */
  verbose?: boolean;
}

export interface InferenceModeResult extends InferenceScore {
  /** ε of the run (null without DP). */
  epsilon: number | null;
}

export interface InferenceReport {
  attack: 'interaction-inference';
  scorer: 'row-norm';
  k: number | 'distinct training items';
  modes: Partial<Record<InferenceMode, InferenceModeResult>>;
}

/** Runs each mode's simulation with the adversary watching every update; writes attack.json and attack.csv to `out`. */
export async function runInteractionInference(opts: InferenceOptions): Promise<InferenceReport> {
  const log = opts.log ?? (() => {});
  const { dataset, split } = await loadAttackData(opts.base);
  const rows = itemRows(specOf(opts.base.model, { ...opts.base.modelConfig, numItems: dataset.catalog.size }));
  const report: InferenceReport = { attack: 'interaction-inference', scorer: 'row-norm', k: opts.k ?? 'distinct training items', modes: {} };
  for (const [mode, cfg] of modeConfigs(opts.base, opts.modes, opts.dp ?? {}, dataset.sequences.length)) {
    const tally = new InferenceTally(rows, split, opts.k);
    let seen = 0;
    const result = await runMode(cfg, join(opts.out, mode), {
      log,
      verbose: opts.verbose,
      onRound: roundLogger(mode, cfg.rounds, log),
      observeUpdate: (u) => {
        if (opts.maxUpdates === undefined || seen++ < opts.maxUpdates) tally.observe(u);
      },
    });
    report.modes[mode] = { ...tally.result(), epsilon: result.summary.epsilon };
  }
  writeFileSync(join(opts.out, 'attack.json'), `${JSON.stringify(report, null, 2)}\n`);
  const csvRows = Object.entries(report.modes).map(([mode, r]) => ({ mode, ...r }));
  writeFileSync(join(opts.out, 'attack.csv'), toCsv(csvRows, ['mode', 'auc', 'precision', 'recall', 'updates', 'epsilon']));
  return report;
}
