/** Noise calibration: the smallest noise multiplier meeting an (ε, δ) target. */
import { computeRdp, DEFAULT_RDP_ORDERS } from './rdp.ts';
import { epsilonFromRdp } from './conversion.ts';

export interface CalibrateOptions {
  /** Target ε (must be >= 0). */
  targetEpsilon: number;
  delta: number;
  /** Poisson sampling rate per round. */
  q: number;
  /** Planned number of rounds. */
  rounds: number;
  orders?: readonly number[];
  /** Absolute tolerance on z; the answer z satisfies ε(z - tolerance) > target. Default 1e-4. */
  tolerance?: number;
  /** Largest noise multiplier to try before declaring the target unreachable. Default 1e4. */
  maxNoiseMultiplier?: number;
}

export function epsilonFor(q: number, noiseMultiplier: number, rounds: number, delta: number, orders: readonly number[] = DEFAULT_RDP_ORDERS): number {
  return epsilonFromRdp(orders, computeRdp(q, noiseMultiplier, rounds, orders), delta).epsilon;
}

/**
 * Smallest z (to within `tolerance`) with ε(q, z, rounds, δ) ≤ targetEpsilon, by bisection.
 * ε is non-increasing in z because each order's RDP is. Throws if even maxNoiseMultiplier misses the target.
 */
export function calibrateNoiseMultiplier(opts: CalibrateOptions): number {
  const { targetEpsilon, delta, q, rounds } = opts;
  const orders = opts.orders ?? DEFAULT_RDP_ORDERS;
  const tol = opts.tolerance ?? 1e-4;
  const maxZ = opts.maxNoiseMultiplier ?? 1e4;
  if (!(targetEpsilon >= 0) || !Number.isFinite(targetEpsilon)) throw new RangeError(`targetEpsilon must be a finite number >= 0; got ${targetEpsilon}.`);
  if (!(delta > 0 && delta < 1)) throw new RangeError(`delta must be in (0, 1); got ${delta}.`);
  if (!(tol > 0)) throw new RangeError(`tolerance must be > 0; got ${tol}.`);
  const eps = (z: number): number => epsilonFor(q, z, rounds, delta, orders);
  if (eps(0) <= targetEpsilon) return 0; // q = 0 or zero rounds: nothing is spent.
  let lo = 0; // invariant: eps(lo) > target
  let hi = Math.min(1, maxZ); // grow until eps(hi) <= target
  while (eps(hi) > targetEpsilon) {
    if (hi >= maxZ) {
      throw new RangeError(
        `Target ε = ${targetEpsilon} at δ = ${delta} is unreachable for q = ${q} over ${rounds} rounds ` +
          `with noise multiplier ≤ ${maxZ} (ε there is ${eps(maxZ)}); raise the budget, lower q or rounds, or raise maxNoiseMultiplier.`,
      );
    }
    lo = hi;
    hi = Math.min(hi * 2, maxZ);
  }
  while (hi - lo > tol) {
    const mid = lo + (hi - lo) / 2;
    if (eps(mid) <= targetEpsilon) hi = mid;
    else lo = mid;
  }
  return hi;
}
