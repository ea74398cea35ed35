// Exact discrete Gaussian sampler N_ℤ(0, σ²): P[X = x] ∝ exp(−x²/(2σ²)), x ∈ ℤ.
//
// Reference: C. Canonne, G. Kamath, T. Steinke, "The Discrete Gaussian for
// Differential Privacy", NeurIPS 2020 (arXiv:2004.00010), Algorithm 3, built on
// Algorithm 1 (Bernoulli(exp(−γ))) and Algorithm 2 (discrete Laplace).
//
// σ² is an exact rational and the sampling path uses integer arithmetic only:
// floating-point noise leaks through its low-order bits (Mironov, "On
// Significance of the Least Significant Bits for Differential Privacy", CCS 2012).
import { type Rational, bernoulliExpNegUnchecked } from './bernoulli.ts';
import { discreteLaplaceUnchecked } from './discreteLaplace.ts';
import { type RandomSource, defaultRandomSource } from './random.ts';

/** σ² either as an exact rational or as a JS number (converted with {@link rationalFromNumber}). */
export type Sigma2 = Rational | number;

/** Default bound on the denominator when σ² is given as a float. */
export const DEFAULT_MAX_DENOMINATOR = 1_000_000n;

function gcd(a: bigint, b: bigint): bigint {
  if (a < 0n) a = -a;
  if (b < 0n) b = -b;
  while (b !== 0n) [a, b] = [b, a % b];
  return a;
}

/** ⌊√n⌋ for an integer n ≥ 0 (Newton's method, exact). */
export function isqrt(n: bigint): bigint {
  if (n < 0n) throw new RangeError('isqrt: negative argument');
  if (n < 2n) return n;
  let x = BigInt(Math.floor(Math.sqrt(Number(n)))) + 1n; // any start ≥ ⌊√n⌋ works; this one is close
  for (;;) {
    const y = (x + n / x) >> 1n;
    if (y >= x) break;
    x = y;
  }
  while (x * x > n) x--;
  while ((x + 1n) * (x + 1n) <= n) x++;
  return x;
}

/** The exact value of a finite float as a reduced fraction p/q (q a power of two). */
function exactFraction(x: number): Rational {
  let q = 1n;
  let y = x;
  while (!Number.isInteger(y)) {
    y *= 2; // exact: doubling a non-integer float never rounds
    q *= 2n;
  }
  const p = BigInt(y);
  const g = gcd(p, q);
  return g === 0n ? { num: 0n, den: 1n } : { num: p / g, den: q / g };
}

/**
 * The rational with denominator ≤ maxDen closest to the finite float x ≥ 0
 * (continued fractions on the float's exact binary value, as in Python's
 * Fraction.limit_denominator). Integer-valued floats and short decimals map
 * to the obvious fraction (0.25 → 1/4, 0.1 → 1/10).
 */
export function rationalFromNumber(x: number, maxDen: bigint = DEFAULT_MAX_DENOMINATOR): Rational {
  if (typeof x !== 'number' || !Number.isFinite(x) || x < 0) {
    throw new RangeError(`rationalFromNumber: expected a finite number ≥ 0, got ${String(x)}`);
  }
  if (typeof maxDen !== 'bigint' || maxDen < 1n) throw new RangeError('rationalFromNumber: maxDen must be a bigint ≥ 1');
  const { num: p, den: q } = exactFraction(x);
  if (q <= maxDen) return { num: p, den: q };
  let p0 = 0n, q0 = 1n, p1 = 1n, q1 = 0n;
  let n = p, d = q;
  for (;;) {
    const a = n / d;
    const q2 = q0 + a * q1;
    if (q2 > maxDen) break;
    [p0, q0, p1, q1] = [p1, q1, p0 + a * p1, q2];
    [n, d] = [d, n - a * d];
  }
  const k = (maxDen - q0) / q1;
  const b1n = p0 + k * p1, b1d = q0 + k * q1; // semiconvergent
  const b2n = p1, b2d = q1; // last convergent
  const abs = (v: bigint): bigint => (v < 0n ? -v : v);
  // Compare |b2 − x| ≤ |b1 − x| exactly: |b2n·q − p·b2d|·b1d vs |b1n·q − p·b1d|·b2d.
  const e2 = abs(b2n * q - p * b2d) * b1d;
  const e1 = abs(b1n * q - p * b1d) * b2d;
  const [rn, rd] = e2 <= e1 ? [b2n, b2d] : [b1n, b1d];
  const g = gcd(rn, rd);
  return { num: rn / g, den: rd / g };
}

/** Validates σ² and returns it as a reduced rational with num, den > 0. */
export function normalizeSigma2(sigma2: Sigma2, maxDen: bigint = DEFAULT_MAX_DENOMINATOR): Rational {
  let r: Rational;
  if (typeof sigma2 === 'number') {
    if (!Number.isFinite(sigma2) || !(sigma2 > 0)) {
      throw new RangeError(`discrete Gaussian: sigma2 must be a finite number > 0, got ${String(sigma2)}`);
    }
    r = rationalFromNumber(sigma2, maxDen);
    if (r.num === 0n) {
      throw new RangeError(`discrete Gaussian: sigma2 = ${sigma2} is too small to represent with denominator ≤ ${maxDen}; pass {num, den} instead`);
    }
  } else {
    if (sigma2 === null || typeof sigma2 !== 'object' || typeof sigma2.num !== 'bigint' || typeof sigma2.den !== 'bigint') {
      throw new TypeError('discrete Gaussian: sigma2 must be a number or {num: bigint, den: bigint}');
    }
    if (sigma2.den <= 0n) throw new RangeError(`discrete Gaussian: sigma2 denominator must be > 0, got ${sigma2.den}`);
    if (sigma2.num <= 0n) throw new RangeError(`discrete Gaussian: sigma2 must be > 0, got ${sigma2.num}/${sigma2.den}`);
    r = sigma2;
  }
  const g = gcd(r.num, r.den);
  return { num: r.num / g, den: r.den / g };
}

/**
 * A discrete Gaussian sampler with the per-σ² constants precomputed
 * (useful when drawing many samples with the same σ²).
 */
export class DiscreteGaussianSampler {
  /** σ² as a reduced rational. */
  readonly sigma2: Rational;
  /** CKS20 Algorithm 3: Laplace scale t = ⌊σ⌋ + 1. */
  readonly t: bigint;
  private readonly tDen: bigint; // t·den
  private readonly gammaDen: bigint; // 2·num·t²·den

  constructor(sigma2: Sigma2, readonly rng: RandomSource = defaultRandomSource()) {
    this.sigma2 = normalizeSigma2(sigma2);
    const { num, den } = this.sigma2;
    // CKS20 Algorithm 3, setup: t ← ⌊σ⌋ + 1, with ⌊σ⌋ = ⌊√⌊num/den⌋⌋ computed exactly.
    this.t = isqrt(num / den) + 1n;
    this.tDen = this.t * den;
    this.gammaDen = 2n * num * this.t * this.t * den;
  }

  sample(): bigint {
    const { num } = this.sigma2;
    for (;;) {
      // CKS20 Algorithm 3, step 1: Y ← discrete Laplace with scale t (Algorithm 2 with s = 1).
      const y = discreteLaplaceUnchecked(this.rng, this.t, 1n);
      const a = y < 0n ? -y : y;
      // CKS20 Algorithm 3, step 2: γ = (|Y| − σ²/t)²/(2σ²) = (|Y|·t·den − num)² / (2·num·t²·den), exactly.
      const diff = a * this.tDen - num;
      // CKS20 Algorithm 3, steps 2–3: C ~ Bernoulli(exp(−γ)) (Algorithm 1); accept Y if C = 1, else restart.
      if (bernoulliExpNegUnchecked(this.rng, diff * diff, this.gammaDen)) return y;
    }
  }
}

/**
 * One exact sample from N_ℤ(0, σ²) (CKS20 Algorithm 3). σ² may be an exact
 * rational {num, den} or a number (rounded to the nearest rational with
 * denominator ≤ 10⁶ — pass a rational when σ² must be exact).
 */
export function sampleDiscreteGaussian(sigma2: Sigma2, rng: RandomSource = defaultRandomSource()): bigint {
  return new DiscreteGaussianSampler(sigma2, rng).sample();
}

const INT32_LIMIT = 2n ** 31n - 1n;
const SAFE_LIMIT = BigInt(Number.MAX_SAFE_INTEGER);
/** Samples beyond 50σ have probability < exp(−1250): used only to pick the array type. */
const TAIL_SIGMAS = 50n;

/**
 * n independent exact discrete Gaussian samples as numbers. Returns an
 * Int32Array when 50·(⌊σ⌋+1) < 2³¹ (σ up to about 4·10⁷), otherwise a
 * Float64Array (exact integers, needs 50·(⌊σ⌋+1) ≤ 2⁵³ − 1). Every sample is
 * still range-checked; an out-of-range sample (probability < e^−1250) throws.
 */
export function discreteGaussianVector(
  n: number,
  sigma2: Sigma2,
  rng: RandomSource = defaultRandomSource(),
): Int32Array | Float64Array {
  if (!Number.isSafeInteger(n) || n < 0) throw new RangeError(`discreteGaussianVector: n must be a non-negative integer, got ${n}`);
  const sampler = new DiscreteGaussianSampler(sigma2, rng);
  const bound = TAIL_SIGMAS * sampler.t;
  let limit: bigint;
  let out: Int32Array | Float64Array;
  if (bound <= INT32_LIMIT) {
    out = new Int32Array(n);
    limit = INT32_LIMIT;
  } else if (bound <= SAFE_LIMIT) {
    out = new Float64Array(n);
    limit = SAFE_LIMIT;
  } else {
    throw new RangeError('discreteGaussianVector: σ too large for exact float64 output; use sampleDiscreteGaussian (bigint)');
  }
  for (let i = 0; i < n; i++) {
    const x = sampler.sample();
    if (x > limit || x < -limit) throw new RangeError(`discreteGaussianVector: sample ${x} exceeds the output range`);
    out[i] = Number(x);
  }
  return out;
}
