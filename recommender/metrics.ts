// Ranking metrics for next-item prediction. Browser-safe: no Node imports.
//
// Full ranking (the honest protocol): the target is ranked against every
// catalog item except the ones the user has already interacted with (the
// target itself always stays a candidate, so a repeat can still be hit).
// E-commerce variant (`excludeSeen: false`, keys prefixed `incl_seen_`): the
// history stays among the candidates, as when a shop recommends re-buys. Ties are
// counted pessimistically (an item scoring the same as the target ranks above
// it), so a constant scorer gets the worst rank, not a lucky one.
//
// Sampled ranking (the legacy protocol, kept for comparison with papers): the
// target is ranked against 100 random unseen items. Its keys are prefixed
// `sampled_` so the two can never be confused.
//
// From a 0-based rank r: HR@K = [r < K], NDCG@K = r < K ? 1/log2(r+2) : 0,
// MRR = 1/(r+1). Results are averages over cases; RankingAccumulator keeps the
// sums and the count so clients can report them and a coordinator can merge.
import type { BatchScorer, EvalCase, History } from './types.ts';
import { Rng } from './random.ts';

export const DEFAULT_KS: readonly number[] = [10, 20];

/** Valid excluded items other than the target, sorted and without duplicates. */
function excludedOthers(exclude: Int32Array, numItems: number, target: number): Int32Array {
  const sorted = Int32Array.from(exclude).sort();
  let n = 0;
  for (let k = 0; k < sorted.length; k++) {
    const e = sorted[k];
    if (e < 0 || e >= numItems || e === target || (n > 0 && sorted[n - 1] === e)) continue;
    sorted[n++] = e;
  }
  return sorted.subarray(0, n);
}

/**
 * 0-based rank of `target` in the row scores[offset .. offset+numItems):
 * the number of candidates other than the target scoring >= the target's
 * score (ties count against the target). Candidates are all items except
 * those in `exclude` (ids outside 0..numItems-1 are ignored); the target is
 * always a candidate. A NaN target score gets the worst rank,
 * numCandidates - 1; other items with NaN scores rank below the target.
 */
export function rankOfTarget(
  scores: Float32Array,
  offset: number,
  numItems: number,
  target: number,
  exclude: Int32Array,
): number {
  if (!Number.isInteger(target) || target < 0 || target >= numItems) {
    throw new Error(`rankOfTarget: target ${target} is outside 0..${numItems - 1}`);
  }
  if (offset < 0 || offset + numItems > scores.length) {
    throw new Error(`rankOfTarget: row at offset ${offset} of ${numItems} items exceeds the ${scores.length} scores`);
  }
  const excluded = excludedOthers(exclude, numItems, target);
  const t = scores[offset + target];
  if (Number.isNaN(t)) return numItems - excluded.length - 1;
  let atLeast = 0;
  for (let j = offset, end = offset + numItems; j < end; j++) if (scores[j] >= t) atLeast++;
  for (let k = 0; k < excluded.length; k++) if (scores[offset + excluded[k]] >= t) atLeast--;
  return atLeast - 1; // the target itself
}

/** Serialisable state of a RankingAccumulator (sums, not averages). */
export interface RankingAccumulatorJSON {
  ks: number[];
  count: number;
  sums: Record<string, number>;
}

function checkKs(ks: readonly number[]): number[] {
  if (ks.length === 0) throw new Error('ranking cutoffs (ks) must not be empty');
  for (const k of ks) if (!Number.isInteger(k) || k < 1) throw new Error(`ranking cutoff must be a positive integer, got ${k}`);
  if (new Set(ks).size !== ks.length) throw new Error(`ranking cutoffs must be distinct, got ${ks.join(',')}`);
  return [...ks];
}

/** Sums HR@K, NDCG@K and reciprocal ranks over ranks; merges across clients. */
export class RankingAccumulator {
  readonly ks: number[];
  count = 0;
  private readonly hr: Float64Array;
  private readonly ndcg: Float64Array;
  private mrr = 0;

  constructor(ks: readonly number[] = DEFAULT_KS) {
    this.ks = checkKs(ks);
    this.hr = new Float64Array(this.ks.length);
    this.ndcg = new Float64Array(this.ks.length);
  }

  /** Adds one case with 0-based rank `rank`. */
  add(rank: number): void {
    if (!Number.isInteger(rank) || rank < 0) throw new Error(`rank must be a non-negative integer, got ${rank}`);
    const gain = 1 / Math.log2(rank + 2);
    this.ks.forEach((k, i) => {
      if (rank < k) {
        this.hr[i] += 1;
        this.ndcg[i] += gain;
      }
    });
    this.mrr += 1 / (rank + 1);
    this.count++;
  }

  /** Adds another accumulator's sums into this one (same ks required). */
  merge(other: RankingAccumulator): this {
    if (other.ks.join(',') !== this.ks.join(',')) {
      throw new Error(`cannot merge ranking sums with cutoffs ${other.ks.join(',')} into ${this.ks.join(',')}`);
    }
    this.ks.forEach((_, i) => {
      this.hr[i] += other.hr[i];
      this.ndcg[i] += other.ndcg[i];
    });
    this.mrr += other.mrr;
    this.count += other.count;
    return this;
  }

  /** Metric sums keyed `hr@K`, `ndcg@K`, `mrr`. */
  get sums(): Record<string, number> {
    const out: Record<string, number> = {};
    this.ks.forEach((k, i) => {
      out[`hr@${k}`] = this.hr[i];
      out[`ndcg@${k}`] = this.ndcg[i];
    });
    out.mrr = this.mrr;
    return out;
  }

  /** Averages keyed `users`, `hr@K`, `ndcg@K`, `mrr`, each prefixed by `prefix`. No cases → all 0. */
  result(prefix = ''): Record<string, number> {
    const out: Record<string, number> = { [`${prefix}users`]: this.count };
    for (const [key, sum] of Object.entries(this.sums)) out[`${prefix}${key}`] = this.count > 0 ? sum / this.count : 0;
    return out;
  }

  toJSON(): RankingAccumulatorJSON {
    return { ks: [...this.ks], count: this.count, sums: this.sums };
  }

  /** Rebuilds an accumulator from toJSON() output; validates untrusted input. */
  static fromJSON(json: unknown): RankingAccumulator {
    const j = json as Partial<RankingAccumulatorJSON> | null;
    if (typeof j !== 'object' || j === null || !Array.isArray(j.ks)) throw new Error('ranking sums: expected {ks, count, sums}');
    const acc = new RankingAccumulator(j.ks);
    const num = (v: unknown, what: string): number => {
      if (typeof v !== 'number' || !Number.isFinite(v)) throw new Error(`ranking sums: ${what} must be a finite number`);
      return v;
    };
    acc.count = num(j.count, 'count');
    if (acc.count < 0) throw new Error('ranking sums: count must be >= 0');
    const sums = (j.sums ?? {}) as Record<string, unknown>;
    acc.ks.forEach((k, i) => {
      acc.hr[i] = num(sums[`hr@${k}`], `hr@${k}`);
      acc.ndcg[i] = num(sums[`ndcg@${k}`], `ndcg@${k}`);
    });
    acc.mrr = num(sums.mrr, 'mrr');
    return acc;
  }
}

export interface RankingOptions {
  /** Cutoffs K for HR@K and NDCG@K (default [10, 20]). */
  ks?: readonly number[];
  /** Histories scored per scorer call (default 256). */
  batchSize?: number;
  /** Exclude the history's items other than the target from the candidates (default true). */
  excludeSeen?: boolean;
  /** Prefix of the result keys (evaluateRanking only; default none). */
  prefix?: string;
  /** Also adds each case's rank with the history kept among the candidates here (one scoring pass for both). */
  withSeen?: RankingAccumulator;
  onProgress?: (done: number, total: number) => void;
}

/** Calls the scorer batch by batch; `visit` receives the score row offset of each case. */
async function scoreInBatches(
  scorer: BatchScorer,
  cases: EvalCase[],
  numItems: number,
  batchSize: number,
  visit: (c: EvalCase, scores: Float32Array, offset: number) => void,
  onProgress?: (done: number, total: number) => void,
): Promise<void> {
  if (!Number.isInteger(batchSize) || batchSize < 1) throw new Error(`batchSize must be a positive integer, got ${batchSize}`);
  for (let start = 0; start < cases.length; start += batchSize) {
    const batch = cases.slice(start, start + batchSize);
    const scores = await scorer(batch.map((c): History => c.history));
    if (scores.length !== batch.length * numItems) {
      throw new Error(`scorer returned ${scores.length} scores for ${batch.length} histories × ${numItems} items`);
    }
    batch.forEach((c, b) => visit(c, scores, b * numItems));
    onProgress?.(start + batch.length, cases.length);
  }
}

const NO_EXCLUSIONS = new Int32Array(0);

/** Full-ranking sums over the cases (for federated evaluation: merge, then result()). */
export async function accumulateRanking(
  scorer: BatchScorer,
  cases: EvalCase[],
  numItems: number,
  opts: RankingOptions = {},
): Promise<RankingAccumulator> {
  const acc = new RankingAccumulator(opts.ks ?? DEFAULT_KS);
  const excludeSeen = opts.excludeSeen ?? true;
  await scoreInBatches(scorer, cases, numItems, opts.batchSize ?? 256, (c, scores, offset) => {
    acc.add(rankOfTarget(scores, offset, numItems, c.target, excludeSeen ? c.history.items : NO_EXCLUSIONS));
    opts.withSeen?.add(rankOfTarget(scores, offset, numItems, c.target, NO_EXCLUSIONS));
  }, opts.onProgress);
  return acc;
}

/** Full-ranking averages: { users, 'hr@10', 'ndcg@10', 'hr@20', 'ndcg@20', mrr }. */
export async function evaluateRanking(
  scorer: BatchScorer,
  cases: EvalCase[],
  numItems: number,
  opts: RankingOptions = {},
): Promise<Record<string, number>> {
  return (await accumulateRanking(scorer, cases, numItems, opts)).result(opts.prefix ?? '');
}

/** Key prefix of the metrics where the user's own history stays among the candidates (repeat purchases). */
export const INCLUDE_SEEN_PREFIX = 'incl_seen_';

/** Share of cases whose target is already in the history (a repeat); 0 for no cases. */
export function repeatShare(cases: EvalCase[]): number {
  if (cases.length === 0) return 0;
  let repeats = 0;
  for (const c of cases) if (c.history.items.includes(c.target)) repeats++;
  return repeats / cases.length;
}

/**
 * Up to `count` distinct items drawn uniformly from 0..numItems-1 excluding
 * `seen` and `target` (fewer when not enough items are left).
 */
export function sampleNegatives(numItems: number, seen: Int32Array, target: number, count: number, rng: Rng): Int32Array {
  const forbidden = new Set<number>([target]);
  for (const i of seen) if (i >= 0 && i < numItems) forbidden.add(i);
  const available = numItems - forbidden.size;
  const m = Math.max(0, Math.min(count, available));
  if (2 * m < available) {
    const picked = new Set<number>();
    while (picked.size < m) {
      const j = rng.int(numItems);
      if (!forbidden.has(j)) picked.add(j);
    }
    return Int32Array.from(picked);
  }
  const pool: number[] = [];
  for (let j = 0; j < numItems; j++) if (!forbidden.has(j)) pool.push(j);
  for (let k = 0; k < m; k++) {
    const r = k + rng.int(pool.length - k);
    [pool[k], pool[r]] = [pool[r], pool[k]];
  }
  return Int32Array.from(pool.slice(0, m));
}

/** Rank of the target among the negatives only (ties pessimistic, NaN target = last). */
function rankAmongNegatives(scores: Float32Array, offset: number, target: number, negatives: Int32Array): number {
  const t = scores[offset + target];
  if (Number.isNaN(t)) return negatives.length;
  let above = 0;
  for (const j of negatives) if (scores[offset + j] >= t) above++;
  return above;
}

export interface SampledOptions {
  /** Negatives per case (default 100). */
  negatives?: number;
  /** Seed of the negative sampling (default 0); draws follow the order of the cases. */
  seed?: number;
  ks?: readonly number[];
  batchSize?: number;
  onProgress?: (done: number, total: number) => void;
}

/**
 * Legacy sampled protocol: the target is ranked among `negatives` items drawn
 * uniformly without replacement from the items outside history ∪ {target}.
 * Keys: sampled_users, sampled_hr@K, sampled_ndcg@K, sampled_mrr.
 */
export async function evaluateSampled(
  scorer: BatchScorer,
  cases: EvalCase[],
  numItems: number,
  opts: SampledOptions = {},
): Promise<Record<string, number>> {
  const negatives = opts.negatives ?? 100;
  if (!Number.isInteger(negatives) || negatives < 1) throw new Error(`negatives must be a positive integer, got ${negatives}`);
  const acc = new RankingAccumulator(opts.ks ?? DEFAULT_KS);
  const rng = new Rng(opts.seed ?? 0);
  await scoreInBatches(scorer, cases, numItems, opts.batchSize ?? 256, (c, scores, offset) => {
    if (!Number.isInteger(c.target) || c.target < 0 || c.target >= numItems) {
      throw new Error(`evaluateSampled: target ${c.target} is outside 0..${numItems - 1}`);
    }
    const negs = sampleNegatives(numItems, c.history.items, c.target, negatives, rng);
    acc.add(rankAmongNegatives(scores, offset, c.target, negs));
  }, opts.onProgress);
  return acc.result('sampled_');
}
