// Centralized training: the baseline federated training is measured against.
// Trains on the leave-one-out training part, tracks validation NDCG@10 after
// every epoch, stops after `patience` epochs without improvement and restores
// the best epoch's state.
import { evaluateRanking, evaluateSampled } from './metrics.ts';
import { MatrixFactorization, createModel, type Model, type ModelName } from './models/index.ts';
import type { EvalCase, Split } from './types.ts';

export interface CentralizedConfig {
  model: ModelName;
  modelConfig: Record<string, number>;
  epochs: number;
  batchSize: number;
  lr: number;
  seed: number;
  /** Stop after this many epochs without a better validation NDCG@10 (0 = never stop early). */
  patience: number;
}

/** Per-model training defaults, chosen on the synthetic data's validation split. */
export const TRAIN_DEFAULTS: Record<ModelName, Omit<CentralizedConfig, 'model' | 'modelConfig' | 'seed'>> = {
  sasrec: { epochs: 40, batchSize: 128, lr: 1e-3, patience: 5 },
  mf: { epochs: 30, batchSize: 256, lr: 2e-3, patience: 3 },
};

export interface EpochLog {
  epoch: number;
  loss: number;
  'valid_ndcg@10': number;
  'valid_hr@10': number;
  seconds: number;
}

export interface CentralizedResult {
  model: Model;
  bestEpoch: number;
  epochsRun: number;
  log: EpochLog[];
  seconds: number;
}

interface State {
  weights: Float32Array;
  users?: Map<string, Float32Array>;
}

function snapshot(model: Model): State {
  // MF's user vectors are local state, not weights; fitLocal replaces (never mutates) them.
  return { weights: model.getWeights(), users: model instanceof MatrixFactorization ? new Map(model.users) : undefined };
}

function restore(model: Model, s: State): void {
  model.setWeights(s.weights);
  if (s.users && model instanceof MatrixFactorization) {
    model.users.clear();
    for (const [k, v] of s.users) model.users.set(k, v);
  }
}

export async function evaluateModel(
  model: Model,
  cases: EvalCase[],
  numItems: number,
  opts: { sampled?: boolean; seed?: number } = {},
): Promise<Record<string, number>> {
  const scorer = (h: Parameters<Model['scoreBatch']>[0]) => model.scoreBatch(h);
  const full = await evaluateRanking(scorer, cases, numItems);
  if (!opts.sampled) return full;
  return { ...full, ...(await evaluateSampled(scorer, cases, numItems, { seed: opts.seed ?? 1 })) };
}

/** Remembers the best epoch by validation NDCG@10 and says when patience has run out. */
class BestEpoch {
  epoch = 0;
  private ndcg = -Infinity;
  private state: State | null = null;

  constructor(private readonly patience: number) {}

  /** Records an epoch; returns 'stop' when `patience` epochs passed without improvement. */
  observe(model: Model, entry: EpochLog): 'stop' | undefined {
    if (entry['valid_ndcg@10'] > this.ndcg) {
      this.ndcg = entry['valid_ndcg@10'];
      this.epoch = entry.epoch;
      this.state = snapshot(model);
      return undefined;
    }
    return this.patience > 0 && entry.epoch - this.epoch >= this.patience ? 'stop' : undefined;
  }

  restoreInto(model: Model, lastEpoch: number): void {
    if (this.state && this.epoch !== lastEpoch) restore(model, this.state);
  }
}

export async function trainCentralized(
  split: Split,
  numItems: number,
  cfg: CentralizedConfig,
  onEpoch?: (e: EpochLog) => void,
): Promise<CentralizedResult> {
  const model = createModel(cfg.model, { ...cfg.modelConfig, numItems }, cfg.seed);
  const started = performance.now();
  const log: EpochLog[] = [];
  const best = new BestEpoch(cfg.patience);
  try {
    await model.fitLocal(split.train, {
      epochs: cfg.epochs,
      batchSize: cfg.batchSize,
      lr: cfg.lr,
      seed: cfg.seed,
      onEpoch: async ({ epoch, loss, seconds }) => {
        const t0 = performance.now();
        const valid = await evaluateModel(model, split.valid, numItems);
        const entry: EpochLog = {
          epoch,
          loss,
          'valid_ndcg@10': valid['ndcg@10'],
          'valid_hr@10': valid['hr@10'],
          seconds: seconds + (performance.now() - t0) / 1000,
        };
        log.push(entry);
        onEpoch?.(entry);
        return best.observe(model, entry);
      },
    });
    best.restoreInto(model, log.length);
  } catch (err) {
    model.dispose();
    throw err;
  }
  return { model, bestEpoch: best.epoch, epochsRun: log.length, log, seconds: (performance.now() - started) / 1000 };
}
