// The release without differential privacy: the weighted average of the
// round's updates, with two bounds that keep one registered client from
// destroying the model — a weight cap (and weight ≤ numExamples when updates
// are weighted by examples) and a server-side L2 norm bound on each update
// (Sun et al. 2019, "Can You Really Backdoor Federated Learning?": norm
// bounding), applied by scaling, in float64, never by refusing.
import { ProtocolError, type Update } from '../../protocol/index.ts';
import type { Admitted, Aggregator, LedgerEntry, PlanResult, PrivacyStatus, Released, ReleasePlanner, RoundRelease } from './types.ts';

export interface PlainLimits {
  /** Largest L2 norm of an update; longer ones are scaled down to it (null: no bound). */
  maxUpdateNorm: number | null;
  /** Largest aggregation weight of one update. */
  maxWeight: number;
  /** 'examples': the weight is the client's example count and may not exceed numExamples. */
  weighting: 'examples' | 'uniform';
}

/** The status of a coordinator without differential privacy. */
export const NO_PRIVACY_STATUS: PrivacyStatus = Object.freeze({
  mode: 'none',
  unit: null,
  epsilon: null,
  delta: null,
  targetEpsilon: null,
  rounds: 0,
  noiseMultiplier: null,
  clip: null,
  covered: null,
  exhausted: null,
}) as PrivacyStatus;

export class PlainRelease implements RoundRelease {
  readonly mode = 'none' as const;
  readonly taskPrivacy = { mode: 'none' as const, clipNorm: null, unit: 'client' as const };
  readonly askEveryone = false;
  readonly capSelection = true;
  readonly needsQuorum = true;
  readonly closeAtDeadline = false;

  constructor(private readonly limits: PlainLimits) {}

  check(u: Update): void {
    const max = this.limits.maxWeight;
    if (!(u.weight > 0) || u.weight > max) throw new ProtocolError('schema', `weight must be in (0, ${max}] (limits.maxWeight), got ${u.weight}`);
    if (this.limits.weighting === 'examples' && u.weight > u.numExamples) {
      throw new ProtocolError('schema', `weight ${u.weight} exceeds numExamples ${u.numExamples}: updates are weighted by their examples`);
    }
  }

  admit(u: Update, norm: number): Admitted {
    const max = this.limits.maxUpdateNorm;
    const bounded = max !== null && norm > max;
    return { weight: u.weight, scale: bounded ? max / norm : 1, bounded };
  }

  release(strategy: Aggregator): Released {
    return { delta: strategy.finish().delta, entry: null };
  }
}

/** Every round without DP is the same plain release. */
export class PlainPlanner implements ReleasePlanner {
  readonly mode = 'none' as const;
  private readonly release: PlainRelease;

  constructor(limits: PlainLimits) {
    this.release = new PlainRelease(limits);
  }

  canPlanBeforeClients(): boolean {
    return false;
  }

  plan(): PlanResult {
    return { ok: true, release: this.release };
  }

  commit(_entry: LedgerEntry): void {}

  status(): PrivacyStatus {
    return NO_PRIVACY_STATUS;
  }
}
