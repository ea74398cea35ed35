// One round's release under central DP (DP-FedAvg, McMahan et al. 2018): the
// task's privacy fields; each update projected onto the ball of radius W·C
// (never refused on its weight or norm: a 1-Lipschitz map keeps the
// sensitivity at C plus float terms, privacy/central/sensitivity.ts); the sum
// rounded to a grid and noised with the exact discrete Gaussian; divided by
// the EXPECTED number of contributions; an adaptive clip moved by a noised
// count; and the round's ledger entry.
import { ProtocolError, type Task, type Update } from '../../protocol/index.ts';
import {
  addGridNoise,
  fractionUnderClip,
  nextClipNorm,
  noisyCount,
  planGridNoise,
  type RandomSource,
} from '../../privacy/index.ts';
import { ReleaseError, type Admitted, type Aggregator, type LedgerEntry, type PlannedPrivacy, type Released, type RoundRelease } from './types.ts';

/** What one round will release, fixed before it starts. */
export interface RoundPlan extends PlannedPrivacy {
  /** The fixed denominator: expected contributions. */
  expected: number;
  epsilon: number;
  order: number;
}

/** What a central release needs besides its plan. */
export interface CentralContext {
  unit: 'user' | 'client';
  /** W: the most contributions one update may carry (1 at unit 'client'). */
  maxContributions: number;
  /** unit 'user': each user's training uses at most their last N interactions. */
  maxInteractionsPerUser: number;
  /** n: the most updates one round can fold. */
  maxUpdates: number;
  size: number;
  delta: number;
  targetEpsilon: number;
  adaptive: { targetQuantile: number; learningRate: number } | null;
  /** Keeps an adaptive clip within its bounds. */
  clampClip: (c: number) => number;
  random: RandomSource;
  closeAtDeadline: boolean;
}

export class CentralRelease implements RoundRelease {
  readonly mode = 'central' as const;
  readonly needsQuorum = false;
  readonly capSelection = false;
  readonly askEveryone: boolean;
  readonly closeAtDeadline: boolean;
  readonly taskPrivacy: Task['privacy'];
  /** Σ of the admitted updates' weights, each at most W (realised contributions: the operator's record only). */
  private contributions = 0;
  /** Σ of their clip counts (adaptive clipping). */
  private clipCountSum = 0;

  constructor(
    readonly plan: RoundPlan,
    private readonly ctx: CentralContext,
  ) {
    this.askEveryone = ctx.unit === 'user';
    this.closeAtDeadline = ctx.closeAtDeadline;
    this.taskPrivacy = {
      mode: 'central',
      clipNorm: plan.clipNorm,
      unit: ctx.unit,
      ...(ctx.unit === 'user' ? { sampleRate: plan.q, maxContributions: ctx.maxContributions, maxInteractionsPerUser: ctx.maxInteractionsPerUser } : {}),
      ...(plan.countNoise !== null ? { reportClipCount: true } : {}),
      noiseMultiplier: plan.noiseMultiplier,
      targetEpsilon: ctx.targetEpsilon,
      delta: ctx.delta,
    };
  }

  /** The projection radius W·C. */
  get radius(): number {
    return this.ctx.maxContributions * this.plan.clipNorm;
  }

  check(u: Update): void {
    if (!Number.isSafeInteger(u.weight) || u.weight < 0) throw new ProtocolError('schema', `weight must be the number of contributions, an integer >= 0, got ${u.weight}`);
    if (this.plan.countNoise === null) return;
    const k = u.clipCount;
    if (k === undefined) throw new ProtocolError('schema', 'clipCount is required: this round uses adaptive clipping');
    if (Math.abs(k) > u.weight || (u.weight - k) % 2 !== 0) {
      throw new ProtocolError('schema', `clipCount ${k} is impossible for ${u.weight} contributions (it is a sum of ${u.weight} values of +1 or -1)`);
    }
  }

  admit(u: Update, norm: number): Admitted {
    const r = this.radius;
    const bounded = norm > r;
    const w = this.ctx.maxContributions;
    // like the sum, one update's share of the count is bounded by W: clamping to [−W, W] is 1-Lipschitz, so one
    // contribution still moves the count by at most 1, and no merchant can steer the adaptive clip alone
    this.contributions += Math.min(u.weight, w);
    this.clipCountSum += Math.max(-w, Math.min(w, u.clipCount ?? 0));
    return { weight: u.weight, scale: bounded ? r / norm : 1, bounded };
  }

  /** The clip norm for the next round (adaptive: from the noised clipped count; fixed: unchanged). */
  private nextClip(): { next: number; fractionUnder: number | null } {
    const a = this.ctx.adaptive;
    const p = this.plan;
    if (!a || p.countNoise === null) return { next: p.clipNorm, fractionUnder: null };
    const noisy = noisyCount(this.clipCountSum, 2 * p.countNoise, this.ctx.random);
    const fractionUnder = fractionUnderClip(noisy, p.expected);
    return { next: this.ctx.clampClip(nextClipNorm(p.clipNorm, fractionUnder, a.targetQuantile, a.learningRate)), fractionUnder };
  }

  release(strategy: Aggregator): Released {
    const p = this.plan;
    const c = this.ctx;
    const grid = planGridNoise(p.clipNorm, p.updateNoiseMultiplier, c.size, { maxWeight: c.maxContributions, maxUpdates: c.maxUpdates });
    const sum = strategy.sum();
    try {
      addGridNoise(sum, grid, c.random);
    } catch (err) {
      throw new ReleaseError(`nothing released: ${(err as Error).message}`);
    }
    const clip = this.nextClip();
    const entry: LedgerEntry = {
      mode: 'central',
      unit: c.unit,
      charged: true,
      q: p.q,
      covered: p.covered,
      noiseMultiplier: p.noiseMultiplier,
      updateNoiseMultiplier: p.updateNoiseMultiplier,
      countNoise: p.countNoise,
      clipNorm: p.clipNorm,
      nextClipNorm: clip.next,
      fractionUnderClip: clip.fractionUnder,
      maxContributions: c.maxContributions,
      sensitivitySlack: grid.slack,
      expectedContributions: p.expected,
      contributions: this.contributions,
      noiseStddev: grid.stddev,
      epsilon: p.epsilon,
      delta: c.delta,
      order: p.order,
      targetEpsilon: c.targetEpsilon,
    };
    const delta = new Float32Array(sum.length);
    for (let i = 0; i < delta.length; i++) delta[i] = sum[i] / p.expected; // divided in float64, rounded once
    return { delta, entry };
  }
}
