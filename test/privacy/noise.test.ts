import { describe, expect, it } from 'vitest';
import {
  CryptoRandomSource,
  DiscreteGaussianSampler,
  SeededRandomSource,
  discreteGaussianVector,
  isqrt,
  normalizeSigma2,
  rationalFromNumber,
  sampleBernoulli,
  sampleBernoulliExp,
  sampleDiscreteGaussian,
  sampleDiscreteLaplace,
  type RandomSource,
  type Sigma2,
} from '../../privacy/noise/index.ts';

/** Reference discrete Gaussian from the definition (float64 sums, |x| ≤ R). */
function reference(sigma2: number, R = 60 + Math.ceil(40 * Math.sqrt(sigma2))) {
  let z = 0;
  let m2 = 0;
  let m4 = 0;
  for (let x = -R; x <= R; x++) {
    const w = Math.exp((-x * x) / (2 * sigma2));
    z += w;
    m2 += x * x * w;
    m4 += x ** 4 * w;
  }
  const pmf = (x: number) => Math.exp((-x * x) / (2 * sigma2)) / z;
  return { z, variance: m2 / z, fourth: m4 / z, pmf };
}

function draw(n: number, sigma2: Sigma2, rng: RandomSource): number[] {
  const s = new DiscreteGaussianSampler(sigma2, rng);
  const out = new Array<number>(n);
  for (let i = 0; i < n; i++) out[i] = Number(s.sample());
  return out;
}

/**
 * Mean, variance (5 standard errors via the 4th moment) and pmf of small values against the reference.
 * Seven 5-standard-error bounds: by the CLT a correct sampler fails each with probability ≈ 5.7e-7,
 * so a call fails with probability < 4e-6 (a fixed outcome for a seeded source). Messages carry the
 * observed values, since a CSPRNG run cannot be replayed.
 */
function checkDiscreteGaussian(samples: number[], sigma2: number): void {
  const n = samples.length;
  const ref = reference(sigma2);
  let sum = 0;
  let sq = 0;
  const counts = new Map<number, number>();
  for (const x of samples) {
    expect(Number.isInteger(x)).toBe(true);
    sum += x;
    sq += x * x;
    counts.set(x, (counts.get(x) ?? 0) + 1);
  }
  const mean = sum / n;
  expect(Math.abs(mean), `mean ${mean} of ${n} draws`).toBeLessThan((5 * Math.sqrt(ref.variance)) / Math.sqrt(n));
  // Mean is known (0), so E[X²] estimates the variance; SE = sqrt((E[X⁴] − Var²)/n).
  const m2 = sq / n;
  const se = Math.sqrt((ref.fourth - ref.variance ** 2) / n);
  expect(Math.abs(m2 - ref.variance), `E[X²] ${m2} of ${n} draws, want ${ref.variance}`).toBeLessThan(5 * se);
  for (const x of [0, 1, -1, 2, -2]) {
    const p = ref.pmf(x);
    const pHat = (counts.get(x) ?? 0) / n;
    expect(Math.abs(pHat - p), `P(${x}) ${pHat} of ${n} draws, want ${p}`).toBeLessThan(5 * Math.sqrt((p * (1 - p)) / n) + 1e-12);
  }
}

describe('reference constants (Canonne, Kamath & Steinke 2020)', () => {
  it('σ² = 1: normalising constant and variance match the published values', () => {
    let z = 0;
    let m2 = 0;
    for (let x = -60; x <= 60; x++) {
      const w = Math.exp((-x * x) / 2);
      z += w;
      m2 += x * x * w;
    }
    expect(Math.abs(z - 2.506628288042905)).toBeLessThan(1e-12);
    expect(Math.abs(m2 / z - 0.9999997887677282)).toBeLessThan(1e-12);
    // The reference helper used by the statistical tests agrees.
    expect(Math.abs(reference(1).z - 2.506628288042905)).toBeLessThan(1e-12);
    expect(Math.abs(reference(1).variance - 0.9999997887677282)).toBeLessThan(1e-12);
  });
});

describe('discrete Gaussian sampler (CKS20 Algorithm 3)', () => {
  it('σ² = 1: mean, variance and P(0), P(±1), P(±2) within CLT bounds (seeded, n = 60,000)', () => {
    checkDiscreteGaussian(draw(60_000, { num: 1n, den: 1n }, new SeededRandomSource(1)), 1);
  });

  it('σ² = 1 with the default CSPRNG source (n = 20,000)', () => {
    // About the default source, so not seedable: false-failure probability < 4e-6 (checkDiscreteGaussian).
    const s = new DiscreteGaussianSampler(1);
    const xs = Array.from({ length: 20_000 }, () => Number(s.sample()));
    checkDiscreteGaussian(xs, 1);
  });

  it('σ² = 0.25 (given as a float)', () => {
    checkDiscreteGaussian(draw(40_000, 0.25, new SeededRandomSource(2)), 0.25);
  });

  it('σ² = 100 (given as a rational)', () => {
    checkDiscreteGaussian(draw(40_000, { num: 100n, den: 1n }, new SeededRandomSource(3)), 100);
  });

  it('σ² = 7/3 (non-integer rational)', () => {
    checkDiscreteGaussian(draw(40_000, { num: 14n, den: 6n }, new SeededRandomSource(4)), 7 / 3);
  });

  it('is reproducible for a fixed seed and differs across seeds', () => {
    const a = draw(200, 4, new SeededRandomSource(42));
    const b = draw(200, 4, new SeededRandomSource(42));
    const c = draw(200, 4, new SeededRandomSource(43));
    expect(a).toEqual(b);
    expect(a).not.toEqual(c);
  });

  it('sampleDiscreteGaussian returns a bigint', () => {
    const x = sampleDiscreteGaussian({ num: 9n, den: 1n }, new SeededRandomSource(5));
    expect(typeof x).toBe('bigint');
    expect(typeof sampleDiscreteGaussian(2)).toBe('bigint');
  });

  it('discreteGaussianVector picks Int32Array for moderate σ and Float64Array for huge σ', () => {
    const v = discreteGaussianVector(20_000, 1, new SeededRandomSource(6));
    expect(v).toBeInstanceOf(Int32Array);
    checkDiscreteGaussian(Array.from(v), 1);
    const big = discreteGaussianVector(300, { num: 10n ** 18n, den: 1n }, new SeededRandomSource(7)); // σ = 10⁹
    expect(big).toBeInstanceOf(Float64Array);
    let sq = 0;
    for (const x of big) {
      expect(Number.isInteger(x)).toBe(true);
      sq += x * x;
    }
    // Sample variance of 300 draws: within ±50% of σ² (≈ 6 standard errors).
    expect(sq / 300 / 1e18).toBeGreaterThan(0.5);
    expect(sq / 300 / 1e18).toBeLessThan(1.5);
    expect(discreteGaussianVector(0, 1)).toHaveLength(0);
  });

  it('rejects invalid σ² with clear errors', () => {
    expect(() => sampleDiscreteGaussian(0)).toThrow(/sigma2 must be a finite number > 0/);
    expect(() => sampleDiscreteGaussian(-1)).toThrow(/sigma2 must be a finite number > 0/);
    expect(() => sampleDiscreteGaussian(Number.NaN)).toThrow(/sigma2 must be a finite number > 0, got NaN/);
    expect(() => sampleDiscreteGaussian(Number.POSITIVE_INFINITY)).toThrow(/sigma2/);
    expect(() => sampleDiscreteGaussian({ num: 0n, den: 1n })).toThrow(/sigma2 must be > 0/);
    expect(() => sampleDiscreteGaussian({ num: -3n, den: 2n })).toThrow(/sigma2 must be > 0/);
    expect(() => sampleDiscreteGaussian({ num: 1n, den: 0n })).toThrow(/denominator must be > 0/);
    expect(() => sampleDiscreteGaussian(1e-9)).toThrow(/too small/);
    expect(() => sampleDiscreteGaussian({ num: 1, den: 1 } as unknown as Sigma2)).toThrow(TypeError);
    expect(() => discreteGaussianVector(-1, 1)).toThrow(/non-negative integer/);
  });
});

describe('σ² helpers', () => {
  it('rationalFromNumber gives the best bounded-denominator fraction', () => {
    expect(rationalFromNumber(0.25)).toEqual({ num: 1n, den: 4n });
    expect(rationalFromNumber(0.1)).toEqual({ num: 1n, den: 10n });
    expect(rationalFromNumber(100)).toEqual({ num: 100n, den: 1n });
    expect(rationalFromNumber(Math.PI, 1000n)).toEqual({ num: 355n, den: 113n });
    expect(rationalFromNumber(2.5e-7, 1_000_000n)).toEqual({ num: 0n, den: 1n });
    expect(() => rationalFromNumber(Number.NaN)).toThrow(RangeError);
  });

  it('normalizeSigma2 reduces fractions and isqrt is exact', () => {
    expect(normalizeSigma2({ num: 14n, den: 6n })).toEqual({ num: 7n, den: 3n });
    for (const n of [0n, 1n, 2n, 3n, 4n, 15n, 16n, 17n, 10n ** 30n, 10n ** 30n - 1n]) {
      const r = isqrt(n);
      expect(r * r <= n && (r + 1n) * (r + 1n) > n).toBe(true);
    }
    expect(new DiscreteGaussianSampler(0.25).t).toBe(1n); // ⌊0.5⌋ + 1
    expect(new DiscreteGaussianSampler({ num: 100n, den: 1n }).t).toBe(11n);
    expect(new DiscreteGaussianSampler({ num: 99n, den: 1n }).t).toBe(10n);
  });
});

describe('Bernoulli samplers (CKS20 Algorithm 1)', () => {
  const n = 40_000;
  it.each([
    [0n, 1n],
    [1n, 3n],
    [1n, 1n],
    [5n, 2n],
  ])('Bernoulli(exp(−%i/%i)) has the right frequency', (num, den) => {
    const rng = new SeededRandomSource(100n + num * 10n + den);
    let hits = 0;
    for (let i = 0; i < n; i++) if (sampleBernoulliExp({ num, den }, rng)) hits++;
    const p = Math.exp(-Number(num) / Number(den));
    if (num === 0n) expect(hits).toBe(n);
    else expect(Math.abs(hits / n - p)).toBeLessThan(5 * Math.sqrt((p * (1 - p)) / n));
  });

  it('Bernoulli(p) for rational p, with validation', () => {
    const rng = new SeededRandomSource(11);
    let hits = 0;
    for (let i = 0; i < n; i++) if (sampleBernoulli({ num: 2n, den: 7n }, rng)) hits++;
    const p = 2 / 7;
    expect(Math.abs(hits / n - p)).toBeLessThan(5 * Math.sqrt((p * (1 - p)) / n));
    expect(sampleBernoulli({ num: 0n, den: 5n }, rng)).toBe(false);
    expect(sampleBernoulli({ num: 5n, den: 5n }, rng)).toBe(true);
    expect(() => sampleBernoulli({ num: 3n, den: 2n }, rng)).toThrow(/≤ 1/);
    expect(() => sampleBernoulliExp({ num: -1n, den: 2n }, rng)).toThrow(/≥ 0/);
    expect(() => sampleBernoulliExp({ num: 1n, den: 0n }, rng)).toThrow(/denominator/);
  });
});

describe('discrete Laplace sampler (CKS20 Algorithm 2)', () => {
  it.each([
    [2n, 1n],
    [3n, 2n],
  ])('scale %i/%i: symmetric, mean |x| = 2q/(1 − q²), P(0) = (1 − q)/(1 + q)', (num, den) => {
    const n = 40_000;
    const b = Number(num) / Number(den);
    const q = Math.exp(-1 / b);
    const pmf = (x: number) => ((1 - q) / (1 + q)) * q ** Math.abs(x);
    let eAbs = 0;
    let eSq = 0;
    for (let x = -400; x <= 400; x++) {
      eAbs += Math.abs(x) * pmf(x);
      eSq += x * x * pmf(x);
    }
    expect(Math.abs(eAbs - (2 * q) / (1 - q * q))).toBeLessThan(1e-12);
    const rng = new SeededRandomSource(200n + num);
    let pos = 0;
    let neg = 0;
    let zero = 0;
    let sum = 0;
    let sumAbs = 0;
    for (let i = 0; i < n; i++) {
      const x = Number(sampleDiscreteLaplace({ num, den }, rng));
      if (x > 0) pos++;
      else if (x < 0) neg++;
      else zero++;
      sum += x;
      sumAbs += Math.abs(x);
    }
    expect(Math.abs(pos - neg)).toBeLessThan(5 * Math.sqrt(pos + neg));
    expect(Math.abs(sum / n)).toBeLessThan(5 * Math.sqrt(eSq / n));
    expect(Math.abs(sumAbs / n - eAbs)).toBeLessThan(5 * Math.sqrt((eSq - eAbs ** 2) / n));
    const p0 = pmf(0);
    expect(Math.abs(zero / n - p0)).toBeLessThan(5 * Math.sqrt((p0 * (1 - p0)) / n));
  });

  it('rejects a non-positive scale', () => {
    expect(() => sampleDiscreteLaplace({ num: 0n, den: 1n })).toThrow(/scale must be > 0/);
  });
});

describe('random sources', () => {
  // The CryptoRandomSource tests are about the CSPRNG, so they cannot be seeded: each states the
  // probability that a correct source fails it, and its message carries what was observed.
  it('CryptoRandomSource.uniformBelow(7) is uniform (chi-square, df = 6)', () => {
    const rng = new CryptoRandomSource();
    const k = 7;
    const n = 70_000;
    const counts = new Array<number>(k).fill(0);
    for (let i = 0; i < n; i++) {
      const v = rng.uniformBelow(BigInt(k));
      expect(v >= 0n && v < BigInt(k)).toBe(true);
      counts[Number(v)]++;
    }
    const e = n / k;
    const chi2 = counts.reduce((s, c) => s + (c - e) ** 2 / e, 0);
    expect(chi2, `χ² ${chi2}, counts ${counts.join(' ')}`).toBeLessThan(35); // P[χ²₆ > 35] ≈ 4.3e-6
  });

  it('multi-word uniformBelow (n > 2³²) stays in range and is uniform over 8 buckets', () => {
    const rng = new CryptoRandomSource(16);
    const big = 3n * 2n ** 40n + 12345n;
    const counts = new Array<number>(8).fill(0);
    const n = 16_000;
    for (let i = 0; i < n; i++) {
      const v = rng.uniformBelow(big);
      expect(v >= 0n && v < big).toBe(true);
      counts[Number((v * 8n) / big)]++;
    }
    const e = n / 8;
    const chi2 = counts.reduce((s, c) => s + (c - e) ** 2 / e, 0);
    expect(chi2, `χ² ${chi2}, counts ${counts.join(' ')}`).toBeLessThan(40); // P[χ²₇ > 40] ≈ 1.3e-6
  });

  it('bit() is fair for both sources; seeded source is deterministic', () => {
    for (const rng of [new CryptoRandomSource(), new SeededRandomSource(9)]) {
      const n = 64_000;
      let ones = 0;
      for (let i = 0; i < n; i++) if (rng.bit()) ones++;
      // 5 standard deviations: the CSPRNG fails it with probability ≈ 5.7e-7.
      expect(Math.abs(ones - n / 2), `${rng.constructor.name}: ${ones} ones in ${n} bits`).toBeLessThan(5 * Math.sqrt(n / 4));
    }
    const a = new SeededRandomSource(123n);
    const b = new SeededRandomSource(123n);
    for (let i = 0; i < 100; i++) expect(a.uniformBelow(1000003n)).toBe(b.uniformBelow(1000003n));
  });

  it('SeededRandomSource.uniformBelow(10) passes chi-square', () => {
    const rng = new SeededRandomSource(77);
    const counts = new Array<number>(10).fill(0);
    const n = 100_000;
    for (let i = 0; i < n; i++) counts[Number(rng.uniformBelow(10n))]++;
    const chi2 = counts.reduce((s, c) => s + (c - n / 10) ** 2 / (n / 10), 0);
    expect(chi2).toBeLessThan(40); // df = 9
  });

  it('validates arguments', () => {
    const rng = new SeededRandomSource(1);
    expect(() => rng.uniformBelow(0n)).toThrow(/≥ 1/);
    expect(() => rng.uniformBelow(5 as unknown as bigint)).toThrow(/bigint/);
    expect(rng.uniformBelow(1n)).toBe(0n);
    expect(() => new CryptoRandomSource(0)).toThrow(/bufferWords/);
  });
});
