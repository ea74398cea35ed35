// Training defaults chosen from the data: each rule against a hand computation,
// the same data always giving the same plan, and a reason printed for every choice.
import { describe, expect, it } from 'vitest';
import { planTraining, quantile, stepsPerEpoch, PLAN_RULES, centralizedConfig } from '../../recommender/trainPlan.ts';
import type { UserSequence } from '../../recommender/types.ts';

function users(lengths: number[]): UserSequence[] {
  return lengths.map((n, u) => ({
    user: `u${u}`,
    items: Int32Array.from({ length: n }, (_, i) => (u + i) % 50),
    types: new Uint8Array(n),
    ts: new Float64Array(n),
  }));
}

describe('quantile', () => {
  it('is the nearest-rank quantile', () => {
    // 10 values: the 0.9 quantile is the 9th smallest (ceil(0.9·10) = 9).
    expect(quantile([10, 1, 9, 2, 8, 3, 7, 4, 6, 5], 0.9)).toBe(9);
    expect(quantile([5], 0.9)).toBe(5);
    expect(quantile([], 0.9)).toBe(0);
  });
});

describe('planTraining (sasrec)', () => {
  it('max-len is the 90th percentile of training lengths, rounded up to tens, within 10..200', () => {
    // 20 users with lengths 1..20 → p90 = 18 → 20.
    expect(planTraining('sasrec', users(Array.from({ length: 20 }, (_, i) => i + 1)), 50).modelConfig.maxLen).toBe(20);
    // long histories are capped at 200
    expect(planTraining('sasrec', users([300, 400, 500]), 50).modelConfig.maxLen).toBe(200);
    // very short ones get the floor of 10
    expect(planTraining('sasrec', users([2, 3, 4]), 50).modelConfig.maxLen).toBe(10);
    // 90 users of 31 and 10 of 500: p90 = 31 → 40 (the long tail does not set L)
    expect(planTraining('sasrec', users([...Array(90).fill(31), ...Array(10).fill(500)]), 50).modelConfig.maxLen).toBe(40);
  });

  it('dim is 64 with at least 5 training interactions per item on average, else 32', () => {
    // 10 users × 10 interactions = 100; 20 items → 5 per item → 64; 21 items → 4.76 → 32.
    expect(planTraining('sasrec', users(Array(10).fill(10)), 20).modelConfig.dim).toBe(64);
    expect(planTraining('sasrec', users(Array(10).fill(10)), 21).modelConfig.dim).toBe(32);
  });

  it('sampled softmax with 256 negatives per user (at most items − 1) by default; gbce (t 0.75) and bce on request', () => {
    const d = planTraining('sasrec', users([5, 6]), 1000);
    expect(d.modelConfig).toMatchObject({ negatives: 256, softmax: 1, gbceT: 0 });
    expect(planTraining('sasrec', users([5, 6]), 40).modelConfig.negatives).toBe(39);
    const g = planTraining('sasrec', users([5, 6]), 1000, { loss: 'gbce' });
    expect(g.modelConfig).toMatchObject({ negatives: 256, gbceT: 0.75 });
    expect(g.modelConfig.softmax ?? 0).toBe(0);
    const b = planTraining('sasrec', users([5, 6]), 1000, { loss: 'bce' });
    expect(b.modelConfig.negatives).toBe(1);
    expect(b.modelConfig.gbceT).toBe(0);
    expect(b.modelConfig.softmax ?? 0).toBe(0);
  });

  it('halves the batch from 128 (not below 16) until an epoch has at least 16 steps', () => {
    // 640 sequences: 128 → 5 steps, 64 → 10, 32 → 20 ≥ 16 → batch 32
    expect(planTraining('sasrec', users(Array(640).fill(5)), 50).batchSize).toBe(32);
    // 10,000 sequences: 79 steps at 128 → 128
    expect(planTraining('sasrec', users(Array(10000).fill(3)), 50).batchSize).toBe(128);
    // 50 sequences: never below 16 (4 steps)
    expect(planTraining('sasrec', users(Array(50).fill(3)), 50).batchSize).toBe(16);
    // users with one interaction are no sasrec example
    expect(stepsPerEpoch('sasrec', users([1, 1, 1, 2]), 128)).toBe(1);
  });

  it('evaluates about every 32 optimiser steps', () => {
    // 640 sequences at batch 32 → 20 steps per epoch → every ceil(32/20) = 2 epochs
    expect(planTraining('sasrec', users(Array(640).fill(5)), 50).evalEvery).toBe(2);
    // with batch 128 given: 5 steps → every ceil(32/5) = 7 epochs
    expect(stepsPerEpoch('sasrec', users(Array(640).fill(5)), 128)).toBe(5);
    expect(planTraining('sasrec', users(Array(640).fill(5)), 50, { batchSize: 128 }).evalEvery).toBe(7);
    // 10,000 users → 79 steps → every epoch
    expect(planTraining('sasrec', users(Array(10000).fill(3)), 50).evalEvery).toBe(1);
  });

  it('given values win and are reported as given', () => {
    const p = planTraining('sasrec', users([50, 60]), 100, { maxLen: 77, dim: 16, evalEvery: 3, patience: 2, maxEpochs: 9, negatives: 8, gbceT: 0.5, loss: 'gbce' });
    expect(p.modelConfig).toMatchObject({ maxLen: 77, dim: 16, negatives: 8, gbceT: 0.5 });
    expect(p).toMatchObject({ evalEvery: 3, patience: 2, maxEpochs: 9 });
    expect(p.reasons.join('\n')).toMatch(/max-len 77 \(given\)/);
    expect(p.reasons.join('\n')).toMatch(/dim 16 \(given\)/);
  });

  it('is deterministic and explains every choice', () => {
    const data = users([12, 40, 7, 90, 33]);
    const a = planTraining('sasrec', data, 60);
    expect(planTraining('sasrec', data, 60)).toEqual(a);
    const text = a.reasons.join('\n');
    for (const what of ['dim', 'max-len', 'loss', 'batch', 'validation every', 'stop when']) expect(text).toContain(what);
    // the numbers in the reasons are the data's: p90 of [7,12,33,40,90] is 90 → max-len 90
    expect(a.modelConfig.maxLen).toBe(90);
    expect(text).toContain('at most 90 training interactions');
    expect(centralizedConfig(a, 3)).toMatchObject({ seed: 3, evalEvery: a.evalEvery, patience: PLAN_RULES.patience, plateauFraction: 1 / 3, minSteps: 1000 });
  });
});

describe('planTraining refuses flags that would be ignored', () => {
  it('names the flag and what it applies to', () => {
    expect(() => planTraining('sasrec', users([5]), 50, { gbceT: 0.5 })).toThrow(/--gbce-t applies to --loss gbce/);
    expect(() => planTraining('sasrec', users([5]), 50, { loss: 'bce', gbceT: 0.5 })).toThrow(/--gbce-t/);
    expect(() => planTraining('sasrec', users([5]), 50, { loss: 'softmax', negatives: 1 })).toThrow(/--negatives 2 or more/);
    expect(() => planTraining('mf', users([5]), 50, { loss: 'bce' })).toThrow(/sasrec only/);
    expect(() => planTraining('mf', users([5]), 50, { maxLen: 20 })).toThrow(/sasrec only/);
  });
});

describe('planTraining (mf)', () => {
  it('counts one step per batch of interactions and has no sequence length', () => {
    // 100 users × 30 interactions = 3000 positives, batch 256 → 12 steps → every 3 epochs.
    const p = planTraining('mf', users(Array(100).fill(30)), 40);
    expect(p.modelConfig.maxLen).toBeUndefined();
    expect(p.batchSize).toBe(256);
    expect(p.evalEvery).toBe(3);
  });
});
