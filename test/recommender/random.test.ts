import { describe, expect, it } from 'vitest';
import { Rng, cumulative, mix32, sampleCumulative } from '../../recommender/random.ts';

function draws(rng: Rng, n: number): number[] {
  return Array.from({ length: n }, () => rng.next());
}

function meanVar(xs: number[]): { mean: number; variance: number } {
  const mean = xs.reduce((s, x) => s + x, 0) / xs.length;
  const variance = xs.reduce((s, x) => s + (x - mean) ** 2, 0) / (xs.length - 1);
  return { mean, variance };
}

describe('Rng', () => {
  it('is deterministic per seed', () => {
    expect(draws(new Rng(42), 50)).toEqual(draws(new Rng(42), 50));
  });

  it('differs between seeds', () => {
    const a = draws(new Rng(1), 20);
    const b = draws(new Rng(2), 20);
    expect(a.filter((x, i) => x === b[i]).length).toBe(0);
  });

  it('treats seeds mod 2^32', () => {
    expect(draws(new Rng(-1), 5)).toEqual(draws(new Rng(0xffffffff), 5));
  });

  it('rejects non-finite seeds', () => {
    expect(() => new Rng(Number.NaN)).toThrow(/seed/);
  });

  it('next() lies in [0, 1) and is roughly uniform', () => {
    const xs = draws(new Rng(7), 20000);
    expect(Math.min(...xs)).toBeGreaterThanOrEqual(0);
    expect(Math.max(...xs)).toBeLessThan(1);
    const { mean, variance } = meanVar(xs);
    expect(Math.abs(mean - 0.5)).toBeLessThan(0.01);
    expect(Math.abs(variance - 1 / 12)).toBeLessThan(0.003);
  });

  it('int(n) covers 0..n-1 evenly', () => {
    const rng = new Rng(3);
    const counts = new Array(6).fill(0);
    for (let i = 0; i < 60000; i++) counts[rng.int(6)]++;
    for (const c of counts) expect(Math.abs(c - 10000)).toBeLessThan(400);
    expect(() => rng.int(0)).toThrow();
    expect(() => rng.int(2.5)).toThrow();
  });

  it('normal() has mean 0 and variance 1', () => {
    const rng = new Rng(11);
    const xs = Array.from({ length: 40000 }, () => rng.normal());
    const { mean, variance } = meanVar(xs);
    // Standard error of the mean is 1/200; of the variance about sqrt(2/40000) = 0.007.
    expect(Math.abs(mean)).toBeLessThan(0.025);
    expect(Math.abs(variance - 1)).toBeLessThan(0.04);
  });

  it('gamma(k) has mean k and variance k, also for k < 1', () => {
    for (const k of [0.3, 1, 4.5]) {
      const rng = new Rng(5);
      const xs = Array.from({ length: 40000 }, () => rng.gamma(k));
      const { mean, variance } = meanVar(xs);
      expect(Math.min(...xs)).toBeGreaterThanOrEqual(0);
      expect(Math.abs(mean - k) / k).toBeLessThan(0.04);
      expect(Math.abs(variance - k) / k).toBeLessThan(0.1);
    }
    expect(() => new Rng(1).gamma(0)).toThrow();
  });

  it('dirichlet sums to 1 and has mean alpha / sum(alpha)', () => {
    const rng = new Rng(9);
    const alpha = [1, 2, 7];
    const mean = [0, 0, 0];
    const n = 5000;
    let worstSumError = 0;
    let minComponent = 1;
    for (let i = 0; i < n; i++) {
      const p = rng.dirichlet(alpha);
      worstSumError = Math.max(worstSumError, Math.abs(p.reduce((s, x) => s + x, 0) - 1));
      minComponent = Math.min(minComponent, ...p);
      p.forEach((x, j) => (mean[j] += x / n));
    }
    expect(worstSumError).toBeLessThan(1e-12);
    expect(minComponent).toBeGreaterThanOrEqual(0);
    expect(mean[0]).toBeCloseTo(0.1, 1);
    expect(mean[1]).toBeCloseTo(0.2, 1);
    expect(mean[2]).toBeCloseTo(0.7, 1);
  });

  it('dirichlet with tiny alpha still sums to 1', () => {
    const rng = new Rng(1);
    for (let i = 0; i < 200; i++) {
      const p = rng.dirichlet([0.001, 0.001, 0.001, 0.001]);
      expect(p.reduce((s, x) => s + x, 0)).toBeCloseTo(1, 12);
    }
  });

  it('choice follows the weights and skips zero weights', () => {
    const rng = new Rng(4);
    const counts = [0, 0, 0];
    for (let i = 0; i < 30000; i++) counts[rng.choice([1, 0, 3])]++;
    expect(counts[1]).toBe(0);
    expect(counts[0] / 30000).toBeCloseTo(0.25, 1);
    expect(() => rng.choice([0, 0])).toThrow();
  });

  it('shuffle permutes in place and is deterministic', () => {
    const a = new Rng(8).shuffle([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    const b = new Rng(8).shuffle([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    expect(a).toEqual(b);
    expect([...a].sort((x, y) => x - y)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    expect(a).not.toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    const typed = new Rng(8).shuffle(Int32Array.from([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]));
    expect(Array.from(typed)).toEqual(a);
  });

  it('fork depends on seed and label only, and streams differ', () => {
    const parent = new Rng(100);
    const f1 = parent.fork('clients');
    parent.next();
    parent.next();
    const f2 = parent.fork('clients');
    expect(draws(f1, 10)).toEqual(draws(f2, 10));
    const x = draws(new Rng(100).fork(1), 10);
    const y = draws(new Rng(100).fork(2), 10);
    const z = draws(new Rng(101).fork(1), 10);
    const p = draws(new Rng(100), 10);
    expect(x).not.toEqual(y);
    expect(x).not.toEqual(z);
    expect(x).not.toEqual(p);
  });
});

describe('sampleCumulative', () => {
  const cum = Float64Array.from([1, 1, 3, 6]); // weights 1, 0, 2, 3 (total 6)

  it('maps u onto the weight intervals', () => {
    expect(sampleCumulative(cum, 0)).toBe(0);
    expect(sampleCumulative(cum, 0.16)).toBe(0); // 0.96 < 1
    expect(sampleCumulative(cum, 1 / 6)).toBe(2); // exactly 1: weight-0 entry 1 is skipped
    expect(sampleCumulative(cum, 0.49)).toBe(2); // 2.94 < 3
    expect(sampleCumulative(cum, 0.5)).toBe(3);
    expect(sampleCumulative(cum, 0.9999)).toBe(3);
  });

  it('agrees with cumulative() of the weights', () => {
    expect(Array.from(cumulative([1, 0, 2, 3]))).toEqual([1, 1, 3, 6]);
    expect(() => cumulative([1, -1])).toThrow();
  });

  it('throws on an empty array', () => {
    expect(() => sampleCumulative(new Float64Array(0), 0.5)).toThrow();
  });

  it('mix32 is a bijection on a sample (no collisions)', () => {
    const seen = new Set<number>();
    for (let i = 0; i < 10000; i++) seen.add(mix32(i));
    expect(seen.size).toBe(10000);
  });
});
