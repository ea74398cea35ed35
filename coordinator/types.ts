// Shared types of the coordinator: the Strategy interface and the RoundRecord,
// the one record of everything a round decided (see ARCHITECTURE.md).
import type { LedgerEntry } from './release/types.ts';

/** Server-side optimizer state, saved with each checkpoint so a restart resumes it exactly. */
export interface StrategyState {
  name: string;
  /** Server steps taken so far. */
  step: number;
  /** Named vectors (e.g. momentum, first/second moments), each the model's size. */
  vectors: Record<string, Float32Array>;
  /** Scalar hyper-parameters the state was made with (checked on restore). */
  params: Record<string, number | string | boolean>;
}

export interface Aggregate {
  /** The averaged delta the server step applies. */
  delta: Float32Array;
  /** Sum of the weights of the folded updates. */
  totalWeight: number;
  /** Number of folded updates. */
  count: number;
}

/**
 * A federated optimisation strategy. Streaming on the way in: `add` folds one
 * accepted update into a running sum (memory O(model), not O(clients × model));
 * `finish` yields the averaged delta; `apply` is the server step.
 */
export interface Strategy {
  readonly name: string;
  /** Values per update (the model's size). */
  readonly size: number;
  /** Start a round: clears the running sum. */
  begin(): void;
  /**
   * Folds one accepted update (client delta = local − global) with its weight;
   * `scale` in [0, 1] (default 1) shortens it without changing its weight
   * (the engine's norm bound or DP projection, applied in float64).
   */
  add(delta: Float32Array, weight: number, scale?: number): void;
  /** Updates folded this round. */
  readonly count: number;
  /** Σ of the folded updates' weights. */
  readonly totalWeight: number;
  /** The weighted average: sum / totalWeight (float64 division, one rounding). */
  finish(): Aggregate;
  /** A float64 copy of the weighted sum (central DP noises it and divides by the expected count). */
  sum(): Float64Array;
  /** Server step: the next global weights from the current ones and the averaged delta. */
  apply(global: Float32Array, delta: Float32Array): Float32Array;
  state(): StrategyState;
  restore(state: StrategyState): void;
}

export type RoundOutcome = 'committed' | 'abandoned' | 'budget-exhausted';

export interface Refusal {
  clientId: string;
  code: string;
  message: string;
  at: number;
}

/** Everything a round decided. One JSON line per round in the store's rounds log. */
export interface RoundRecord {
  round: number;
  outcome: RoundOutcome;
  /** Model version the round trained from, and the one it produced (same when abandoned). */
  fromVersion: number;
  modelVersion: number;
  lineage: string;
  strategy: string;
  selected: string[];
  /** Accepted updates; `bounded` when the norm bound (or the DP projection) shortened one. */
  participants: Array<{ clientId: string; weight: number; numExamples: number; loss?: number; bounded?: boolean }>;
  /** The first MAX_LISTED_REFUSALS refusals of the round. */
  refusals: Refusal[];
  /** Refusals beyond the first MAX_LISTED_REFUSALS, counted but not listed (a flooding client cannot grow the record). */
  refusalsNotListed?: number;
  /** Every refusal of the round by reason code, listed or not. */
  refusalCounts?: Record<string, number>;
  /** Why an abandoned round was abandoned. */
  reason?: string;
  /** The DP ledger entry of a round the accountant charged (central mode). */
  privacy?: LedgerEntry;
  metrics: Record<string, number>;
  timings: { startedAt: number; deadline: number; closedAt: number; committedAt?: number; aggregateMs?: number };
}
