// Exact discrete Laplace sampler: P[X = x] ∝ exp(−|x|/scale), x ∈ ℤ, for a
// rational scale = t/s. Integer arithmetic only.
//
// Reference: Canonne, Kamath & Steinke 2020, "The Discrete Gaussian for
// Differential Privacy" (arXiv:2004.00010), Algorithm 2.
import { type Rational, bernoulliExpNegUnchecked, checkRational } from './bernoulli.ts';
import { type RandomSource, WordRandomSource, defaultRandomSource } from './random.ts';

function uniformBelowFast(rng: RandomSource, n: bigint): bigint {
  if (n <= 0x1_0000_0000n && rng instanceof WordRandomSource) return BigInt(rng.uniformBelowNumber(Number(n)));
  return rng.uniformBelow(n);
}

/**
 * Discrete Laplace with scale t/s for positive integers s, t (no validation).
 * Exported for the discrete Gaussian sampler, which calls it with s = 1.
 */
export function discreteLaplaceUnchecked(rng: RandomSource, t: bigint, s: bigint): bigint {
  for (;;) {
    // CKS20 Algorithm 2, step 1: U uniform on {0, …, t−1}.
    const u = uniformBelowFast(rng, t);
    // CKS20 Algorithm 2, step 2: D ~ Bernoulli(exp(−U/t)); if D = 0, restart.
    if (!bernoulliExpNegUnchecked(rng, u, t)) continue;
    // CKS20 Algorithm 2, steps 3–4: V = number of successes of Bernoulli(exp(−1)) before the first failure (geometric).
    let v = 0n;
    while (bernoulliExpNegUnchecked(rng, 1n, 1n)) v++;
    // CKS20 Algorithm 2, step 5: X = U + t·V (geometric with parameter exp(−1/t)).
    const x = u + t * v;
    // CKS20 Algorithm 2, step 6: Y = ⌊X/s⌋ (geometric with parameter exp(−s/t)).
    const y = x / s;
    // CKS20 Algorithm 2, step 7: B ~ Bernoulli(1/2); if B = 1 and Y = 0, restart (so 0 is not counted twice).
    const b = rng.bit();
    if (b && y === 0n) continue;
    // CKS20 Algorithm 2, step 8: return Z = (1 − 2B)·Y.
    return b ? -y : y;
  }
}

/**
 * A sample from the discrete Laplace distribution with P[x] ∝ exp(−|x|/scale),
 * scale = num/den > 0 given exactly as a rational (CKS20 Algorithm 2 with t = num, s = den).
 */
export function sampleDiscreteLaplace(scale: Rational, rng: RandomSource = defaultRandomSource()): bigint {
  checkRational('sampleDiscreteLaplace(scale)', scale);
  if (scale.num === 0n) throw new RangeError('sampleDiscreteLaplace: scale must be > 0');
  return discreteLaplaceUnchecked(rng, scale.num, scale.den);
}
