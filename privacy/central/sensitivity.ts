// How far one contribution can move what the coordinator releases, float
// rounding included. The noise is calibrated to this bound, so every step
// between a user's data and the released sum is in it.
//
// Neighbouring data sets D, D' differ in one contribution (one user at unit
// 'user', one client's whole data at unit 'client'). With u = 2⁻⁵³ (float64
// unit roundoff), γ(k) = k·u/(1 − k·u) (Higham, Accuracy and Stability of
// Numerical Algorithms, 2nd ed., Lemma 3.1), C the clip norm, W the most
// contributions one update may carry (the projection radius is W·C), n the
// most updates in one round and d the model size:
//
// 1. The client (ContributionSum): each clipped contribution (‖δ‖ ≤ C) is
//    rounded to a fixed-point grid of step C·2⁻²⁶ and the integers are added
//    exactly in float64. Only the differing contribution changes, by at most
//    C·(1 + √d·2⁻²⁶) (half a step per coordinate, rounded up to a step).
// 2. The client projects the exact sum onto the ball of radius W·C in float64
//    (1-Lipschitz when exact; the computed norm and scaling are off by at most
//    γ(d + 4)·W·C per sum, two sums) and rounds it to float32 (relative 2⁻²⁴
//    per value: at most 2⁻²⁴·W·C·(1 + γ(d + 4)) per sum, two sums).
// 3. The coordinator projects each float32 update onto the same ball
//    (1-Lipschitz; computed with error γ(d + 3)·W·C), adds the n projected
//    updates in float64 (error at most γ(n)·n·W·C, Higham eq. 4.4) and
//    multiplies by 1/γ_grid (relative u per value: u·n·W·C): each for D and D'.
//
// So ‖release(D) − release(D')‖₂ ≤ C·(1 + slack) with
//   slack = √d·2⁻²⁶ + 2⁻²³·W·(1 + γ(d+4)) + 2·γ(d+4)·W
//         + 2·(1 + 2⁻²³)·W·(γ(d+3) + n·γ(n) + n·u),
// before the grid rounding's own √d grid units (gridNoise.ts). At d = 10⁶,
// W = n = 1000 the slack is about 1.4·10⁻⁴ (0.014% of C).
// Browser-safe.

/** Bits of the client's fixed-point grid: step C·2⁻ᴮ per value. */
export const CONTRIBUTION_GRID_BITS = 26;

/** Contributions one client sum may hold before its integers could leave float64's exact range (2⁵³ / 2²⁶). */
export const MAX_CONTRIBUTIONS_PER_SUM = 2 ** (53 - CONTRIBUTION_GRID_BITS - 1);

const U = 2 ** -53;

/** γ(k) = k·u/(1 − k·u): the relative error bound of k float64 operations (Higham, Lemma 3.1). */
export function gamma(k: number): number {
  if (!(k >= 0) || k * U >= 1) throw new RangeError(`gamma: k·u must be in [0, 1), got k = ${k}`);
  return (k * U) / (1 - k * U);
}

export interface SensitivityBounds {
  /** d: values in the model. */
  size: number;
  /** W: the most contributions one update may carry (the projection radius is W·C); 1 at unit 'client'. */
  maxWeight: number;
  /** n: the most updates folded into one round's sum. */
  maxUpdates: number;
}

function checkBounds(b: SensitivityBounds): void {
  for (const [k, v] of Object.entries(b)) {
    if (!Number.isSafeInteger(v) || v < 1) throw new RangeError(`${k} must be a positive integer, got ${v}`);
  }
}

/** The float rounding terms of one client's update, relative to C (steps 1–2 above). */
export function clientSlack(b: Pick<SensitivityBounds, 'size' | 'maxWeight'>): number {
  const { size: d, maxWeight: W } = b;
  return Math.sqrt(d) * 2 ** -CONTRIBUTION_GRID_BITS + 2 ** -23 * W * (1 + gamma(d + 4)) + 2 * gamma(d + 4) * W;
}

/** Every float rounding term between a contribution and the released sum, relative to C (steps 1–3 above). */
export function releaseSlack(b: SensitivityBounds): number {
  checkBounds(b);
  const { size: d, maxWeight: W, maxUpdates: n } = b;
  return clientSlack(b) + 2 * (1 + 2 ** -23) * W * (gamma(d + 3) + n * gamma(n) + n * U);
}
