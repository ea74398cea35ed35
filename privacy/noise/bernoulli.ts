// Exact Bernoulli samplers with rational parameters (integer arithmetic only).
//
// Reference: C. Canonne, G. Kamath, T. Steinke, "The Discrete Gaussian for
// Differential Privacy", NeurIPS 2020 (arXiv:2004.00010), Section 5.
import { type RandomSource, WordRandomSource, defaultRandomSource } from './random.ts';

/** A non-negative rational num/den with den > 0. */
export interface Rational {
  num: bigint;
  den: bigint;
}

const TWO_32 = 0x1_0000_0000n;

function checkRational(name: string, r: Rational): void {
  if (r === null || typeof r !== 'object' || typeof r.num !== 'bigint' || typeof r.den !== 'bigint') {
    throw new TypeError(`${name}: expected {num: bigint, den: bigint}`);
  }
  if (r.den <= 0n) throw new RangeError(`${name}: denominator must be > 0, got ${r.den}`);
  if (r.num < 0n) throw new RangeError(`${name}: must be ≥ 0, got ${r.num}/${r.den}`);
}

/**
 * Bernoulli(num/den) for 0 ≤ num ≤ den, den ≥ 1, without validation.
 * One exact uniform draw: P[U < num] = num/den for U uniform on [0, den).
 */
export function bernoulliRatioUnchecked(rng: RandomSource, num: bigint, den: bigint): boolean {
  if (num <= 0n) return false;
  if (num >= den) return true;
  if (den <= TWO_32 && rng instanceof WordRandomSource) {
    // Same exact draw, but with JS integers (< 2^32, so exact) to avoid BigInt allocation.
    return rng.uniformBelowNumber(Number(den)) < Number(num);
  }
  return rng.uniformBelow(den) < num;
}

/** Bernoulli(p) for a rational p = num/den ∈ [0, 1]. */
export function sampleBernoulli(p: Rational, rng: RandomSource = defaultRandomSource()): boolean {
  checkRational('sampleBernoulli(p)', p);
  if (p.num > p.den) throw new RangeError(`sampleBernoulli: p must be ≤ 1, got ${p.num}/${p.den}`);
  return bernoulliRatioUnchecked(rng, p.num, p.den);
}

/** Bernoulli(exp(−num/den)) for 0 ≤ num/den ≤ 1 (no validation). */
function bernoulliExpNegUnit(rng: RandomSource, num: bigint, den: bigint): boolean {
  // CKS20 Algorithm 1, γ ∈ [0,1]: draw A_k ~ Bernoulli(γ/k) for k = 1, 2, … until the first A_k = 0; output 1 iff that k is odd.
  let k = 1n;
  while (bernoulliRatioUnchecked(rng, num, den * k)) k++;
  return (k & 1n) === 1n;
}

/** Bernoulli(exp(−num/den)) for any num/den ≥ 0 (no validation). */
export function bernoulliExpNegUnchecked(rng: RandomSource, num: bigint, den: bigint): boolean {
  if (num <= den) return bernoulliExpNegUnit(rng, num, den);
  // CKS20 Algorithm 1, γ > 1: exp(−γ) = exp(−1)^⌊γ⌋ · exp(−(γ−⌊γ⌋)); draw ⌊γ⌋ Bernoulli(exp(−1)), stopping at the first 0.
  const whole = num / den;
  for (let i = 0n; i < whole; i++) {
    if (!bernoulliExpNegUnit(rng, 1n, 1n)) return false;
  }
  // CKS20 Algorithm 1, γ > 1: finally one Bernoulli(exp(−(γ−⌊γ⌋))) with the fractional part.
  return bernoulliExpNegUnit(rng, num - whole * den, den);
}

/** Bernoulli(exp(−γ)) for a rational γ = num/den ≥ 0 (CKS20 Algorithm 1). */
export function sampleBernoulliExp(gamma: Rational, rng: RandomSource = defaultRandomSource()): boolean {
  checkRational('sampleBernoulliExp(gamma)', gamma);
  return bernoulliExpNegUnchecked(rng, gamma.num, gamma.den);
}

export { checkRational };
