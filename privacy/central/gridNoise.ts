// Central DP noise on a fixed-point grid. A float sum with continuous noise
// leaks through the low bits of its floating-point representation (Mironov
// 2012), so the coordinator releases γ·(round(S/γ) + N_ℤ(0, σ²)) instead: the
// sum rounded to a grid of step γ plus exact discrete Gaussian noise (Canonne,
// Kamath & Steinke 2020) in grid units. Every released value is a multiple of
// γ whose distribution depends on S only through round(S/γ).
//
// Sensitivity in grid units: if ‖S − S'‖ ≤ Δ then
// ‖round(S/γ) − round(S'/γ)‖₂ ≤ Δ/γ + ‖e − e'‖₂ ≤ Δ/γ + √d, where e, e' are the
// rounding errors (each coordinate within ±1/2). One contribution moves the
// released float64 sum by at most Δ = C·(1 + slack), where slack covers every
// float rounding between a contribution and this sum (sensitivity.ts: the
// client's fixed-point sum, its W·C projection and float32 rounding, the
// coordinator's projection, float64 sum and scaling). With K = C/γ the grid
// sensitivity is K·(1 + slack) + √d. The grid is chosen with
// K = ⌈1000·√d⌉, so rounding widens it by at most 0.1%, and σ = z × that
// sensitivity: the release has the noise-to-sensitivity ratio z the
// accountant charges, and its noise in model units is z·C·(1 + slack + √d/K).
import { discreteGaussianVector, sampleDiscreteGaussian, type Rational, type RandomSource } from '../noise/index.ts';
import { releaseSlack, type SensitivityBounds } from './sensitivity.ts';

/** Grid points per clip norm, per √(model size): the rounding's share of the sensitivity is 1/GRID_FACTOR. */
export const GRID_FACTOR = 1000;

export interface GridNoisePlan {
  /** Model size d. */
  size: number;
  clipNorm: number;
  noiseMultiplier: number;
  /** K = C/γ, an integer. */
  scale: number;
  /** W: the most contributions one update may carry (its projection radius is W·C). */
  maxWeight: number;
  /** n: the most updates in the sum. */
  maxUpdates: number;
  /** Every float rounding term, relative to C (sensitivity.ts). */
  slack: number;
  /** Grid step γ = C/K. */
  step: number;
  /** Sensitivity in grid units, K·(1 + slack) + √d. */
  sensitivity: number;
  /** σ² in grid units, an integer rounded up from (z·(K + √d))² (more noise, never less). */
  sigma2: Rational;
  /** Noise standard deviation per coordinate in model units (γ·σ). */
  stddev: number;
}

function checkPositive(what: string, v: number, allowZero = false): void {
  if (!Number.isFinite(v) || v < 0 || (!allowZero && v === 0)) throw new RangeError(`${what} must be a finite number ${allowZero ? '>= 0' : '> 0'}, got ${v}`);
}

/** Float rounding may not add more than this share of C to the sensitivity: past it, the settings are refused. */
export const MAX_SLACK = 0.01;

/**
 * The grid and the integer noise variance for clip norm C, noise multiplier z,
 * model size d, updates carrying at most `maxWeight` contributions each
 * (projected onto radius W·C) and at most `maxUpdates` updates in the sum.
 */
export function planGridNoise(clipNorm: number, noiseMultiplier: number, size: number, bounds: Partial<Omit<SensitivityBounds, 'size'>> = {}): GridNoisePlan {
  checkPositive('clipNorm', clipNorm);
  checkPositive('noiseMultiplier', noiseMultiplier, true);
  if (!Number.isSafeInteger(size) || size < 1) throw new RangeError(`size must be a positive integer, got ${size}`);
  const maxWeight = bounds.maxWeight ?? 1;
  const maxUpdates = bounds.maxUpdates ?? 1;
  const slack = releaseSlack({ size, maxWeight, maxUpdates });
  if (slack > MAX_SLACK) {
    throw new RangeError(
      `float rounding could move the released sum by ${(slack * 100).toFixed(2)}% of the clip norm with ${maxWeight} contributions per update, ` +
        `${maxUpdates} updates and ${size} values (more than ${MAX_SLACK * 100}%): lower maxUsersPerClient or the number of clients per round`,
    );
  }
  const root = Math.sqrt(size);
  const scale = Math.ceil(GRID_FACTOR * root);
  // every update is projected onto W·C, so a coordinate of the sum is at most n·W·C: K·n·W grid steps, which must stay
  // (with noise) exactly representable; checked here, at planning, so addGridNoise never has to refuse a real sum
  if (scale * maxUpdates * maxWeight * (1 + slack) * 1.01 >= 2 ** 52) {
    throw new RangeError(`${maxUpdates} updates of up to ${maxWeight} contributions on a grid of ${scale} steps per clip could leave float64's exact range: lower maxUsersPerClient or the clients per round`);
  }
  const sensitivity = scale * (1 + slack) + root;
  const sigma = noiseMultiplier * sensitivity;
  // +1 absorbs any float rounding of the product: the variance is never below (z × sensitivity)².
  const sigma2: Rational = { num: noiseMultiplier === 0 ? 0n : BigInt(Math.ceil(sigma * sigma)) + 1n, den: 1n };
  const step = clipNorm / scale;
  return { size, clipNorm, noiseMultiplier, scale, maxWeight, maxUpdates, slack, step, sensitivity, sigma2, stddev: step * Math.sqrt(Number(sigma2.num)) };
}

/**
 * In place: sum[i] ← γ·(round(sum[i]/γ) + N_ℤ(0, σ²)) with the plan's grid.
 * The noise is drawn from `rng` (a CSPRNG unless a research run seeds it).
 */
export function addGridNoise(sum: Float64Array, plan: GridNoisePlan, rng: RandomSource): void {
  if (sum.length !== plan.size) throw new RangeError(`addGridNoise: the sum has ${sum.length} values, the plan is for ${plan.size}`);
  const k = plan.scale / plan.clipNorm; // 1/γ
  for (let i = 0; i < sum.length; i++) {
    // integers up to 2⁵² keep grid point + noise exact in float64; the message names neither the value nor its index (it can reach a published record)
    if (!(Math.abs(sum[i] * k) < 2 ** 52)) throw new RangeError('addGridNoise: a value of the sum is not finite or not within 2^52 grid steps; nothing was released');
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
