// The Model interface every recommender implements (see ARCHITECTURE.md).
import type { History, UserSequence } from '../types.ts';
import type { WeightSpec } from './params.ts';

export type ModelName = 'sasrec' | 'mf';
export const MODEL_NAMES: readonly ModelName[] = ['sasrec', 'mf'];

export interface ModelSpec {
  model: ModelName;
  /** Hyper-parameters that fix the weight shapes (numItems, dim, ...). */
  config: Record<string, number>;
  /** Named shapes of the shared weights, in the order of the flat vector. */
  weights: WeightSpec[];
  /** Total number of shared values. */
  size: number;
}

export const LOCAL_OPTIMIZERS = ['adam', 'sgd'] as const;
export type LocalOptimizer = (typeof LOCAL_OPTIMIZERS)[number];

export interface FitOptions {
  epochs: number;
  batchSize: number;
  lr: number;
  /** FedProx: adds (mu/2)·||w − w_global||² to the loss; w_global = weights when fitLocal starts. */
  proxMu?: number;
  /** Local optimizer: 'adam' (default; betas 0.9/0.98) or plain 'sgd' (what DP-FedAvg clients use). */
  optimizer?: LocalOptimizer;
  seed: number;
  /**
   * Called after each epoch; a returned promise is awaited. Returning 'stop'
   * ends training after this epoch (early stopping).
   */
  onEpoch?: (e: EpochReport) => EpochVerdict | Promise<EpochVerdict>;
}

export type EpochVerdict = void | 'continue' | 'stop';

export interface EpochReport {
  epoch: number;
  loss: number;
  seconds: number;
}

export interface FitResult {
  /** Mean training loss of the last epoch. */
  loss: number;
  /** Epochs actually run (fewer than asked when onEpoch said 'stop'). */
  epochs: number;
  steps: number;
  /** Training examples seen in one epoch (sequences for SASRec, positives for MF). */
  examples: number;
  seconds: number;
}

export interface RecommendOptions {
  /** Keep items already in the history among the candidates (default false). */
  includeSeen?: boolean;
}

export interface Model {
  readonly spec: ModelSpec;
  getWeights(): Float32Array;
  setWeights(flat: Float32Array): void;
  fitLocal(sequences: UserSequence[], opts: FitOptions): Promise<FitResult>;
  /** Scores of every catalog item for each history, row-major [histories.length, numItems]. */
  scoreBatch(histories: History[]): Float32Array;
  /** Top-k catalog indices for one history, best first. */
  recommend(history: History, k: number, opts?: RecommendOptions): number[];
  dispose(): void;
}
