// The round's release, as DESIGN.md's `RoundRelease`: a planner decides,
// before a round starts, what it will release (plan); the release gives the
// task its privacy fields (task), checks and bounds each update (check,
// admit), turns the round's sum into the delta the server step applies and,
// under DP, the round's ledger entry (release); the engine commits the entry
// with the model and hands it back to the planner (commit). One object per
// round, one typed ledger entry, one format. Secure aggregation and
// distributed noise will plug in as other releases.
import type { Task, Update } from '../../protocol/index.ts';

/** What a round's privacy plan fixes before it starts (and its ledger entry records). */
export interface PlannedPrivacy {
  /** Sampling rate the accountant charges. */
  q: number;
  /** False when fixed-size client selection chose the clients (not covered by the Poisson analysis). */
  covered: boolean;
  /** z the accountant charges. */
  noiseMultiplier: number;
  /** z_Δ of the update noise (> z with adaptive clipping; the count took the rest). */
  updateNoiseMultiplier: number;
  /** σ_b of the clipped-count noise (adaptive clipping), else null. */
  countNoise: number | null;
  clipNorm: number;
}

/** The privacy ledger entry of a released round: written in its RoundRecord, replayed at start. */
export interface LedgerEntry extends PlannedPrivacy {
  mode: 'central';
  unit: 'user' | 'client';
  /** Always true: the accountant was (or, at replay, is) charged for this round. */
  charged: true;
  /** The clip of the next round (adaptive: moved by the noised count; fixed: unchanged). */
  nextClipNorm: number;
  fractionUnderClip: number | null;
  /** W: the most contributions one update could carry (its projection radius is W·C). */
  maxContributions: number;
  /** Float rounding's share of the sensitivity (privacy/central/sensitivity.ts). */
  sensitivitySlack: number;
  /** The fixed denominator: q × population. */
  expectedContributions: number;
  /** Realised contributions (the operator's; the public API leaves it out). */
  contributions: number;
  /** Noise standard deviation per value, in model units, before dividing. */
  noiseStddev: number;
  epsilon: number;
  delta: number;
  order: number;
  targetEpsilon: number;
}

/** ε spent and the budget, for /api/privacy and the metrics. */
export interface PrivacyStatus {
  mode: 'central' | 'none';
  unit: 'user' | 'client' | null;
  epsilon: number | null;
  delta: number | null;
  targetEpsilon: number | null;
  rounds: number;
  noiseMultiplier: number | null;
  clip: number | null;
  covered: boolean | null;
  exhausted: string | null;
}

/** How an accepted update is folded: with this weight, scaled by `scale` ∈ [0, 1] (a norm bound or projection, in float64). */
export interface Admitted {
  weight: number;
  scale: number;
  /** Whether the bound shortened it. */
  bounded: boolean;
}

/** What a round releases: the averaged delta, and under DP its ledger entry. */
export interface Released {
  delta: Float32Array;
  entry: LedgerEntry | null;
}

/** What a release needs of the strategy: its weighted average, or its raw float64 sum. */
export interface Aggregator {
  finish(): { delta: Float32Array };
  sum(): Float64Array;
}

export interface RoundRelease {
  readonly mode: 'none' | 'central';
  /** The task's privacy block. */
  readonly taskPrivacy: Task['privacy'];
  /** Every connected client is asked (user-level DP: each samples its own users). */
  readonly askEveryone: boolean;
  /** Whether the selection cap (rounds.maxClients) may drop sampled clients (never under DP: that would not be charged). */
  readonly capSelection: boolean;
  /** A round that misses its quorum is abandoned (plain), or still released (DP: abandoning would publish the count). */
  readonly needsQuorum: boolean;
  /** Close at the deadline, never at the last arrival (DP: timing would reveal the realised sample). */
  readonly closeAtDeadline: boolean;
  /** Cheap checks before the signature is verified (weight, clip count); throws ProtocolError. */
  check(update: Update): void;
  /** Bounds a decoded update (norm bound or projection) and counts it; never refuses. */
  admit(update: Update, norm: number): Admitted;
  /** The averaged delta and, under DP, the noise and the ledger entry. Throws ReleaseError when nothing can be released. */
  release(strategy: Aggregator): Released;
}

/** A round that could not be released; `entry` is set when noise was drawn (the round is charged anyway). */
export class ReleaseError extends Error {
  override name = 'ReleaseError';
  constructor(
    message: string,
    readonly entry: LedgerEntry | null = null,
  ) {
    super(message);
  }
}

/** A refused plan is either the budget running out (`exhausted`) or settings that cannot work. */
export type PlanResult = { ok: true; release: RoundRelease } | { ok: false; exhausted: boolean; reason: string };

/** Plans every round's release and takes back the released rounds' ledger entries. */
export interface ReleasePlanner {
  readonly mode: 'none' | 'central';
  /** Whether plan() may run before clients connect (a spent budget shows at once after a restart). */
  canPlanBeforeClients(): boolean;
  /** The next round's release given the clients eligible now, or why it must not run. */
  plan(eligible: number): PlanResult;
  /** A released round's entry, after its record is committed: charges the accountant. */
  commit(entry: LedgerEntry): void;
  status(): PrivacyStatus;
}
