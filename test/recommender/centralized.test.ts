// trainCentralized: validation after every epoch, early stopping with patience,
// and restoring the best epoch's state (weights, and MF's local user vectors).
import { beforeAll, describe, expect, it } from 'vitest';
import { tf } from '../../recommender/tf.ts';
import { initBackend } from '../../recommender/backend/index.ts';
import { evaluateModel, trainCentralized, type CentralizedConfig, type EpochLog } from '../../recommender/centralized.ts';
import { buildDataset } from '../../recommender/dataset.ts';
import type { ModelName } from '../../recommender/models/index.ts';
import { leaveOneOut } from '../../recommender/split.ts';
import { generateSynthetic } from '../../recommender/synthetic.ts';
import type { Split } from '../../recommender/types.ts';

const MODEL_CONFIG: Record<ModelName, Record<string, number>> = {
  sasrec: { dim: 8, maxLen: 10, blocks: 1 },
  mf: { dim: 8 },
};

let split: Split;
let numItems: number;

beforeAll(async () => {
  await initBackend('cpu');
  const syn = generateSynthetic({ users: 60, items: 40, categories: 4, length: 12 });
  const ds = await buildDataset(syn.events, { items: syn.items });
  split = leaveOneOut(ds.sequences);
  numItems = ds.catalog.size;
  expect(numItems).toBe(40);
  expect(split.valid.length).toBe(60); // every synthetic user has >= 5 interactions
});

function config(model: ModelName, over: Partial<CentralizedConfig>): CentralizedConfig {
  return { model, modelConfig: MODEL_CONFIG[model], epochs: 8, batchSize: 32, lr: 0.01, seed: 1, patience: 2, ...over };
}

describe.each(['mf', 'sasrec'] as ModelName[])('trainCentralized (%s)', (model) => {
  it('stops after `patience` epochs when validation cannot improve (weights frozen by a vanishing lr)', async () => {
    // lr 1e-10: Adam moves each weight by ~1e-10, below float32 resolution of the
    // initial weights, so every epoch scores the same; epoch 1 stays the best (a
    // tie is not an improvement) and training stops at epoch 1 + patience.
    const seen: EpochLog[] = [];
    const r = await trainCentralized(split, numItems, config(model, { lr: 1e-10, epochs: 20, patience: 2 }), (e) => seen.push(e));
    try {
      const ndcgs = r.log.map((e) => e['valid_ndcg@10']);
      expect(new Set(ndcgs).size).toBe(1); // the premise: validation did not move
      expect(r.bestEpoch).toBe(1);
      expect(r.epochsRun).toBe(3);
      expect(r.log.map((e) => e.epoch)).toEqual([1, 2, 3]);
      expect(seen).toEqual(r.log); // the callback saw every entry, in order
    } finally {
      r.model.dispose();
    }
  });

  it('patience 0 never stops early', async () => {
    const r = await trainCentralized(split, numItems, config(model, { lr: 1e-10, epochs: 4, patience: 0 }));
    try {
      expect(r.epochsRun).toBe(4);
      expect(r.log.length).toBe(4);
      expect(r.bestEpoch).toBe(1);
    } finally {
      r.model.dispose();
    }
  });

  it('early-stops after the best epoch + patience and returns the best epoch’s model', async () => {
    // A high lr overfits the tiny data, so validation peaks before the last epoch.
    const patience = 2;
    const epochs = 8;
    const r = await trainCentralized(split, numItems, config(model, { lr: 0.05, epochs, patience }));
    try {
      const ndcgs = r.log.map((e) => e['valid_ndcg@10']);
      expect(r.epochsRun).toBe(r.log.length);
      expect(r.log.map((e) => e.epoch)).toEqual(Array.from({ length: r.epochsRun }, (_, i) => i + 1));
      for (const e of r.log) {
        expect(Number.isFinite(e.loss)).toBe(true);
        expect(e['valid_ndcg@10']).toBeGreaterThanOrEqual(0);
        expect(e['valid_ndcg@10']).toBeLessThanOrEqual(1);
        expect(e['valid_hr@10']).toBeGreaterThanOrEqual(e['valid_ndcg@10']); // NDCG gain ≤ 1 per hit
      }
      // best epoch = first epoch with the maximal validation NDCG@10
      const max = Math.max(...ndcgs);
      expect(r.bestEpoch).toBe(ndcgs.indexOf(max) + 1);
      // never trains more than patience epochs past the best; stopping early means exactly that many
      expect(r.epochsRun).toBeLessThanOrEqual(r.bestEpoch + patience);
      if (r.epochsRun < epochs) expect(r.epochsRun).toBe(r.bestEpoch + patience);
      // the premise of this test: the last epoch is not the best, so a restore had to happen
      expect(r.bestEpoch).toBeLessThan(r.epochsRun);
      expect(ndcgs[r.epochsRun - 1]).toBeLessThan(max);
      // the returned model is the best epoch's (for MF that includes its user vectors)
      const valid = await evaluateModel(r.model, split.valid, numItems);
      expect(valid['ndcg@10']).toBeCloseTo(max, 12);
      expect(valid['hr@10']).toBeCloseTo(r.log[r.bestEpoch - 1]['valid_hr@10'], 12);
    } finally {
      r.model.dispose();
    }
  });
});

describe('the plateau rule (evaluations, a fraction of the run, a step floor)', () => {
  // A vanishing lr freezes validation NDCG@10 at its first value: the first evaluation is the best.
  const frozen = (over: Partial<CentralizedConfig>) => config('sasrec', { lr: 1e-10, epochs: 20, ...over });

  it('evaluates every evalEvery epochs and counts patience in evaluations', async () => {
    const r = await trainCentralized(split, numItems, frozen({ evalEvery: 3, patience: 2 }));
    r.model.dispose();
    // the premise: the vanishing lr really froze validation NDCG@10
    const evaluated = r.log.filter((e) => e.evaluated).map((e) => e['valid_ndcg@10']);
    expect(new Set(evaluated).size).toBe(1);
    // evaluations at 3, 6, 9: best at 3, two evaluations later → stop at 9
    expect(r.log.filter((e) => e.evaluated).map((e) => e.epoch)).toEqual([3, 6, 9]);
    expect(r.epochsRun).toBe(9);
    expect(r.bestEpoch).toBe(3);
    expect(r.log.filter((e) => !e.evaluated).every((e) => Number.isNaN(e['valid_ndcg@10']))).toBe(true);
  });

  it('the best evaluation must also be plateauFraction of the run old', async () => {
    // best at 2; patience 1 would stop at 4, but 4 − 2 < 0.75 · 4; 6 − 2 < 4.5; 8 − 2 ≥ 6 → stop at 8
    const r = await trainCentralized(split, numItems, frozen({ evalEvery: 2, patience: 1, plateauFraction: 0.75 }));
    r.model.dispose();
    expect(r.epochsRun).toBe(8);
  });

  it('never stops before minSteps optimiser steps', async () => {
    // 60 users, batch 32 → 2 steps per epoch; 10 steps → not before epoch 5 (patience 1 alone stops at 2)
    const r = await trainCentralized(split, numItems, frozen({ patience: 1, minSteps: 10 }));
    r.model.dispose();
    expect(r.epochsRun).toBe(5);
  });

  it('always evaluates the last epoch', async () => {
    const r = await trainCentralized(split, numItems, frozen({ epochs: 5, evalEvery: 3, patience: 0 }));
    r.model.dispose();
    expect(r.log.filter((e) => e.evaluated).map((e) => e.epoch)).toEqual([3, 5]);
  });
});

it('a failed trainCentralized disposes the model it created', async () => {
  const before = tf.memory().numTensors;
  await expect(trainCentralized(split, numItems, config('mf', { lr: NaN }))).rejects.toThrow(/lr/);
  expect(tf.memory().numTensors).toBe(before);
});
