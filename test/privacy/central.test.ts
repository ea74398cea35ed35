// Central DP on a fixed-point grid (privacy/central/gridNoise.ts): the plan
// (grid, sensitivity, integer σ²), the released values (grid multiples with
// discrete Gaussian noise of the planned spread, independent of the sum), and
// the noised count. Expected values are computed by hand in the comments or
// follow from the mechanism's definition; the statistics use a seeded source
// and tolerances of a few standard errors.
import { Rng } from '../../recommender/random.ts';
import { describe, expect, it } from 'vitest';
import { GRID_FACTOR, addGridNoise, noisyCount, planGridNoise } from '../../privacy/central/index.ts';
import { SeededRandomSource } from '../../privacy/noise/index.ts';

const relErr = (a: number, b: number): number => Math.abs(a - b) / Math.abs(b);

function meanStd(v: ArrayLike<number>): { mean: number; std: number; variance: number } {
  let s = 0;
  for (let i = 0; i < v.length; i++) s += v[i];
  const mean = s / v.length;
  let ss = 0;
  for (let i = 0; i < v.length; i++) ss += (v[i] - mean) ** 2;
  const variance = ss / (v.length - 1);
  return { mean, std: Math.sqrt(variance), variance };
}

/** |x/step − round(x/step)|: how far x is from the grid, in grid units. */
const offGrid = (x: number, step: number): number => Math.abs(x / step - Math.round(x / step));

describe('GRID_FACTOR', () => {
  it('is 1000: rounding widens the sensitivity by at most 0.1%', () => {
    expect(GRID_FACTOR).toBe(1000);
  });
});

// The float rounding share of the sensitivity, written out from the derivation in
// privacy/central/sensitivity.ts (an independent transcription of the formula):
// slack = √d·2⁻²⁶ + 2⁻²³·W·(1 + γ(d+4)) + 2·γ(d+4)·W + 2·(1 + 2⁻²³)·W·(γ(d+3) + n·γ(n) + n·u)
const u = 2 ** -53;
const g = (k: number) => (k * u) / (1 - k * u);
function slackOf(d: number, W = 1, n = 1): number {
  return Math.sqrt(d) * 2 ** -26 + 2 ** -23 * W * (1 + g(d + 4)) + 2 * g(d + 4) * W + 2 * (1 + 2 ** -23) * W * (g(d + 3) + n * g(n) + n * u);
}
const F = (d: number, W = 1, n = 1) => 1 + slackOf(d, W, n);

describe('planGridNoise', () => {
  it('d = 100: K = 1000·10 = 10000, sensitivity 10000·(1 + slack) + 10, σ² rounded up from its square', () => {
    // slack(100) = 10·2⁻²⁶ + 2⁻²³ + O(10⁻¹³) = 1.4901e-7 + 1.1921e-7 = 2.6822e-7
    expect(slackOf(100)).toBeCloseTo(2.6822090e-7, 13);
    const F1 = F(100);
    const C = 0.5;
    const p = planGridNoise(C, 1, 100);
    expect(p.size).toBe(100);
    expect(p.clipNorm).toBe(C);
    expect(p.noiseMultiplier).toBe(1);
    expect(p.scale).toBe(10000);
    expect(p.slack).toBeCloseTo(slackOf(100), 18);
    expect(p.sensitivity).toBeCloseTo(10000 * F1 + 10, 9); // 10010.0026822…
    // its square is rounded up and never below it.
    const sq = (10000 * F1 + 10) ** 2;
    expect(p.sigma2.den).toBe(1n);
    expect(Number(p.sigma2.num)).toBeGreaterThanOrEqual(sq);
    expect(Number(p.sigma2.num)).toBeLessThan(sq + 2);
    expect(p.step).toBeCloseTo(0.5 / 10000, 18);
    // z·C·(F1 + √d/K) = 0.5·(1.00000018 + 10/10000) ≈ 0.5005
    expect(relErr(p.stddev, 0.5 * (F1 + 0.001))).toBeLessThan(1e-6);
  });

  it('d = 12: K = ⌈1000·3.4641016…⌉ = 3465', () => {
    const F1 = F(12);
    const C = 2;
    const z = 0.7;
    const p = planGridNoise(C, z, 12);
    expect(p.scale).toBe(3465);
    const root12 = 3.4641016151377544;
    expect(p.sensitivity).toBeCloseTo(3465 * F1 + root12, 9);
    // σ = 0.7·(3465·F1 + 3.4641016…) ≈ 0.7·3468.4641016 = 2427.9248711 (the slack adds ~5e-4)
    const sigma = z * (3465 * F1 + root12);
    expect(sigma).toBeCloseTo(2427.9248711, 2);
    const lo = sigma * sigma;
    expect(Number(p.sigma2.num)).toBeGreaterThanOrEqual(lo);
    expect(Number(p.sigma2.num)).toBeLessThan(lo + 2);
    expect(p.sigma2.den).toBe(1n);
    expect(p.step).toBeCloseTo(2 / 3465, 15);
    // z·C·(F1 + √d/K) = 1.4·(F1 + 3.4641016/3465)
    expect(relErr(p.stddev, z * C * (F1 + root12 / 3465))).toBeLessThan(1e-6);
  });

  it('the scale is ⌈1000·√d⌉ for several sizes (hand values)', () => {
    // √1 = 1 → 1000; √2 = 1.41421356… → 1415; √20000 = 141.4213562… → 141422; √10⁶ = 1000 → 10⁶
    const cases: Array<[number, number]> = [
      [1, 1000],
      [2, 1415],
      [20000, 141422],
      [1_000_000, 1_000_000],
    ];
    for (const [d, K] of cases) {
      const p = planGridNoise(1, 1, d);
      expect(p.scale, `d = ${d}`).toBe(K);
      expect(Number.isInteger(p.scale)).toBe(true);
      // K·γ = C: the clip norm is exactly K grid steps (up to float rounding of C/K·K)
      expect(relErr(p.scale * p.step, 1)).toBeLessThan(1e-15);
    }
  });

  it('the rounding share of the sensitivity is at most 1/GRID_FACTOR and σ ≥ z·sensitivity for many (C, z, d)', () => {
    for (const d of [1, 3, 7, 64, 999, 12345, 250000]) {
      for (const z of [0.3, 1, 1.7, 8]) {
        for (const C of [0.01, 1, 42]) {
          const p = planGridNoise(C, z, d);
          const root = Math.sqrt(d);
          expect(p.scale).toBeGreaterThanOrEqual(1000 * root);
          expect(p.scale).toBeLessThan(1000 * root + 1);
          const F1 = F(d);
          expect(p.sensitivity / p.scale).toBeLessThanOrEqual(F1 + 1 / GRID_FACTOR + 1e-15);
          const target = (z * (p.scale * F1 + root)) ** 2;
          expect(Number(p.sigma2.num)).toBeGreaterThanOrEqual(target);
          expect(Number(p.sigma2.num)).toBeLessThan(target + 2 + target * 1e-15);
          expect(relErr(p.step, C / p.scale)).toBeLessThan(1e-15);
          // σ² is rounded up by less than 2 grid units²: the model-unit stddev is never below
          // z·C·(F1 + √d/K) and above it by a factor below √(1 + 2/σ²) ≤ 1 + 1/σ²
          const ideal = z * C * (F1 + root / p.scale);
          expect(p.stddev).toBeGreaterThanOrEqual(ideal * (1 - 1e-15));
          expect(p.stddev).toBeLessThanOrEqual(ideal * (1 + 1 / target + 1e-15));
          if (target >= 1e6) expect(relErr(p.stddev, ideal)).toBeLessThan(1e-6);
          expect(ideal).toBeLessThanOrEqual((1.001 + slackOf(d)) * z * C * (1 + 1e-15));
        }
      }
    }
  });

  it('noise multiplier 0 plans no noise', () => {
    const p = planGridNoise(1.5, 0, 50);
    expect(p.sigma2.num).toBe(0n);
    expect(p.stddev).toBe(0);
    expect(p.scale).toBe(Math.ceil(1000 * Math.sqrt(50)));
  });

  it('rejects bad arguments with a RangeError naming the argument', () => {
    const bad: Array<[() => unknown, RegExp]> = [
      [() => planGridNoise(0, 1, 10), /clipNorm/],
      [() => planGridNoise(-1, 1, 10), /clipNorm/],
      [() => planGridNoise(NaN, 1, 10), /clipNorm/],
      [() => planGridNoise(Infinity, 1, 10), /clipNorm/],
      [() => planGridNoise(1, -0.5, 10), /noiseMultiplier/],
      [() => planGridNoise(1, NaN, 10), /noiseMultiplier/],
      [() => planGridNoise(1, Infinity, 10), /noiseMultiplier/],
      [() => planGridNoise(1, 1, 0), /size/],
      [() => planGridNoise(1, 1, -3), /size/],
      [() => planGridNoise(1, 1, 2.5), /size/],
      [() => planGridNoise(1, 1, NaN), /size/],
    ];
    for (const [f, re] of bad) {
      expect(f).toThrow(RangeError);
      expect(f).toThrow(re);
    }
  });
});

describe('addGridNoise', () => {
  it('with z = 0 it rounds every value to the nearest grid point', () => {
    const d = 1000;
    const C = 0.75;
    const plan = planGridNoise(C, 0, d);
    const step = C / Math.ceil(1000 * Math.sqrt(d));
    const rng = new SeededRandomSource(1);
    const x = new Float64Array(d);
    let state = 12345;
    for (let i = 0; i < d; i++) {
      state = (Math.imul(state, 1103515245) + 12345) >>> 0;
      // magnitudes from ~1e-6 to ~10, both signs
      x[i] = ((state / 2 ** 32 - 0.5) * 20) * 10 ** -((i % 7));
    }
    x[0] = 0;
    x[1] = step * 3; // already on the grid
    x[2] = -step * 17;
    x[3] = step * 0.49; // rounds to 0
    x[4] = -step * 5.51; // rounds to −6
    const out = Float64Array.from(x);
    addGridNoise(out, plan, rng);
    for (let i = 0; i < d; i++) {
      expect(offGrid(out[i], step)).toBeLessThan(1e-6);
      expect(Math.abs(out[i] - x[i])).toBeLessThanOrEqual(step / 2 + 1e-12 * Math.max(1, Math.abs(x[i])));
    }
    expect(out[0]).toBe(0);
    expect(relErr(out[1], 3 * step)).toBeLessThan(1e-12);
    expect(relErr(out[2], -17 * step)).toBeLessThan(1e-12);
    expect(Math.abs(out[3])).toBe(0);
    expect(relErr(out[4], -6 * step)).toBeLessThan(1e-12);
  });

  // One noised zero sum of length 20000, shared by the statistical checks below.
  const d = 20000;
  const C = 2.5;
  const z = 0.8;
  const plan = planGridNoise(C, z, d);
  // K = 141422 (hand: 1000·141.42135… rounded up); σ_model = z·C·(1 + slack + √d/K) ≈ 2.002
  const expectedStd = z * C * (F(d) + Math.sqrt(d) / 141422);

  it('with z > 0 every released value is a grid multiple and the noise has the planned spread', () => {
    expect(plan.scale).toBe(141422);
    expect(relErr(plan.stddev, expectedStd)).toBeLessThan(1e-6);
    const out = new Float64Array(d);
    addGridNoise(out, plan, new SeededRandomSource(2024));
    for (let i = 0; i < d; i++) expect(offGrid(out[i], plan.step)).toBeLessThan(1e-6);
    const { mean, std } = meanStd(out);
    // mean: standard error σ/√n; std: standard error ≈ σ/√(2n)
    expect(Math.abs(mean)).toBeLessThan((4 * expectedStd) / Math.sqrt(d));
    expect(Math.abs(std - expectedStd)).toBeLessThan((4 * expectedStd) / Math.sqrt(2 * d));
    // not degenerate: many distinct values
    expect(new Set(out).size).toBeGreaterThan(d / 2);
  });

  it('the noise does not depend on the sum: an on-grid shift passes through exactly', () => {
    const shift = new Float64Array(d);
    for (let i = 0; i < d; i++) shift[i] = ((i % 41) - 20) * 1000 * plan.step; // multiples of the step, up to ±50
    const base = new Float64Array(d);
    addGridNoise(base, plan, new SeededRandomSource(7));
    const moved = Float64Array.from(shift);
    addGridNoise(moved, plan, new SeededRandomSource(7));
    // same random stream: released(S + c) − released(S) = c
    for (let i = 0; i < d; i++) expect(Math.abs(moved[i] - base[i] - shift[i])).toBeLessThan(1e-9);
    // with a different stream, released(c) − c still has the planned spread and mean 0
    const other = Float64Array.from(shift);
    addGridNoise(other, plan, new SeededRandomSource(8));
    const diff = other.map((v, i) => v - shift[i]);
    const { mean, std } = meanStd(diff);
    expect(Math.abs(mean)).toBeLessThan((4 * expectedStd) / Math.sqrt(d));
    expect(Math.abs(std - expectedStd)).toBeLessThan((4 * expectedStd) / Math.sqrt(2 * d));
    // and it is a different draw from base
    let same = 0;
    for (let i = 0; i < d; i++) if (Math.abs(diff[i] - base[i]) < 1e-12) same++;
    expect(same).toBeLessThan(d / 100);
  });

  it('is reproducible from a seeded source and differs between seeds', () => {
    const p = planGridNoise(1, 1, 50);
    const a = new Float64Array(50);
    const b = new Float64Array(50);
    const c = new Float64Array(50);
    addGridNoise(a, p, new SeededRandomSource(99));
    addGridNoise(b, p, new SeededRandomSource(99));
    addGridNoise(c, p, new SeededRandomSource(100));
    expect(Array.from(a)).toEqual(Array.from(b));
    expect(Array.from(a)).not.toEqual(Array.from(c));
  });

  it('rejects a length mismatch and non-finite values', () => {
    const p = planGridNoise(1, 1, 8);
    const rng = new SeededRandomSource(3);
    expect(() => addGridNoise(new Float64Array(7), p, rng)).toThrow(RangeError);
    expect(() => addGridNoise(new Float64Array(9), p, rng)).toThrow(/8/);
    for (const bad of [NaN, Infinity, -Infinity]) {
      const s = new Float64Array(8);
      s[5] = bad;
      s[0] = 0.123;
      expect(() => addGridNoise(s, p, rng)).toThrow(RangeError);
      // nothing was changed before the refusal (no half-noised sum is left behind)
      expect(s[0]).toBe(0.123);
    }
    const p0 = planGridNoise(1, 0, 3);
    expect(() => addGridNoise(Float64Array.of(1, NaN, 2), p0, rng)).toThrow(RangeError);
  });
});

describe('noisyCount', () => {
  it('stddev 0 returns the count unchanged', () => {
    const rng = new SeededRandomSource(5);
    for (const c of [0, 1, -7, 123456, -(2 ** 40)]) expect(noisyCount(c, 0, rng)).toBe(c);
  });

  it('returns integers with mean count and variance σ² (σ = 3)', () => {
    const rng = new SeededRandomSource(11);
    const n = 20000;
    const count = 17;
    const draws = new Float64Array(n);
    for (let i = 0; i < n; i++) {
      const v = noisyCount(count, 3, rng);
      expect(Number.isInteger(v)).toBe(true);
      draws[i] = v;
    }
    const { mean, variance } = meanStd(draws);
    // variance of a discrete Gaussian with σ² = 9 is 9 within 1e-6; SE of the sample
    // variance ≈ √(2σ⁴/n) = √(162/20000) ≈ 0.09, of the mean 3/√n ≈ 0.021
    expect(Math.abs(mean - count)).toBeLessThan(4 * (3 / Math.sqrt(n)));
    expect(Math.abs(variance - 9)).toBeLessThan(4 * Math.sqrt(162 / n));
  });

  it('a small stddev still noises: σ = 0.5 gives a nonzero spread', () => {
    const rng = new SeededRandomSource(12);
    const draws = Array.from({ length: 4000 }, () => noisyCount(0, 0.5, rng));
    expect(draws.every(Number.isInteger)).toBe(true);
    expect(draws.some((v) => v !== 0)).toBe(true);
    // P[X = 0] for N_ℤ(0, 0.25): 1/Σ exp(−2x²) = 1/(1 + 2e^{−2} + 2e^{−8} + …) ≈ 0.78645
    const p0 = draws.filter((v) => v === 0).length / draws.length;
    expect(Math.abs(p0 - 0.78645)).toBeLessThan(4 * Math.sqrt((0.78645 * 0.21355) / draws.length));
  });

  it('rejects a non-integer count and a bad stddev', () => {
    const rng = new SeededRandomSource(13);
    expect(() => noisyCount(1.5, 1, rng)).toThrow(RangeError);
    expect(() => noisyCount(NaN, 1, rng)).toThrow(RangeError);
    expect(() => noisyCount(2 ** 60, 1, rng)).toThrow(RangeError);
    expect(() => noisyCount(3, -1, rng)).toThrow(RangeError);
    expect(() => noisyCount(3, NaN, rng)).toThrow(RangeError);
    expect(() => noisyCount(3, Infinity, rng)).toThrow(RangeError);
  });
});

describe('the grid sensitivity bound (what the noise is calibrated to)', () => {
  it('holds for random neighbouring sums: ‖round(S/γ) − round(S′/γ)‖ ≤ K + √d when ‖S − S′‖ ≤ C', () => {
    const rng = new Rng(11);
    for (const d of [1, 7, 100, 5000]) {
      const C = 0.3;
      const p = planGridNoise(C, 0, d);
      const k = p.scale / C;
      for (let t = 0; t < 20; t++) {
        const S = Float64Array.from({ length: d }, () => (rng.next() - 0.5) * 50);
        const v = Float64Array.from({ length: d }, () => rng.next() - 0.5);
        let n = 0;
        for (const x of v) n += x * x;
        const scale = (C * rng.next()) / Math.sqrt(n);
        let sq = 0;
        for (let i = 0; i < d; i++) sq += (Math.round(S[i] * k) - Math.round((S[i] + v[i] * scale) * k)) ** 2;
        expect(Math.sqrt(sq)).toBeLessThanOrEqual(p.scale + Math.sqrt(d));
      }
    }
  });

  it('widens by the float rounding of updates of up to W contributions and n updates: K·(1 + slack) + √d', () => {
    const one = planGridNoise(1, 1, 100);
    const many = planGridNoise(1, 1, 100, { maxWeight: 1000, maxUpdates: 300 });
    // K = 10000, √d = 10; W = 1000: 2⁻²³·1000 = 1.19e-4 dominates
    expect(one.sensitivity).toBeCloseTo(10000 * F(100) + 10, 9);
    expect(many.slack).toBeCloseTo(slackOf(100, 1000, 300), 15);
    expect(many.sensitivity).toBeCloseTo(10000 * F(100, 1000, 300) + 10, 8);
    expect(many.stddev / one.stddev).toBeCloseTo(many.sensitivity / one.sensitivity, 6);
    expect(() => planGridNoise(1, 1, 100, { maxWeight: 0 })).toThrow(/maxWeight/);
    expect(() => planGridNoise(1, 1, 100, { maxUpdates: 1.5 })).toThrow(/maxUpdates/);
  });

  it('refuses, when planning, settings whose largest possible sum could leave float64 exact range (K·n·W ≥ 2⁵²)', () => {
    // d = 9.4e7: K = ⌈1000·9695.4⌉ ≈ 9.7e6; n·W = 2e4·3.8e4 = 7.6e8; K·n·W ≈ 7.4e15 > 2⁵² ≈ 4.5e15 (slack ≈ 0.9%, allowed)
    expect(() => planGridNoise(1, 1, 94_000_000, { maxWeight: 38_000, maxUpdates: 20_000 })).toThrow(/could leave float64's exact range/);
    expect(() => planGridNoise(1, 1, 94_000_000, { maxWeight: 38_000, maxUpdates: 2_000 })).not.toThrow();
  });

  it('refuses settings whose float rounding could exceed 1% of the clip (W = 10⁶: 2⁻²³·10⁶ ≈ 12%)', () => {
    expect(() => planGridNoise(1, 1, 100, { maxWeight: 1_000_000 })).toThrow(/float rounding could move the released sum by 11\.9\d% of the clip norm/);
    expect(() => planGridNoise(1, 1, 100, { maxWeight: 80_000 })).not.toThrow(); // 2⁻²³·8·10⁴ ≈ 0.95%
  });

  it('refuses sums so large that grid point + noise would not be exact in float64', () => {
    const p = planGridNoise(1, 1, 4);
    const s = Float64Array.of(0, 2 ** 52 / p.scale, 0, 0);
    expect(() => addGridNoise(s, p, new SeededRandomSource(1))).toThrow(/a value of the sum is not finite or not within 2\^52 grid steps; nothing was released/);
    // the message carries neither the value nor which coordinate (it can reach a published record)
    expect(() => addGridNoise(s, p, new SeededRandomSource(1))).not.toThrow(new RegExp(String(s[1]).slice(0, 6)));
    expect(() => addGridNoise(s, p, new SeededRandomSource(1))).not.toThrow(/\b1\b/);
  });
});
