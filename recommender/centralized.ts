// Centralized training: the baseline federated training is measured against.
// Trains on the leave-one-out training part, tracks validation NDCG@10 every
// `evalEvery` epochs, stops on a plateau (the best evaluation is `patience`
// evaluations old, and at least `plateauFraction` of the run old, once
// `minSteps` optimiser steps are done) and restores the best evaluation's state.
import { INCLUDE_SEEN_PREFIX, RankingAccumulator, accumulateRanking, evaluateSampled } from './metrics.ts';
import { MatrixFactorization, createModel, type Model, type ModelName } from './models/index.ts';
import type { EvalCase, Split } from './types.ts';
import { stepsPerEpoch } from './trainPlan.ts';

export interface CentralizedConfig {
  model: ModelName;
  modelConfig: Record<string, number>;
  epochs: number;
  batchSize: number;
  lr: number;
  seed: number;
  /** Stop after this many evaluations without a better validation NDCG@10 (0 = never stop early). */
  patience: number;
  /** Epochs between validation evaluations (default 1; the last epoch is always evaluated). */
  evalEvery?: number;
  /** The best evaluation must also be this fraction of the epochs run old to stop (default 0). */
  plateauFraction?: number;
  /** Never stop early before this many optimiser steps (default 0). */
  minSteps?: number;
}


export interface EpochLog {
  epoch: number;
  loss: number;
  /** False for epochs between evaluations: their validation metrics are NaN. */
  evaluated: boolean;
  'valid_ndcg@10': number;
  'valid_hr@10': number;
  seconds: number;
}

export interface CentralizedResult {
  model: Model;
  bestEpoch: number;
  /** Seconds from the start of training to the end of the best evaluation. */
  secondsToBest: number;
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
  opts: { sampled?: boolean; seed?: number; includeSeen?: boolean } = {},
): Promise<Record<string, number>> {
  const scorer = (h: Parameters<Model['scoreBatch']>[0]) => model.scoreBatch(h);
  const seen = opts.includeSeen ? new RankingAccumulator() : undefined;
  const full = (await accumulateRanking(scorer, cases, numItems, { withSeen: seen })).result();
  const withSeen = seen ? seen.result(INCLUDE_SEEN_PREFIX) : {};
  delete withSeen[`${INCLUDE_SEEN_PREFIX}users`]; // the same cases as `users`
  const sampled = opts.sampled ? await evaluateSampled(scorer, cases, numItems, { seed: opts.seed ?? 1 }) : {};
  return { ...full, ...withSeen, ...sampled };
}

/** Remembers the best evaluation by validation NDCG@10 and says when the curve has plateaued. */
class BestEpoch {
  epoch = 0;
  private ndcg = -Infinity;
  private state: State | null = null;
  private evaluations = 0;
  private bestEvaluation = 0;

  constructor(
    private readonly patience: number,
    private readonly plateauFraction: number,
    private readonly minEpochs: number,
  ) {}

  /** Records an evaluated epoch; returns 'stop' on a plateau. */
  observe(model: Model, entry: EpochLog): 'stop' | undefined {
    this.evaluations++;
    if (entry['valid_ndcg@10'] > this.ndcg) {
      this.ndcg = entry['valid_ndcg@10'];
      this.epoch = entry.epoch;
      this.bestEvaluation = this.evaluations;
      this.state = snapshot(model);
      return undefined;
    }
    if (this.patience === 0 || entry.epoch < this.minEpochs) return undefined;
    const stale = this.evaluations - this.bestEvaluation >= this.patience;
    const plateau = entry.epoch - this.epoch >= this.plateauFraction * entry.epoch;
    return stale && plateau ? 'stop' : undefined;
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
  const evalEvery = cfg.evalEvery ?? 1;
  if (!Number.isInteger(evalEvery) || evalEvery < 1) throw new Error(`evalEvery must be a positive integer, got ${evalEvery}`);
  const minEpochs = Math.ceil((cfg.minSteps ?? 0) / stepsPerEpoch(cfg.model, split.train, cfg.batchSize));
  const best = new BestEpoch(cfg.patience, cfg.plateauFraction ?? 0, minEpochs);
  let epochsRun = 0;
  let secondsToBest = 0;
  try {
    await model.fitLocal(split.train, {
      epochs: cfg.epochs,
      batchSize: cfg.batchSize,
      lr: cfg.lr,
      seed: cfg.seed,
      onEpoch: async ({ epoch, loss, seconds }) => {
        epochsRun = epoch;
        if (epoch % evalEvery !== 0 && epoch !== cfg.epochs) {
          const entry: EpochLog = { epoch, loss, evaluated: false, 'valid_ndcg@10': NaN, 'valid_hr@10': NaN, seconds };
          log.push(entry);
          onEpoch?.(entry);
          return undefined;
        }
        const t0 = performance.now();
        const valid = await evaluateModel(model, split.valid, numItems);
        const entry: EpochLog = {
          epoch,
          loss,
          evaluated: true,
          'valid_ndcg@10': valid['ndcg@10'],
          'valid_hr@10': valid['hr@10'],
          seconds: seconds + (performance.now() - t0) / 1000,
        };
        log.push(entry);
        onEpoch?.(entry);
        const verdict = best.observe(model, entry);
        if (best.epoch === epoch) secondsToBest = (performance.now() - started) / 1000;
        return verdict;
      },
    });
    best.restoreInto(model, epochsRun);
  } catch (err) {
    model.dispose();
    throw err;
  }
  return { model, bestEpoch: best.epoch, secondsToBest, epochsRun, log, seconds: (performance.now() - started) / 1000 };
}
