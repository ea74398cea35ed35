import { describe, expect, it } from 'vitest';
import type { BatchScorer, EvalCase, History } from '../../recommender/types.ts';
import {
  RankingAccumulator,
  accumulateRanking,
  evaluateRanking,
  evaluateSampled,
  rankOfTarget,
  sampleNegatives,
  INCLUDE_SEEN_PREFIX,
  repeatShare,
} from '../../recommender/metrics.ts';
import { Rng } from '../../recommender/random.ts';

const ROW = Float32Array.from([0.1, 0.9, 0.5, 0.5, 0.3]);
const none = new Int32Array(0);
const ids = (...xs: number[]): Int32Array => Int32Array.from(xs);

function evalCase(user: string, items: number[], target: number): EvalCase {
  return { user, history: { user, items: Int32Array.from(items), types: new Uint8Array(items.length) }, target };
}

/** A scorer that returns a fixed row per history object. */
function tableScorer(rows: Map<History, number[]>, calls: number[] = []): BatchScorer {
  return (histories) => {
    calls.push(histories.length);
    return Float32Array.from(histories.flatMap((h) => rows.get(h)!));
  };
}

describe('rankOfTarget', () => {
  it('counts strictly better items plus ties', () => {
    // target 2 scores 0.5: item 1 (0.9) is better, item 3 (0.5) ties.
    expect(rankOfTarget(ROW, 0, 5, 2, none)).toBe(2);
    expect(rankOfTarget(ROW, 0, 5, 1, none)).toBe(0);
    expect(rankOfTarget(ROW, 0, 5, 0, none)).toBe(4);
    // target 4 scores 0.3: items 1, 2, 3 are above.
    expect(rankOfTarget(ROW, 0, 5, 4, none)).toBe(3);
  });

  it('drops excluded (seen) items from the candidates', () => {
    expect(rankOfTarget(ROW, 0, 5, 2, ids(1))).toBe(1);
    expect(rankOfTarget(ROW, 0, 5, 4, ids(2))).toBe(2);
    // duplicates and out-of-range ids (padding) are harmless
    expect(rankOfTarget(ROW, 0, 5, 2, ids(1, 3, 3, 1, -1, 7))).toBe(0);
    // excluding worse items changes nothing
    expect(rankOfTarget(ROW, 0, 5, 2, ids(0, 4))).toBe(2);
  });

  it('keeps the target a candidate even when it was seen', () => {
    expect(rankOfTarget(ROW, 0, 5, 1, ids(1, 0))).toBe(0);
    expect(rankOfTarget(ROW, 0, 5, 2, ids(2, 1))).toBe(1);
  });

  it('gives a NaN target the worst rank among the candidates', () => {
    const row = Float32Array.from([Number.NaN, 0.2, 0.1, 0.4, 0.3]);
    expect(rankOfTarget(row, 0, 5, 0, none)).toBe(4);
    expect(rankOfTarget(row, 0, 5, 0, ids(3, 3))).toBe(3); // 4 candidates left
  });

  it('ranks items with NaN scores below the target', () => {
    expect(rankOfTarget(Float32Array.from([0.2, Number.NaN, 0.1]), 0, 3, 0, none)).toBe(0);
  });

  it('reads the row at the offset', () => {
    const two = Float32Array.from([9, 9, 9, 9, 9, ...ROW]);
    expect(rankOfTarget(two, 5, 5, 2, ids(1))).toBe(1);
    expect(() => rankOfTarget(two, 6, 5, 2, none)).toThrow(/exceeds/);
    expect(() => rankOfTarget(ROW, 0, 5, 5, none)).toThrow(/target 5/);
  });

  it('counts a constant scorer as the worst rank', () => {
    expect(rankOfTarget(new Float32Array(5), 0, 5, 3, ids(0))).toBe(3);
  });
});

describe('RankingAccumulator', () => {
  it('computes HR, NDCG and MRR from ranks', () => {
    const acc = new RankingAccumulator([1, 3]);
    acc.add(0);
    acc.add(1);
    acc.add(4);
    const r = acc.result();
    expect(r.users).toBe(3);
    expect(r['hr@1']).toBeCloseTo(1 / 3, 12);
    expect(r['hr@3']).toBeCloseTo(2 / 3, 12);
    expect(r['ndcg@1']).toBeCloseTo(1 / 3, 12);
    expect(r['ndcg@3']).toBeCloseTo((1 + 1 / Math.log2(3)) / 3, 12);
    expect(r.mrr).toBeCloseTo((1 + 1 / 2 + 1 / 5) / 3, 12);
    expect(Object.keys(r)).toEqual(['users', 'hr@1', 'ndcg@1', 'hr@3', 'ndcg@3', 'mrr']);
  });

  it('uses the default cutoffs 10 and 20', () => {
    const acc = new RankingAccumulator();
    acc.add(12);
    const r = acc.result();
    expect(r['hr@10']).toBe(0);
    expect(r['ndcg@10']).toBe(0);
    expect(r['hr@20']).toBe(1);
    expect(r['ndcg@20']).toBeCloseTo(1 / Math.log2(14), 12);
    expect(r.mrr).toBeCloseTo(1 / 13, 12);
    expect(acc.sums).toEqual({ 'hr@10': 0, 'ndcg@10': 0, 'hr@20': 1, 'ndcg@20': r['ndcg@20'], mrr: r.mrr });
  });

  it('merges sums like one big accumulator', () => {
    const a = new RankingAccumulator();
    const b = new RankingAccumulator();
    const all = new RankingAccumulator();
    [0, 3, 15, 40].forEach((r) => (a.add(r), all.add(r)));
    [1, 9].forEach((r) => (b.add(r), all.add(r)));
    const merged = a.merge(b).result();
    const expected = all.result();
    for (const key of Object.keys(expected)) expect(merged[key]).toBeCloseTo(expected[key], 12);
    expect(merged.users).toBe(6);
    expect(() => a.merge(new RankingAccumulator([5]))).toThrow(/cutoffs/);
  });

  it('round-trips through JSON and validates untrusted input', () => {
    const a = new RankingAccumulator([5, 10]);
    [0, 2, 7].forEach((r) => a.add(r));
    const b = RankingAccumulator.fromJSON(JSON.parse(JSON.stringify(a)));
    expect(b.result()).toEqual(a.result());
    expect(b.toJSON()).toEqual({ ks: [5, 10], count: 3, sums: a.sums });
    expect(() => RankingAccumulator.fromJSON(null)).toThrow();
    expect(() => RankingAccumulator.fromJSON({ ks: [10], count: 1, sums: { 'hr@10': 1, mrr: 1 } })).toThrow(/ndcg@10/);
    expect(() => RankingAccumulator.fromJSON({ ks: [10], count: -1, sums: {} })).toThrow(/count/);
    expect(() => RankingAccumulator.fromJSON({ ks: [0], count: 1, sums: {} })).toThrow(/cutoff/);
  });

  it('reports zeros for no cases and rejects bad ranks', () => {
    expect(new RankingAccumulator([10]).result('x_')).toEqual({ x_users: 0, 'x_hr@10': 0, 'x_ndcg@10': 0, x_mrr: 0 });
    expect(() => new RankingAccumulator().add(-1)).toThrow();
    expect(() => new RankingAccumulator().add(1.5)).toThrow();
  });
});

describe('evaluateRanking', () => {
  const a = evalCase('a', [1], 2); // rank 1 (item 3 ties, item 1 seen)
  const b = evalCase('b', [], 1); // rank 0
  const c = evalCase('c', [0], 0); // all others better: rank 4
  const rows = new Map<History, number[]>([
    [a.history, [0.1, 0.9, 0.5, 0.5, 0.3]],
    [b.history, [0.1, 0.9, 0.5, 0.5, 0.3]],
    [c.history, [0, 1, 2, 3, 4]],
  ]);

  it('averages hand-computed ranks over batches', async () => {
    const calls: number[] = [];
    const progress: Array<[number, number]> = [];
    const r = await evaluateRanking(tableScorer(rows, calls), [a, b, c], 5, {
      ks: [1, 3],
      batchSize: 2,
      onProgress: (done, total) => progress.push([done, total]),
    });
    expect(calls).toEqual([2, 1]);
    expect(progress).toEqual([
      [2, 3],
      [3, 3],
    ]);
    expect(r.users).toBe(3);
    expect(r['hr@1']).toBeCloseTo(1 / 3, 12);
    expect(r['hr@3']).toBeCloseTo(2 / 3, 12);
    expect(r['ndcg@3']).toBeCloseTo((1 / Math.log2(3) + 1) / 3, 12);
    expect(r.mrr).toBeCloseTo((1 / 2 + 1 + 1 / 5) / 3, 12);
  });

  it('keeps seen items as candidates when excludeSeen is false', async () => {
    // case a: item 1 (0.9) and item 3 (tie) are above the target → rank 2
    const r = await evaluateRanking(tableScorer(rows), [a], 5, { ks: [2, 3], excludeSeen: false });
    expect(r['hr@2']).toBe(0);
    expect(r['hr@3']).toBe(1);
    expect(r.mrr).toBeCloseTo(1 / 3, 12);
  });

  it('e-commerce protocol: a repeat target, seen items excluded vs included, and the repeat share', async () => {
    // d: the user bought items 1 and 3 before and buys 3 again (a repeat).
    // scores [0.1, 0.9, 0.5, 0.7, 0.3]; target 3 (0.7).
    // seen excluded: item 1 (0.9) is excluded, the target stays a candidate → rank 0.
    // seen included: item 1 (0.9) is above → rank 1.
    const d = evalCase('d', [1, 3], 3);
    const table = new Map<History, number[]>([[d.history, [0.1, 0.9, 0.5, 0.7, 0.3]], [b.history, [0.1, 0.9, 0.5, 0.5, 0.3]]]);
    const excl = await evaluateRanking(tableScorer(table), [d, b], 5, { ks: [1] });
    const incl = await evaluateRanking(tableScorer(table), [d, b], 5, { ks: [1], excludeSeen: false, prefix: INCLUDE_SEEN_PREFIX });
    expect(excl['hr@1']).toBe(1); // d rank 0, b rank 0
    expect(incl['incl_seen_hr@1']).toBe(0.5); // d rank 1, b rank 0
    expect(incl['incl_seen_mrr']).toBeCloseTo((1 / 2 + 1) / 2, 12);
    expect(Object.keys(incl).every((k) => k.startsWith('incl_seen_'))).toBe(true);
    // one scoring pass can fill both: the same hand-computed ranks (d: 0 and 1, b: 0 and 0)
    const both = new RankingAccumulator([1]);
    const calls: number[] = [];
    const main = await accumulateRanking(tableScorer(table, calls), [d, b], 5, { ks: [1], withSeen: both });
    expect(calls).toEqual([2]);
    expect(main.result()['hr@1']).toBe(1);
    expect(both.result()['hr@1']).toBe(0.5);
    expect(repeatShare([d, b, a])).toBeCloseTo(1 / 3, 12);
    expect(repeatShare([])).toBe(0);
  });

  it('uses the default keys and exposes sums via accumulateRanking', async () => {
    const r = await evaluateRanking(tableScorer(rows), [a, b, c], 5);
    expect(Object.keys(r).sort()).toEqual(['hr@10', 'hr@20', 'mrr', 'ndcg@10', 'ndcg@20', 'users']);
    expect(r['hr@10']).toBe(1);
    const acc = await accumulateRanking(tableScorer(rows), [a, b, c], 5);
    expect(acc.count).toBe(3);
    expect(acc.sums.mrr).toBeCloseTo(1 / 2 + 1 + 1 / 5, 12);
  });

  it('accepts async scorers and rejects wrongly shaped output', async () => {
    const asyncScorer: BatchScorer = async (hs) => Float32Array.from(hs.flatMap((h) => rows.get(h)!));
    expect((await evaluateRanking(asyncScorer, [b], 5)).mrr).toBe(1);
    const short: BatchScorer = (hs) => new Float32Array(hs.length * 4);
    await expect(evaluateRanking(short, [a, b], 5)).rejects.toThrow(/8 scores for 2 histories × 5 items/);
  });
});

describe('sampleNegatives', () => {
  it('draws distinct items outside history and target', () => {
    const rng = new Rng(1);
    for (let t = 0; t < 200; t++) {
      const negs = Array.from(sampleNegatives(20, ids(0, 1, 2), 3, 5, rng));
      expect(new Set(negs).size).toBe(5);
      for (const j of negs) expect(j >= 4 && j < 20).toBe(true);
    }
  });

  it('returns all remaining items when fewer than requested', () => {
    const negs = sampleNegatives(5, ids(0, 1), 2, 100, new Rng(3));
    expect(Array.from(negs).sort()).toEqual([3, 4]);
  });

  it('is roughly uniform over the allowed items', () => {
    const rng = new Rng(2);
    const counts = new Array<number>(10).fill(0);
    for (let t = 0; t < 4000; t++) for (const j of sampleNegatives(10, ids(0), 1, 4, rng)) counts[j]++;
    expect(counts[0] + counts[1]).toBe(0);
    // each of the 8 allowed items is picked with probability 4/8 per draw
    for (let j = 2; j < 10; j++) expect(Math.abs(counts[j] - 2000)).toBeLessThan(150);
  });
});

describe('evaluateSampled', () => {
  const numItems = 1000;
  const cases = Array.from({ length: 30 }, (_, u) => evalCase(`u${u}`, [u, u + 100, u + 200], 500 + u));
  const targetOf = new Map(cases.map((c) => [c.history, c.target]));
  const scorerBy =
    (score: (item: number, target: number, history: Int32Array) => number): BatchScorer =>
    (hs) => {
      const out = new Float32Array(hs.length * numItems);
      hs.forEach((h, b) => {
        for (let j = 0; j < numItems; j++) out[b * numItems + j] = score(j, targetOf.get(h)!, h.items);
      });
      return out;
    };

  it('gives HR = 1 when the target is the best item', async () => {
    const r = await evaluateSampled(scorerBy((j, t) => (j === t ? 1 : 0)), cases, numItems, { seed: 4 });
    expect(r['sampled_hr@10']).toBe(1);
    expect(r['sampled_ndcg@10']).toBe(1);
    expect(r.sampled_mrr).toBe(1);
    expect(r.sampled_users).toBe(30);
    for (const key of Object.keys(r)) expect(key.startsWith('sampled_')).toBe(true);
  });

  it('never uses history items as negatives', async () => {
    // history items outrank the target, but they are not candidates
    const scorer = scorerBy((j, t, hist) => (hist.includes(j) ? 2 : j === t ? 1 : 0));
    expect((await evaluateSampled(scorer, cases, numItems)).sampled_mrr).toBe(1);
  });

  it('counts ties pessimistically: a constant scorer ranks the target last', async () => {
    const r = await evaluateSampled(scorerBy(() => 0), cases, numItems, { negatives: 50 });
    expect(r['sampled_hr@20']).toBe(0);
    expect(r.sampled_mrr).toBeCloseTo(1 / 51, 12);
  });

  it('ranks against the sampled negatives only', async () => {
    // score = item id; target 500+u; negatives are uniform over ~996 items, so about
    // half of the 100 outrank it: the rank is far from both 0 and the full-catalog rank (~497).
    const r = await evaluateSampled(scorerBy((j) => j), cases, numItems, { seed: 9 });
    expect(1 / r.sampled_mrr).toBeGreaterThan(30);
    expect(1 / r.sampled_mrr).toBeLessThan(70);
  });

  it('is deterministic for a seed', async () => {
    const scorer = scorerBy((j) => (j * 7919) % 1000);
    const x = await evaluateSampled(scorer, cases, numItems, { seed: 1 });
    const y = await evaluateSampled(scorer, cases, numItems, { seed: 1 });
    expect(x).toEqual(y);
  });
});
