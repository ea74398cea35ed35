// Centralized training defaults chosen from the data, with the reason for each
// choice, so `fedrec train` needs no tuning flags. Browser-safe.
//
// The rules are stated in quantities that transfer between data sets (sequence
// length percentiles, interactions per item, optimiser steps), not constants
// fitted to one set:
// - max-len: the 90th percentile of the users' training sequence lengths,
//   rounded up to a multiple of 10, within [10, 200]: the model reads the
//   whole history of 9 users in 10; attention costs grow with L².
// - dim: 64 when the catalog's items have at least 5 training interactions on
//   average, else 32: an item's embedding row is learned only from the
//   interactions it appears in, and a wider row on little signal overfits.
// - loss (sasrec): a sampled softmax over the target and 256 negatives per
//   user (at most the catalog minus one; Klenitskiy & Vasilev, RecSys 2023):
//   on the synthetic data and ml-latest-small it beat the reference BCE and
//   gSASRec's gBCE (README "Results"). gBCE (`loss: 'gbce'`, t = 0.75, the
//   setting of Petrov & Macdonald, RecSys 2023, §6) and BCE with one negative
//   per position stay selectable.
// - batch (sasrec): 128 sequences, halved (down to 16) while an epoch would
//   have fewer than 16 optimiser steps: on a small data set the number of
//   updates, not the work per update, limits how fast training converges.
// - stopping: validation NDCG@10 every ⌈32 / steps-per-epoch⌉ epochs (about
//   32 optimiser steps between evaluations, so a small data set is not
//   evaluated after every handful of steps), stop when the best evaluation is
//   `patience` evaluations old and at least a third of the run old (the curve
//   has plateaued, not just paused), never before 1,000 optimiser steps (an
//   early popularity plateau is not the end), at most `maxEpochs` epochs as a
//   safety net.
import type { ModelName } from './models/index.ts';
import type { UserSequence } from './types.ts';
import type { CentralizedConfig } from './centralized.ts';

export const LOSSES = ['softmax', 'gbce', 'bce'] as const;
export type LossName = (typeof LOSSES)[number];

export interface TrainOverrides {
  dim?: number;
  maxLen?: number;
  blocks?: number;
  heads?: number;
  dropout?: number;
  negatives?: number;
  loss?: LossName;
  gbceT?: number;
  batchSize?: number;
  lr?: number;
  evalEvery?: number;
  patience?: number;
  maxEpochs?: number;
  minSteps?: number;
}

export interface TrainPlan {
  model: ModelName;
  modelConfig: Record<string, number>;
  batchSize: number;
  lr: number;
  /** Epochs between validation evaluations. */
  evalEvery: number;
  /** Evaluations without a better validation NDCG@10 before stopping (0 = never stop early). */
  patience: number;
  /** The best evaluation must also be this fraction of the run old to stop. */
  plateauFraction: number;
  /** No early stop before this many optimiser steps. */
  minSteps: number;
  maxEpochs: number;
  /** One line per choice: the value and why (or the flag that set it). */
  reasons: string[];
}

export const PLAN_RULES = {
  maxLenPercentile: 0.9,
  maxLenRange: [10, 200] as const,
  wideDimMinInteractionsPerItem: 5,
  dims: { narrow: 32, wide: 64 },
  gbceNegatives: 256,
  gbceT: 0.75,
  minStepsPerEpoch: 16,
  minBatch: 16,
  stepsPerEvaluation: 32,
  patience: 5,
  plateauFraction: 1 / 3,
  minSteps: 1000,
  maxEpochs: 1000,
};

const BATCH: Record<ModelName, number> = { sasrec: 128, mf: 256 };
const LR: Record<ModelName, number> = { sasrec: 1e-3, mf: 2e-3 };

/** The q-quantile (nearest rank) of the values; 0 for none. */
export function quantile(values: number[], q: number): number {
  if (values.length === 0) return 0;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))];
}

/** Optimiser steps in one epoch: sasrec trains one example per user with ≥ 2 items, mf one per interaction. */
export function stepsPerEpoch(model: ModelName, train: UserSequence[], batchSize: number): number {
  const examples =
    model === 'sasrec' ? train.filter((s) => s.items.length >= 2).length : train.reduce((n, s) => n + s.items.length, 0);
  return Math.max(1, Math.ceil(examples / batchSize));
}

export function planTraining(model: ModelName, train: UserSequence[], numItems: number, o: TrainOverrides = {}): TrainPlan {
  const R = PLAN_RULES;
  const reasons: string[] = [];
  const given = (flag: string, value: number | string) => reasons.push(`${flag} ${value} (given)`);
  const interactions = train.reduce((n, s) => n + s.items.length, 0);
  const perItem = interactions / Math.max(1, numItems);
  const modelConfig: Record<string, number> = {};

  if (model === 'mf' && (o.loss !== undefined || o.gbceT !== undefined || o.maxLen !== undefined)) {
    throw new Error('--loss, --gbce-t and --max-len apply to sasrec only');
  }
  if (o.gbceT !== undefined && (o.loss ?? 'softmax') !== 'gbce') throw new Error('--gbce-t applies to --loss gbce only');
  if (o.loss === 'softmax' && o.negatives !== undefined && o.negatives < 2) throw new Error('--loss softmax needs --negatives 2 or more');
  let dim = o.dim;
  if (dim !== undefined) given('dim', dim);
  else {
    dim = perItem >= R.wideDimMinInteractionsPerItem ? R.dims.wide : R.dims.narrow;
    reasons.push(
      `dim ${dim}: ${perItem.toFixed(1)} training interactions per item on average ` +
        `(${perItem >= R.wideDimMinInteractionsPerItem ? '≥' : '<'} ${R.wideDimMinInteractionsPerItem})`,
    );
  }
  modelConfig.dim = dim;

  if (model === 'sasrec') {
    let maxLen = o.maxLen;
    if (maxLen !== undefined) given('max-len', maxLen);
    else {
      const p = quantile(train.map((s) => s.items.length), R.maxLenPercentile);
      const [lo, hi] = R.maxLenRange;
      maxLen = Math.min(hi, Math.max(lo, Math.ceil(p / 10) * 10));
      reasons.push(`max-len ${maxLen}: 90 % of users have at most ${p} training interactions (rounded up to tens, within ${lo}..${hi})`);
    }
    modelConfig.maxLen = maxLen;
    for (const k of ['blocks', 'heads', 'dropout'] as const) if (o[k] !== undefined) modelConfig[k] = o[k]!;

    const loss: LossName = o.loss ?? 'softmax';
    if (loss === 'softmax') {
      const negatives = o.negatives ?? Math.max(2, Math.min(R.gbceNegatives, numItems - 1));
      Object.assign(modelConfig, { negatives, gbceT: 0, softmax: 1 });
      reasons.push(`loss softmax over the target and ${negatives} negatives per user${o.negatives === undefined ? ` (${R.gbceNegatives}, at most items − 1)` : ' (given)'}`);
    } else if (loss === 'gbce') {
      const negatives = o.negatives ?? Math.max(1, Math.min(R.gbceNegatives, numItems - 1));
      const t = o.gbceT ?? R.gbceT;
      modelConfig.negatives = negatives;
      modelConfig.gbceT = t;
      reasons.push(
        `loss gbce, ${negatives} negatives${o.negatives === undefined ? ` (${R.gbceNegatives}, at most items − 1)` : ' (given)'}, ` +
          `t ${t}${o.gbceT === undefined ? ' (gSASRec, Petrov & Macdonald 2023)' : ' (given)'}`,
      );
    } else {
      modelConfig.negatives = o.negatives ?? 1;
      modelConfig.gbceT = 0;
      reasons.push(`loss bce, ${modelConfig.negatives} negative${modelConfig.negatives === 1 ? ' per position (SASRec reference)' : 's per user'}`);
    }
  } else if (o.negatives !== undefined) {
    modelConfig.negatives = o.negatives;
  }

  let batchSize = o.batchSize;
  if (batchSize !== undefined) given('batch', batchSize);
  else if (model === 'mf') batchSize = BATCH.mf;
  else {
    // halve from 128 while an epoch would have fewer than minStepsPerEpoch steps (never below 16)
    const examples = train.filter((s) => s.items.length >= 2).length;
    batchSize = BATCH.sasrec;
    while (batchSize > R.minBatch && Math.ceil(examples / batchSize) < R.minStepsPerEpoch) batchSize /= 2;
    reasons.push(`batch ${batchSize}: ${examples} training sequences, at least ${R.minStepsPerEpoch} optimiser steps per epoch (batch ${R.minBatch}..${BATCH.sasrec})`);
  }
  const lr = o.lr ?? LR[model];
  const steps = stepsPerEpoch(model, train, batchSize);
  let evalEvery = o.evalEvery;
  if (evalEvery !== undefined) given('eval-every', evalEvery);
  else {
    evalEvery = Math.max(1, Math.ceil(R.stepsPerEvaluation / steps));
    reasons.push(`validation every ${evalEvery} epoch${evalEvery === 1 ? '' : 's'}: ${steps} optimiser steps per epoch, about ${R.stepsPerEvaluation} steps between evaluations`);
  }
  const patience = o.patience ?? R.patience;
  const minSteps = o.minSteps ?? R.minSteps;
  const maxEpochs = o.maxEpochs ?? R.maxEpochs;
  reasons.push(
    patience === 0
      ? `no early stopping; ${maxEpochs} epochs`
      : `stop when the best validation NDCG@10 is ${patience} evaluations and a third of the run old, not before ${minSteps} steps ` +
          `(${Math.ceil(minSteps / steps)} epochs); at most ${maxEpochs} epochs`,
  );
  return { model, modelConfig, batchSize, lr, evalEvery, patience, plateauFraction: R.plateauFraction, minSteps, maxEpochs, reasons };
}

/** The trainCentralized configuration that carries out a plan. */
export function centralizedConfig(plan: TrainPlan, seed: number): CentralizedConfig {
  return {
    model: plan.model,
    modelConfig: plan.modelConfig,
    epochs: plan.maxEpochs,
    batchSize: plan.batchSize,
    lr: plan.lr,
    patience: plan.patience,
    evalEvery: plan.evalEvery,
    plateauFraction: plan.plateauFraction,
    minSteps: plan.minSteps,
    seed,
  };
}
