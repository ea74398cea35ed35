/**
 * Rényi-DP of the Poisson-subsampled Gaussian mechanism (add/remove-one
 * neighbours), following the semantics of Google's `dp_accounting`
 * `RdpAccountant` (rdp_privacy_accountant.py). Pure TypeScript, browser-safe.
 */

/** Default RDP orders: 1.1, 1.2, ..., 10.9, then 11..63, then 128, 256, 512, 1024 (dp_accounting DEFAULT_RDP_ORDERS). */
export const DEFAULT_RDP_ORDERS: readonly number[] = Object.freeze([
  ...Array.from({ length: 99 }, (_, i) => 1 + (i + 1) / 10),
  ...Array.from({ length: 53 }, (_, i) => 11 + i),
  128,
  256,
  512,
  1024,
]);

/** Orders used by TF Privacy's compute_dp_sgd_privacy (its published test values use these). */
export const TF_PRIVACY_DP_SGD_ORDERS: readonly number[] = Object.freeze([
  1.25, 1.5, 1.75, 2, 2.25, 2.5, 3, 3.5, 4, 4.5,
  ...Array.from({ length: 59 }, (_, i) => 5 + i),
  128,
  256,
  512,
]);

/** log(e^x + e^y) without overflow. */
export function logAdd(logx: number, logy: number): number {
  const a = Math.min(logx, logy);
  const b = Math.max(logx, logy);
  if (a === -Infinity) return b;
  // log(e^a + e^b) = b + log1p(e^(a-b)) (standard log-sum-exp identity)
  return b + Math.log1p(Math.exp(a - b));
}

/** log|e^x - e^y| and the sign of e^x - e^y (true = non-negative). */
export function logSubSign(logx: number, logy: number): { positive: boolean; log: number } {
  if (logx > logy) return { positive: true, log: logx + Math.log1p(-Math.exp(logy - logx)) };
  if (logx < logy) return { positive: false, log: logy + Math.log1p(-Math.exp(logx - logy)) };
  return { positive: true, log: -Infinity };
}

/** log(e^x - e^y) for x >= y; throws if the difference would be negative. */
export function logSub(logx: number, logy: number): number {
  if (logx < logy) throw new RangeError(`logSub: result would be negative (log x = ${logx} < log y = ${logy})`);
  return logSubSign(logx, logy).log;
}

/**
 * log(e^acc + sign·e^term) for a running sum that is positive in exact arithmetic. Returns
 * undefined, never a clamped or NaN value, when subtracting e^term would leave zero or less.
 */
export function logAddSigned(logAcc: number, logTerm: number, sign: 1 | -1): number | undefined {
  if (sign > 0) return logAdd(logAcc, logTerm);
  if (!(logTerm < logAcc)) return undefined;
  return logSub(logAcc, logTerm);
}

// Stirling-series coefficients B_{2k} / (2k (2k-1)) for log Γ (Abramowitz & Stegun 6.1.41).
const STIRLING = [1 / 12, -1 / 360, 1 / 1260, -1 / 1680, 1 / 1188, -691 / 360360, 1 / 156];
const HALF_LOG_2PI = 0.5 * Math.log(2 * Math.PI);

/** log|Γ(x)| for real x (not a non-positive integer), accurate to ~1e-15 relative. */
export function logGamma(x: number): number {
  if (!Number.isFinite(x)) return x === Infinity ? Infinity : NaN;
  if (x <= 0 && Number.isInteger(x)) return Infinity;
  if (x < 0.5) {
    // Reflection: Γ(x)Γ(1-x) = π / sin(πx) (A&S 6.1.17); reduce x mod 2 first to keep sin accurate.
    const r = x - 2 * Math.round(x / 2);
    return Math.log(Math.PI / Math.abs(Math.sin(Math.PI * r))) - logGamma(1 - x);
  }
  // Shift up with Γ(x+1) = xΓ(x) (A&S 6.1.15) until the Stirling series is accurate.
  let shift = 0;
  let y = x;
  while (y < 15) {
    shift += Math.log(y);
    y += 1;
  }
  // Stirling series: log Γ(y) = (y-1/2) log y - y + log(2π)/2 + Σ B_{2k}/(2k(2k-1) y^{2k-1}) (A&S 6.1.40).
  const inv = 1 / y;
  const inv2 = inv * inv;
  let series = 0;
  let p = inv;
  for (const c of STIRLING) {
    series += c * p;
    p *= inv2;
  }
  return (y - 0.5) * Math.log(y) - y + HALF_LOG_2PI + series - shift;
}

/**
 * Sign of the generalised binomial coefficient C(α, i) = α(α-1)…(α-i+1) / i! for real α > 0 and
 * integer i ≥ 0: 1, -1, or 0 when a factor α - k is zero (integer α < i).
 */
export function combSign(alpha: number, i: number): 1 | -1 | 0 {
  if (Number.isInteger(alpha) && i > alpha) return 0;
  // Of the factors α - k, k = 0..i-1, those with k = ⌊α⌋+1..i-1 are negative (i! > 0 has no say).
  const negative = Math.max(0, i - 1 - Math.floor(alpha));
  return negative % 2 === 0 ? 1 : -1;
}

/** log|C(n, k)| for real n, k via log-gamma: C(n,k) = Γ(n+1) / (Γ(k+1) Γ(n-k+1)). */
export function logComb(n: number, k: number): number {
  // Generalised binomial coefficient in terms of Γ (A&S 6.1.21); absolute value for fractional n (Mironov et al. 2019 §3.3).
  return logGamma(n + 1) - logGamma(k + 1) - logGamma(n - k + 1);
}

const LOG_SQRT_PI = 0.5 * Math.log(Math.PI);

/** log(erfc(x)), accurate also deep in the tail (large positive x). */
export function logErfc(x: number): number {
  if (Number.isNaN(x)) return NaN;
  if (x === Infinity) return -Infinity;
  if (x === -Infinity) return Math.log(2);
  if (x < 0) {
    // erfc(-x) = 2 - erfc(x) (A&S 7.1.9 via erf odd symmetry).
    return Math.log(2 - Math.exp(logErfc(-x)));
  }
  if (x < 2) {
    // erf(x) = 2/√π e^{-x²} Σ_n 2^n x^{2n+1} / (2n+1)!! (A&S 7.1.6), all terms positive.
    let term = x;
    let sum = x;
    const x2 = x * x;
    for (let n = 1; n < 200; n++) {
      term *= (2 * x2) / (2 * n + 1);
      sum += term;
      if (term < sum * 1e-17) break;
    }
    const erf = (2 / Math.sqrt(Math.PI)) * Math.exp(-x2) * sum;
    return Math.log1p(-erf);
  }
  // Continued fraction erfc(x) = e^{-x²}/√π · 1/(x + (1/2)/(x + 1/(x + (3/2)/(x + ...)))) (A&S 7.1.14),
  // evaluated with the modified Lentz algorithm.
  const tiny = 1e-300;
  let f = x;
  let c = x;
  let d = 0;
  for (let n = 1; n < 5000; n++) {
    const a = n / 2;
    d = x + a * d;
    d = d === 0 ? tiny : d;
    c = x + a / c;
    c = c === 0 ? tiny : c;
    d = 1 / d;
    const delta = c * d;
    f *= delta;
    if (Math.abs(delta - 1) < 1e-16) break;
  }
  return -x * x - LOG_SQRT_PI - Math.log(f);
}

/** log(A_α) for integer α ≥ 2 and 0 < q < 1 (Mironov, Talwar & Zhang 2019, §3.3, eq. for integer α). */
export function computeLogAInt(q: number, sigma: number, alpha: number): number {
  let logA = -Infinity;
  const logQ = Math.log(q);
  const log1mq = Math.log1p(-q);
  for (let i = 0; i <= alpha; i++) {
    // A_α = Σ_i C(α,i) (1-q)^{α-i} q^i exp((i²-i)/(2σ²)) (Mironov, Talwar & Zhang 2019, §3.3, integer α).
    const logCoef = logComb(alpha, i) + i * logQ + (alpha - i) * log1mq;
    const s = logCoef + (i * i - i) / (2 * sigma * sigma);
    logA = logAdd(logA, s);
  }
  return logA;
}

const MAX_STEPS_LOG_A_FRAC = 1000;

/** Term i of a series Σ_i sign_i (s0_i + s1_i) with s0_i, s1_i ≥ 0, given as log s0_i, log s1_i. */
export interface SignedSeriesTerm {
  logS0: number;
  logS1: number;
  sign: 1 | -1;
}

/**
 * log Σ_i sign_i (s0_i + s1_i) for a series whose two parts Σ_i sign_i s0_i and Σ_i sign_i s1_i are
 * positive in exact arithmetic. Stops, as dp_accounting's `_compute_log_a_frac` does, once both
 * |term| sequences decrease and the larger term is below e^-30 of the running total; returns
 * +Infinity after `maxSteps` terms without that. If rounding makes a partial sum of either part
 * zero or negative, the result is instead the sum of |terms|, an upper bound on the true value.
 */
export function sumSignedLogSeries(term: (i: number) => SignedSeriesTerm, maxSteps: number): number {
  // Signed partial sums (undefined once one is lost to rounding) and the |term| partial sums.
  let signed0: number | undefined = -Infinity;
  let signed1: number | undefined = -Infinity;
  let abs0 = -Infinity;
  let abs1 = -Infinity;
  let lastS0 = -Infinity;
  let lastS1 = -Infinity;
  for (let i = 0; i < maxSteps; i++) {
    const { logS0, logS1, sign } = term(i);
    if (signed0 !== undefined && signed1 !== undefined) {
      signed0 = logAddSigned(signed0, logS0, sign);
      signed1 = logAddSigned(signed1, logS1, sign);
    }
    abs0 = logAdd(abs0, logS0);
    abs1 = logAdd(abs1, logS1);
    const total = signed0 !== undefined && signed1 !== undefined ? logAdd(signed0, signed1) : logAdd(abs0, abs1);
    // Where the signs alternate and the magnitudes decrease, the omitted tail is smaller than the last term.
    if (logS0 < lastS0 && logS1 < lastS1 && Math.max(logS0, logS1) < total - 30) return total;
    lastS0 = logS0;
    lastS1 = logS1;
  }
  return Infinity;
}

/**
 * log(A_α) for fractional α > 1 and 0 < q < 1 (Mironov, Talwar & Zhang 2019, §3.3).
 *
 * A_α = E_{z∼N(0,σ²)}[((1-q) + q e^{(2z-1)/(2σ²)})^α] is split at z0, where the two summands are
 * equal, and each part is expanded with the generalised binomial series (1 + x)^α = Σ_i C(α,i) x^i
 * (|x| ≤ 1): A_α = Σ_i C(α,i) (s0_i + s1_i) with s0_i, s1_i > 0 below. For non-integer α,
 * C(α,i) < 0 when i - ⌈α⌉ is odd and positive, so those terms are subtracted. Summing |C(α,i)|
 * instead, as dp_accounting's current `_compute_log_a_frac` does, gives an upper bound on A_α;
 * the signed sum is A_α itself, which an independent quadrature of the definition confirms
 * (test/privacy/vectors/rdp_frac_mpmath.py). Should rounding ever make a partial sum
 * non-positive, the |C(α,i)| sum is returned (see sumSignedLogSeries). Returns +Infinity if the
 * series fails to converge (the order is then ignored by min-over-orders, as in dp_accounting).
 */
export function computeLogAFrac(q: number, sigma: number, alpha: number): number {
  const sigma2 = sigma * sigma;
  // Split point z0 = σ² log(1/q - 1) + 1/2 (Mironov, Talwar & Zhang 2019, §3.3).
  const z0 = sigma2 * Math.log(1 / q - 1) + 0.5;
  const logQ = Math.log(q);
  const log1mq = Math.log1p(-q);
  const sqrt2Sigma = Math.SQRT2 * sigma;
  return sumSignedLogSeries((i) => {
    const logCoef = logComb(alpha, i);
    const j = alpha - i;
    // Binomial weights |C(α,i)| q^i (1-q)^{α-i} and mirrored (Mironov, Talwar & Zhang 2019, §3.3).
    const logT0 = logCoef + i * logQ + j * log1mq;
    const logT1 = logCoef + j * logQ + i * log1mq;
    // Gaussian tail masses ½ erfc((i - z0)/(√2σ)) and ½ erfc((z0 - j)/(√2σ)) (Mironov, Talwar & Zhang 2019, §3.3).
    const logE0 = Math.log(0.5) + logErfc((i - z0) / sqrt2Sigma);
    const logE1 = Math.log(0.5) + logErfc((z0 - j) / sqrt2Sigma);
    return {
      // s0 = t0 e^{(i²-i)/(2σ²)} e0 and s1 = t1 e^{(j²-j)/(2σ²)} e1 (Mironov, Talwar & Zhang 2019, §3.3).
      logS0: logT0 + (i * i - i) / (2 * sigma2) + logE0,
      logS1: logT1 + (j * j - j) / (2 * sigma2) + logE1,
      // A zero coefficient (integer α < i) has logCoef = -∞ and adds nothing whichever sign it gets.
      sign: combSign(alpha, i) < 0 ? -1 : 1,
    };
  }, MAX_STEPS_LOG_A_FRAC);
}

/** log(A_α), dispatching on whether α is an integer. */
export function computeLogA(q: number, sigma: number, alpha: number): number {
  return Number.isInteger(alpha) ? computeLogAInt(q, sigma, alpha) : computeLogAFrac(q, sigma, alpha);
}

/** RDP at one order of a single Poisson-subsampled Gaussian step. */
export function rdpOneStep(q: number, noiseMultiplier: number, alpha: number): number {
  if (q === 0) return 0;
  if (alpha === Infinity || noiseMultiplier === 0) return Infinity;
  // Unsubsampled Gaussian: ε(α) = α / (2σ²) (Mironov 2017, Proposition 7).
  if (q === 1) return alpha / (2 * noiseMultiplier * noiseMultiplier);
  // ε(α) = log(A_α) / (α - 1) (Mironov, Talwar & Zhang 2019, §3.3).
  return computeLogA(q, noiseMultiplier, alpha) / (alpha - 1);
}

function checkParams(q: number, noiseMultiplier: number, steps: number, orders: readonly number[]): void {
  if (!(q >= 0 && q <= 1)) throw new RangeError(`Sampling rate q must be in [0, 1]; got ${q}.`);
  if (!(noiseMultiplier >= 0)) throw new RangeError(`Noise multiplier must be >= 0; got ${noiseMultiplier}.`);
  if (!(Number.isInteger(steps) && steps >= 0)) throw new RangeError(`Steps must be a non-negative integer; got ${steps}.`);
  checkOrders(orders);
}

/** Throws unless every order is a number > 1 (Infinity allowed). */
export function checkOrders(orders: readonly number[]): void {
  if (orders.length === 0) throw new RangeError('At least one RDP order is required.');
  for (const a of orders) {
    if (typeof a !== 'number' || !(a > 1)) throw new RangeError(`RDP orders must be > 1; got ${a}.`);
  }
}

/**
 * RDP vector of `steps` compositions of the Poisson-subsampled Gaussian mechanism
 * with sampling rate q and noise multiplier z, at each order.
 */
export function computeRdp(q: number, noiseMultiplier: number, steps: number, orders: readonly number[] = DEFAULT_RDP_ORDERS): number[] {
  checkParams(q, noiseMultiplier, steps, orders);
  // RDP composes additively across steps (Mironov 2017, Proposition 1).
  return orders.map((a) => (steps === 0 ? 0 : steps * rdpOneStep(q, noiseMultiplier, a)));
}
