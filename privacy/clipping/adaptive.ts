// Adaptive clipping (Andrew, Thakkar, McMahan & Ramaswamy 2021, "Differentially
// Private Learning with Adaptive Clipping"): the clip norm follows a target
// quantile of the contributions' update norms, estimated from a noised count of
// contributions that were under the clip.
//
// Each contribution reports b − 1/2 with b = 1[‖Δ‖ ≤ C] (sensitivity 1/2); on
// the wire it is the integer Σ(2b − 1), twice that sum, with noise of standard
// deviation 2σ_b. The fraction under the clip is
//   b̄ = (Σ(2b − 1) + N(0, (2σ_b)²)) / (2·expected) + 1/2,
// and the clip moves geometrically, C ← C·exp(−η·(b̄ − γ)).

export interface AdaptiveClipConfig {
  /** The first round's clip norm. */
  initialNorm: number;
  /** Target quantile γ of the update norms (default 0.5: the median). */
  targetQuantile: number;
  /** Learning rate η of the geometric update (default 0.2). */
  learningRate: number;
  /** Standard deviation σ_b of the count noise; default COUNT_NOISE_FRACTION × expected contributions. */
  countNoise?: number;
}

export const ADAPTIVE_CLIP_DEFAULTS = { targetQuantile: 0.5, learningRate: 0.2, countNoiseFraction: 0.05 } as const;

/**
 * The noise multiplier left for the update sum when the count is released with
 * noise σ_b and the round as a whole must have noise multiplier z:
 * z_Δ = (z⁻² − (2σ_b)⁻²)^(−1/2) (Andrew et al. 2021, Theorem 1). Throws when the
 * count noise alone would exceed the budget (2σ_b ≤ z).
 */
export function updateNoiseMultiplier(noiseMultiplier: number, countStddev: number): number {
  if (!(noiseMultiplier > 0) || !Number.isFinite(noiseMultiplier)) throw new RangeError(`noise multiplier must be > 0, got ${noiseMultiplier}`);
  if (!(countStddev > 0) || !Number.isFinite(countStddev)) throw new RangeError(`count noise must be > 0, got ${countStddev}`);
  const rest = noiseMultiplier ** -2 - (2 * countStddev) ** -2;
  if (!(rest > 0)) {
    throw new RangeError(
      `adaptive clipping: count noise σ_b = ${countStddev} is too small for noise multiplier ${noiseMultiplier} ` +
        `(needs 2σ_b > z, i.e. σ_b > ${noiseMultiplier / 2}); raise countNoise or the expected number of contributions`,
    );
  }
  return rest ** -0.5;
}

/** b̄: the estimated fraction of contributions under the clip from the noised Σ(2b − 1). */
export function fractionUnderClip(noisySignedCount: number, expectedContributions: number): number {
  return noisySignedCount / (2 * expectedContributions) + 0.5;
}

/** The next clip norm: C·exp(−η·(b̄ − γ)) (Andrew et al. 2021, geometric update). */
export function nextClipNorm(clipNorm: number, fractionUnder: number, targetQuantile: number, learningRate: number): number {
  return clipNorm * Math.exp(-learningRate * (fractionUnder - targetQuantile));
}
