import { describe, expect, it } from 'vitest';
import {
  DEFAULT_RDP_ORDERS,
  RdpAccountant,
  TF_PRIVACY_DP_SGD_ORDERS,
  calibrateNoiseMultiplier,
  combSign,
  computeLogAFrac,
  computeRdp,
  epsilonFor,
  epsilonFromRdp,
  logAdd,
  logAddSigned,
  logComb,
  logErfc,
  logGamma,
  logSub,
  rdpOneStep,
  sumSignedLogSeries,
} from '../../privacy/accountant/index.ts';

const relErr = (a: number, b: number): number => Math.abs(a - b) / Math.abs(b);

describe('log-space helpers', () => {
  it('logAdd / logSub', () => {
    expect(logAdd(Math.log(2), Math.log(3))).toBeCloseTo(Math.log(5), 14);
    expect(logAdd(-Infinity, 1.5)).toBe(1.5);
    expect(logSub(Math.log(5), Math.log(3))).toBeCloseTo(Math.log(2), 14);
    expect(logSub(2, 2)).toBe(-Infinity);
    expect(() => logSub(1, 2)).toThrow(RangeError);
  });
  it('logAddSigned adds or subtracts, and reports a sum that would reach zero or below', () => {
    expect(logAddSigned(Math.log(5), Math.log(3), 1)).toBeCloseTo(Math.log(8), 14);
    expect(logAddSigned(Math.log(5), Math.log(3), -1)).toBeCloseTo(Math.log(2), 14);
    expect(logAddSigned(Math.log(5), -Infinity, -1)).toBe(Math.log(5));
    expect(logAddSigned(Math.log(3), Math.log(3), -1)).toBeUndefined();
    expect(logAddSigned(Math.log(3), Math.log(5), -1)).toBeUndefined();
  });
  it('combSign is the sign of α(α-1)…(α-i+1)/i!', () => {
    // C(1.5, i) for i = 0..5: 1, 1.5, 0.375, -0.0625, 0.0234375, -0.01171875
    expect([0, 1, 2, 3, 4, 5].map((i) => combSign(1.5, i))).toEqual([1, 1, 1, -1, 1, -1]);
    // Non-integer α: positive up to i = ⌈α⌉, then alternating.
    expect([0, 3, 4, 5, 6, 7].map((i) => combSign(3.7, i))).toEqual([1, 1, 1, -1, 1, -1]);
    expect([3, 4].map((i) => combSign(3, i))).toEqual([1, 0]);
  });
  it('sumSignedLogSeries sums signed terms and falls back to |terms| if a partial sum is lost to rounding', () => {
    // Σ_i (-x)^i (1 + 1) with x = 1/2: 2 / (1 + x) = 4/3.
    const alternating = (i: number) => ({ logS0: -i * Math.LN2, logS1: -i * Math.LN2, sign: (i % 2 === 0 ? 1 : -1) as 1 | -1 });
    // Truncated once a term is below e^-30 of the total: within ~1e-13 relative.
    expect(sumSignedLogSeries(alternating, 1000)).toBeCloseTo(Math.log(4 / 3), 12);
    // 1 - 2 + 1/2 + 1/4 + … per part: the second term cannot be subtracted from the first, so the
    // result is Σ |terms| = 2 (1 + 2 + 1/2 + 1/4 + …) = 8.
    const logTerm = (i: number): number => (i === 0 ? 0 : i === 1 ? Math.LN2 : -(i - 1) * Math.LN2);
    const broken = (i: number) => ({ logS0: logTerm(i), logS1: logTerm(i), sign: (i === 1 ? -1 : 1) as 1 | -1 });
    expect(sumSignedLogSeries(broken, 1000)).toBeCloseTo(Math.log(8), 12);
    // No convergence within the step budget: +Infinity (the order is dropped).
    expect(sumSignedLogSeries(() => ({ logS0: 0, logS1: 0, sign: 1 }), 50)).toBe(Infinity);
  });
  it('logGamma and logComb', () => {
    expect(logGamma(0.5)).toBeCloseTo(0.5 * Math.log(Math.PI), 13);
    expect(logGamma(10)).toBeCloseTo(Math.log(362880), 13);
    expect(logGamma(-0.5)).toBeCloseTo(Math.log(2 * Math.sqrt(Math.PI)), 13);
    expect(Math.exp(logComb(10, 3))).toBeCloseTo(120, 9);
    // |C(1.5, 3)| = |1.5 * 0.5 * -0.5 / 6| = 0.0625
    expect(Math.exp(logComb(1.5, 3))).toBeCloseTo(0.0625, 14);
  });
  it('logErfc matches known erfc values, including the far tail', () => {
    expect(relErr(logErfc(0.3), Math.log(0.6713732405408726))).toBeLessThan(1e-14);
    expect(relErr(logErfc(2), Math.log(0.004677734981047266))).toBeLessThan(1e-14);
    expect(relErr(logErfc(3), Math.log(2.209049699858544e-5))).toBeLessThan(1e-14);
    expect(relErr(logErfc(-1), Math.log(1.8427007929497148))).toBeLessThan(1e-14);
    // erfc(30) ≈ 2.5646562037561116e-393 (underflows as a double; compare logs).
    expect(relErr(logErfc(30), Math.log(2.5646562037561116) - 393 * Math.log(10))).toBeLessThan(1e-13);
  });
});

describe('published values (TF Privacy compute_dp_sgd_privacy_test, dp_accounting tests)', () => {
  const orders = TF_PRIVACY_DP_SGD_ORDERS;
  it('q=0.0025, z=1.3, 6000 steps, δ=1e-5 → ε = 0.7242234026109595 at order 19', () => {
    const r = epsilonFromRdp(orders, computeRdp(0.0025, 1.3, 6000, orders), 1e-5);
    expect(relErr(r.epsilon, 0.7242234026109595)).toBeLessThan(1e-9);
    expect(r.order).toBe(19);
  });
  it('q=0.001, z=1.0, 30000 steps, δ=1e-7 → ε = 1.4154988495444845 at order 13', () => {
    const r = epsilonFromRdp(orders, computeRdp(0.001, 1.0, 30000, orders), 1e-7);
    expect(relErr(r.epsilon, 1.4154988495444845)).toBeLessThan(1e-9);
    expect(r.order).toBe(13);
  });
  it('q=1024/1e8, z=0.1, 97657 steps, δ=1e-7 → ε = 5907982.31138195 at order 1.25 (fractional order)', () => {
    const r = epsilonFromRdp(orders, computeRdp(1024 / 1e8, 0.1, Math.ceil((10 * 1e8) / 1024), orders), 1e-7);
    expect(relErr(r.epsilon, 5907982.31138195)).toBeLessThan(1e-9);
    expect(r.order).toBe(1.25);
  });
  it('the accountant with the default orders gives the same ε for the first two', () => {
    const a = new RdpAccountant();
    a.charge({ q: 0.0025, noiseMultiplier: 1.3, steps: 6000 });
    expect(relErr(a.epsilon(1e-5).epsilon, 0.7242234026109595)).toBeLessThan(1e-9);
    const b = new RdpAccountant();
    b.charge({ q: 0.001, noiseMultiplier: 1.0, steps: 30000 });
    expect(relErr(b.epsilon(1e-7).epsilon, 1.4154988495444845)).toBeLessThan(1e-9);
  });
  it('raw RDP for q=0.01, z=2.5, 50 steps (dp_accounting test_compute_rdp_poisson_sampled_gaussian)', () => {
    const got = computeRdp(0.01, 2.5, 50, [1.5, 2.5, 5, 50, 100, Infinity]);
    const want = [1.0854871e-3, 2.18075656e-3, 2.38460375e-2, 1.67416308e2];
    want.forEach((w, k) => expect(relErr(got[k + 1], w)).toBeLessThan(1e-4));
    expect(got[5]).toBe(Infinity);
    // At α = 1.5 dp_accounting's 6.70579741e-4 sums |C(α,i)|, an upper bound 3% above A_α itself;
    // TF Privacy's rdp_accountant_test had 0.00065 (±1e-5) from the signed series, and the
    // quadrature in test/privacy/vectors/rdp_frac_mpmath.py gives 50 × 1.3001417943760795e-5.
    expect(Math.abs(got[0] - 0.00065)).toBeLessThan(1e-5);
    expect(relErr(got[0], 50 * 1.3001417943760795e-5)).toBeLessThan(1e-9);
    expect(got[0]).toBeLessThan(6.70579741e-4 * 0.98);
  });
});

describe('fractional orders against an independent quadrature (test/privacy/vectors/rdp_frac_mpmath.py)', () => {
  // Output of test/privacy/vectors/rdp_frac_mpmath.py (mpmath, 50 digits): A_α integrated from its
  // definition, not from the binomial series rdp.ts sums. (q, z, α, log A_α, ε(α) = log A_α / (α - 1)).
  const vectors: [number, number, number, number, number][] = [
    [0.05, 0.6, 1.6, 0.013140674231668144, 0.021901123719446904],
    [0.05, 0.6, 2.5, 0.12344979970785146, 0.082299866471900976],
    [0.05, 0.6, 2.8, 0.27425550458552053, 0.15236416921417809],
    [0.05, 0.6, 3.6, 2.3697010949478243, 0.91142349805685548],
    [0.05, 0.6, 3.7, 2.8915954497127493, 1.0709612776713886],
    [0.05, 0.6, 10.5, 107.08647779504064, 11.272260820530594],
    [0.01, 2.5, 1.5, 6.5007089718803974e-6, 1.3001417943760795e-5],
    [0.01, 2.5, 2.5, 3.2562541707543729e-5, 2.1708361138362486e-5],
    [0.1, 1.0, 3.7, 0.13049538595027732, 0.048331624426028632],
    [0.01, 1.1, 10.5, 0.0091890773996811935, 0.00096727130522959932],
    [0.2, 2.0, 1.5, 0.0041407165866185279, 0.0082814331732370559],
    [0.001, 0.8, 2.5, 7.099785467772506e-6, 4.7331903118483374e-6],
  ];
  // 1e-10 relative, plus 1e-13 absolute on log A_α: A_α = 1 + O(q²) is summed in double
  // precision, so log A_α carries an absolute error of a few 1e-14 however small it is.
  const close = (got: number, want: number, scale = 1): boolean => Math.abs(got - want) <= 1e-10 * Math.abs(want) + 1e-13 * scale;
  it.each(vectors)('q=%s z=%s α=%s: log A_α and ε(α) match the quadrature', (q, z, alpha, logA, eps) => {
    const got = computeLogAFrac(q, z, alpha);
    expect(close(got, logA), `log A_α = ${got}, quadrature ${logA}`).toBe(true);
    const rdp = rdpOneStep(q, z, alpha);
    expect(close(rdp, eps, 1 / (alpha - 1)), `ε(α) = ${rdp}, quadrature ${eps}`).toBe(true);
  });
  it('(ε, δ) of 10 steps at q=0.05, z=0.6, δ=1e-5 with the default orders: 6.9058678553011145 at order 2.8', () => {
    // Same script: 10 × ε(α) from the quadrature at every default order, then the conversion of
    // conversion.ts (Canonne, Kamath & Steinke 2020, Prop. 12) minimised over orders.
    const r = epsilonFromRdp(DEFAULT_RDP_ORDERS, computeRdp(0.05, 0.6, 10, DEFAULT_RDP_ORDERS), 1e-5);
    expect(r.order).toBe(2.8);
    expect(relErr(r.epsilon, 6.9058678553011145), `ε = ${r.epsilon}`).toBeLessThan(1e-10);
  });
});

describe('RDP properties', () => {
  it('default orders match dp_accounting DEFAULT_RDP_ORDERS', () => {
    expect(DEFAULT_RDP_ORDERS.length).toBe(99 + 53 + 4);
    expect(DEFAULT_RDP_ORDERS[0]).toBe(1.1);
    expect(DEFAULT_RDP_ORDERS[98]).toBe(10.9);
    expect(DEFAULT_RDP_ORDERS.slice(99, 101)).toEqual([11, 12]);
    expect(DEFAULT_RDP_ORDERS.slice(-5)).toEqual([63, 128, 256, 512, 1024]);
  });
  it('q = 1 is the plain Gaussian α/(2z²) exactly', () => {
    const orders = [1.5, 2, 7.3, 32, 1024];
    const z = 1.7;
    expect(computeRdp(1, z, 1, orders)).toEqual(orders.map((a) => a / (2 * z * z)));
    expect(computeRdp(1, z, 3, orders)).toEqual(orders.map((a) => 3 * (a / (2 * z * z))));
  });
  it('q = 0 charges nothing; z = 0 is infinite', () => {
    expect(computeRdp(0, 0, 100, [2, 3.5])).toEqual([0, 0]);
    expect(computeRdp(0.1, 0, 1, [2, 3.5])).toEqual([Infinity, Infinity]);
    const a = new RdpAccountant();
    a.charge({ q: 0, noiseMultiplier: 1, steps: 1000 });
    expect(a.epsilon(1e-5).epsilon).toBe(0);
    a.charge({ q: 0.1, noiseMultiplier: 0 });
    expect(a.epsilon(1e-5).epsilon).toBe(Infinity);
  });
  it('rejects invalid parameters', () => {
    expect(() => computeRdp(1.5, 1, 1, [2])).toThrow(RangeError);
    expect(() => computeRdp(0.1, -1, 1, [2])).toThrow(RangeError);
    expect(() => computeRdp(0.1, 1, 1.5, [2])).toThrow(RangeError);
    expect(() => computeRdp(0.1, 1, 1, [1])).toThrow(RangeError);
    expect(() => epsilonFromRdp([2], [1], -1)).toThrow(RangeError);
  });
  it('composition of two different (q, z) events equals the sum of their RDP', () => {
    const a = new RdpAccountant();
    a.charge({ q: 0.01, noiseMultiplier: 1.1, steps: 100 });
    a.charge({ q: 0.05, noiseMultiplier: 2.3, steps: 7 });
    const r1 = computeRdp(0.01, 1.1, 100, DEFAULT_RDP_ORDERS);
    const r2 = computeRdp(0.05, 2.3, 7, DEFAULT_RDP_ORDERS);
    expect(a.rdp).toEqual(r1.map((r, k) => r + r2[k]));
    expect(a.epsilon(1e-6)).toEqual(epsilonFromRdp(DEFAULT_RDP_ORDERS, r1.map((r, k) => r + r2[k]), 1e-6));
  });
  it('ε decreases as z grows', () => {
    const zs = [0.5, 0.8, 1, 1.5, 2, 4, 8];
    const eps = zs.map((z) => epsilonFor(0.01, z, 1000, 1e-5));
    for (let k = 1; k < eps.length; k++) expect(eps[k]).toBeLessThan(eps[k - 1]);
  });
  it('δ = 0 gives ε = ∞ unless nothing was spent', () => {
    expect(epsilonFromRdp([2, 3], [0, 0], 0)).toEqual({ epsilon: 0, order: 0 });
    expect(epsilonFromRdp([2, 3], [0.1, 0.2], 0)).toEqual({ epsilon: Infinity, order: 0 });
  });
});

describe('RdpAccountant', () => {
  const budget = { epsilon: 1, delta: 1e-5 };
  it('wouldExceed is true exactly when charging pushes ε past the budget', () => {
    const a = new RdpAccountant();
    const round = { q: 0.01, noiseMultiplier: 1.5, steps: 5 };
    let charged = 0;
    while (!a.wouldExceed(round, budget)) {
      const before = a.epsilon(budget.delta).epsilon;
      a.charge(round);
      charged++;
      expect(a.epsilon(budget.delta).epsilon).toBeLessThanOrEqual(budget.epsilon);
      expect(a.epsilon(budget.delta).epsilon).toBeGreaterThanOrEqual(before);
    }
    expect(charged).toBeGreaterThan(2);
    const probe = RdpAccountant.fromJSON(a.toJSON());
    probe.charge(round);
    expect(probe.epsilon(budget.delta).epsilon).toBeGreaterThan(budget.epsilon);
    // Not charged by asking.
    expect(a.ledger.length).toBe(charged);
  });
  it('wouldExceed boundary: ε equal to the budget is allowed, anything below it is exceeded', () => {
    const a = new RdpAccountant();
    a.charge({ q: 0.02, noiseMultiplier: 1.1, steps: 50 });
    const ev = { q: 0.02, noiseMultiplier: 1.1, steps: 25 };
    const after = a.epsilonAfter(ev, 1e-5).epsilon;
    expect(a.wouldExceed(ev, { epsilon: after, delta: 1e-5 })).toBe(false);
    expect(a.wouldExceed(ev, { epsilon: after * (1 - 1e-12), delta: 1e-5 })).toBe(true);
    a.charge(ev);
    expect(a.epsilon(1e-5).epsilon).toBe(after);
  });
  it('ledger JSON round trip reproduces events, RDP and ε', () => {
    const a = new RdpAccountant([1.5, 2, 4, 16, 64]);
    a.charge({ q: 0.02, noiseMultiplier: 1.2, steps: 40 });
    a.charge({ q: 0.5, noiseMultiplier: 3 });
    const text = JSON.stringify(a);
    const b = RdpAccountant.fromJSON(JSON.parse(text));
    expect(b.toJSON()).toEqual(a.toJSON());
    expect(b.rdp).toEqual(a.rdp);
    expect(b.epsilon(1e-6)).toEqual(a.epsilon(1e-6));
    expect(RdpAccountant.fromJSON(text).rdp).toEqual(a.rdp);
    expect(a.toJSON().events[1].steps).toBe(1);
    expect(() => RdpAccountant.fromJSON({ version: 2 })).toThrow(TypeError);
    expect(() => RdpAccountant.fromJSON({ version: 1, orders: [2], events: [{ q: 'x' }] })).toThrow(TypeError);
  });
});

describe('calibrateNoiseMultiplier', () => {
  it('returns the smallest z (to tolerance) meeting the target', () => {
    const opts = { targetEpsilon: 2, delta: 1e-5, q: 0.01, rounds: 500, tolerance: 1e-3 };
    const z = calibrateNoiseMultiplier(opts);
    expect(epsilonFor(opts.q, z, opts.rounds, opts.delta)).toBeLessThanOrEqual(opts.targetEpsilon);
    expect(epsilonFor(opts.q, z - opts.tolerance, opts.rounds, opts.delta)).toBeGreaterThan(opts.targetEpsilon);
  });
  it('reproduces the published point: target 0.7242234026109595 at q=0.0025, 6000 rounds → z ≈ 1.3', () => {
    const z = calibrateNoiseMultiplier({ targetEpsilon: 0.7242234026109595, delta: 1e-5, q: 0.0025, rounds: 6000, tolerance: 1e-6, orders: TF_PRIVACY_DP_SGD_ORDERS });
    expect(Math.abs(z - 1.3)).toBeLessThan(2e-6);
  });
  it('q = 0 needs no noise; unreachable targets throw a clear error', () => {
    expect(calibrateNoiseMultiplier({ targetEpsilon: 0.1, delta: 1e-5, q: 0, rounds: 100 })).toBe(0);
    expect(() => calibrateNoiseMultiplier({ targetEpsilon: 1e-6, delta: 1e-5, q: 1, rounds: 1000, maxNoiseMultiplier: 10 })).toThrow(/unreachable/);
    expect(() => calibrateNoiseMultiplier({ targetEpsilon: -1, delta: 1e-5, q: 0.1, rounds: 1 })).toThrow(RangeError);
  });
});
