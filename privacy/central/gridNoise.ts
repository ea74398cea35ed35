// Central DP noise on a fixed-point grid. A float sum with continuous noise
// leaks through the low bits of its floating-point representation (Mironov
// 2012), so the coordinator releases γ·(round(S/γ) + N_ℤ(0, σ²)) instead: the
// sum rounded to a grid of step γ plus exact discrete Gaussian noise (Canonne,
// Kamath & Steinke 2020) in grid units. Every released value is a multiple of
// γ whose distribution depends on S only through round(S/γ).
//
// Sensitivity in grid units: if ‖S − S'‖₂ ≤ Δ then
// ‖round(S/γ) − round(S'/γ)‖₂ ≤ Δ/γ + ‖e − e'‖₂ ≤ Δ/γ + √d, where e, e' are the
// rounding errors (each coordinate within ±1/2). One contribution moves the
// true sum by at most C; a client sends its sum of up to W clipped
// contributions as float32, whose rounding (relative 2⁻²⁴ per value) moves it
// by at most 2⁻²⁴·(‖S_c‖ + ‖S_c'‖) ≤ 2⁻²⁴·(2W + 1)·C more. So
// Δ = C·(1 + 2⁻²⁴·(2W + 1)), and with K = C/γ the grid sensitivity is
// K·(1 + 2⁻²⁴·(2W + 1)) + √d. The grid is chosen with K = ⌈1000·√d⌉, so
// rounding widens it by at most 0.1%, and σ = z × that sensitivity: the
// release has the noise-to-sensitivity ratio z the accountant charges, and its
// noise in model units is z·C·(1 + 2⁻²⁴·(2W + 1) + √d/K).
import { discreteGaussianVector, sampleDiscreteGaussian, type Rational, type RandomSource } from '../noise/index.ts';

/** Grid points per clip norm, per √(model size): the rounding's share of the sensitivity is 1/GRID_FACTOR. */
export const GRID_FACTOR = 1000;

export interface GridNoisePlan {
  /** Model size d. */
  size: number;
  clipNorm: number;
  noiseMultiplier: number;
  /** K = C/γ, an integer. */
  scale: number;
  /** W: the most contributions one client's float32 sum may hold. */
  maxWeight: number;
  /** Grid step γ = C/K. */
  step: number;
  /** Sensitivity in grid units, K·(1 + 2⁻²⁴·(2W + 1)) + √d. */
  sensitivity: number;
  /** σ² in grid units, an integer rounded up from (z·(K + √d))² (more noise, never less). */
  sigma2: Rational;
  /** Noise standard deviation per coordinate in model units (γ·σ). */
  stddev: number;
}

function checkPositive(what: string, v: number, allowZero = false): void {
  if (!Number.isFinite(v) || v < 0 || (!allowZero && v === 0)) throw new RangeError(`${what} must be a finite number ${allowZero ? '>= 0' : '> 0'}, got ${v}`);
}

/**
 * The grid and the integer noise variance for clip norm C, noise multiplier z,
 * model size d, and at most `maxWeight` contributions summed in float32 by one
 * client (1: each update is one contribution).
 */
export function planGridNoise(clipNorm: number, noiseMultiplier: number, size: number, maxWeight = 1): GridNoisePlan {
  checkPositive('clipNorm', clipNorm);
  checkPositive('noiseMultiplier', noiseMultiplier, true);
  if (!Number.isSafeInteger(size) || size < 1) throw new RangeError(`size must be a positive integer, got ${size}`);
  if (!Number.isSafeInteger(maxWeight) || maxWeight < 1) throw new RangeError(`maxWeight must be a positive integer, got ${maxWeight}`);
  const root = Math.sqrt(size);
  const scale = Math.ceil(GRID_FACTOR * root);
  const sensitivity = scale * (1 + 2 ** -24 * (2 * maxWeight + 1)) + root;
  const sigma = noiseMultiplier * sensitivity;
  // +1 absorbs any float rounding of the product: the variance is never below (z × sensitivity)².
  const sigma2: Rational = { num: noiseMultiplier === 0 ? 0n : BigInt(Math.ceil(sigma * sigma)) + 1n, den: 1n };
  const step = clipNorm / scale;
  return { size, clipNorm, noiseMultiplier, scale, maxWeight, step, sensitivity, sigma2, stddev: step * Math.sqrt(Number(sigma2.num)) };
}

/**
 * In place: sum[i] ← γ·(round(sum[i]/γ) + N_ℤ(0, σ²)) with the plan's grid.
 * The noise is drawn from `rng` (a CSPRNG unless a research run seeds it).
 */
export function addGridNoise(sum: Float64Array, plan: GridNoisePlan, rng: RandomSource): void {
  if (sum.length !== plan.size) throw new RangeError(`addGridNoise: the sum has ${sum.length} values, the plan is for ${plan.size}`);
  const k = plan.scale / plan.clipNorm; // 1/γ
  for (let i = 0; i < sum.length; i++) {
    // integers up to 2⁵² keep grid point + noise exact in float64
    if (!(Math.abs(sum[i] * k) < 2 ** 52)) throw new RangeError(`addGridNoise: sum value ${i} is ${sum[i]}, not a finite value within 2^52 grid steps`);
  }
  const noise = plan.sigma2.num === 0n ? new Int32Array(sum.length) : discreteGaussianVector(sum.length, plan.sigma2, rng);
  for (let i = 0; i < sum.length; i++) {
    sum[i] = (Math.round(sum[i] * k) + noise[i]) * plan.step;
  }
}

/**
 * An integer count plus exact discrete Gaussian noise of standard deviation at
 * least `stddev` (σ² rounded up to a multiple of 10⁻⁶).
 */
export function noisyCount(count: number, stddev: number, rng: RandomSource): number {
  if (!Number.isSafeInteger(count)) throw new RangeError(`noisyCount: count must be an integer, got ${count}`);
  checkPositive('stddev', stddev, true);
  if (stddev === 0) return count;
  const den = 1_000_000n;
  const num = BigInt(Math.ceil(stddev * stddev * 1e6)) + 1n;
  return count + Number(sampleDiscreteGaussian({ num, den }, rng));
}
