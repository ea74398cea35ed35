// RunningSum: what it adds up, what it refuses, and how exact it is over 1,000 updates.
import { describe, expect, it } from 'vitest';
import { RunningSum, type SumKernel } from '../../coordinator/strategies/runningSum.ts';
import { FedAvg } from '../../coordinator/strategies/index.ts';
import { Rng } from '../../recommender/random.ts';

/** Seeded values in [-0.5, 0.5), from the project's PRNG. */
function rng(seed: number): () => number {
  const r = new Rng(seed);
  return () => r.next() - 0.5;
}

const KERNELS: SumKernel[] = ['wasm', 'js'];

describe('RunningSum', () => {
  for (const kernel of KERNELS) {
    it(`${kernel}: sums weighted updates, counts them, resets`, () => {
      const r = new RunningSum(5, { kernel });
      expect(r.kernel).toBe(kernel);
      expect(r.sum).toBeInstanceOf(Float64Array);
      r.add(Float32Array.from([1, 2, 3, 4, 5]), 2);
      r.add(Float32Array.from([0.5, -1, 0, 1, -0.25]), 4);
      r.add(Float32Array.from([9, 9, 9, 9, 9]), 0); // weight 0: counted, adds nothing
      // 2·[1, 2, 3, 4, 5] + 4·[0.5, −1, 0, 1, −0.25] = [2 + 2, 4 − 4, 6 + 0, 8 + 4, 10 − 1]
      expect(Array.from(r.sum)).toEqual([4, 0, 6, 12, 9]);
      expect(r.totalWeight).toBe(6);
      expect(r.count).toBe(3);
      r.reset();
      expect(Array.from(r.sum)).toEqual([0, 0, 0, 0, 0]);
      expect(r.totalWeight).toBe(0);
      expect(r.count).toBe(0);
      r.add(Float32Array.from([1, 1, 1, 1, 1]), 0.5);
      expect(Array.from(r.sum)).toEqual([0.5, 0.5, 0.5, 0.5, 0.5]);
    });

    it(`${kernel}: refuses a wrong length or type and a bad weight, changing nothing`, () => {
      const r = new RunningSum(4, { kernel });
      r.add(Float32Array.from([1, 1, 1, 1]), 1);
      expect(() => r.add(new Float32Array(3), 1)).toThrow(/the update has 3 values, the model has 4/);
      expect(() => r.add(new Float32Array(5), 1)).toThrow(/the update has 5 values/);
      expect(() => r.add(new Float64Array(4) as unknown as Float32Array, 1)).toThrow(/must be a Float32Array, got Float64Array/);
      expect(() => r.add([1, 2, 3, 4] as unknown as Float32Array, 1)).toThrow(/must be a Float32Array/);
      for (const w of [-1, -0.001, NaN, Infinity, -Infinity, '1' as unknown as number, undefined as unknown as number]) {
        expect(() => r.add(new Float32Array(4), w), String(w)).toThrow(/weight must be a finite number >= 0/);
      }
      expect(Array.from(r.sum)).toEqual([1, 1, 1, 1]);
      expect(r.count).toBe(1);
      expect(r.totalWeight).toBe(1);
    });
  }

  it('refuses a bad size or kernel', () => {
    for (const size of [0, -1, 1.5, NaN, Infinity, '3' as unknown as number]) {
      expect(() => new RunningSum(size), String(size)).toThrow(/size must be a positive integer/);
    }
    expect(() => new RunningSum(3, { kernel: 'gpu' as SumKernel })).toThrow(/kernel must be 'auto', 'wasm' or 'js'/);
  });

  // 1,000 updates of 2,048 values over five orders of magnitude with both signs
  // (sums cancel), integral weights 1..1000 as numExamples would be. Reference:
  // Neumaier-compensated float64 summation of the same products (each w·x is
  // exact in float64), accurate to ~1e-16 of Σ|w·x|.
  for (const kernel of KERNELS) {
    it(`${kernel}: the float64 sum of 1,000 updates is exact to ~1e-16 of Σ|w·x|, where float32 loses ~1e-7`, () => {
      const size = 2048;
      const updates = 1000;
      const next = rng(2024);
      const r = new RunningSum(size, { kernel });
      const ref = new Float64Array(size);
      const comp = new Float64Array(size);
      const abs = new Float64Array(size);
      const naive32 = new Float32Array(size);
      const x = new Float32Array(size);
      let total = 0;
      for (let u = 0; u < updates; u++) {
        for (let i = 0; i < size; i++) x[i] = next() * 10 ** (next() * 5 - 3);
        const w = 1 + Math.floor((next() + 0.5) * 1000);
        r.add(x, w);
        total += w;
        for (let i = 0; i < size; i++) {
          const p = w * x[i];
          const t = ref[i] + p;
          comp[i] += Math.abs(ref[i]) >= Math.abs(p) ? ref[i] - t + p : p - t + ref[i];
          ref[i] = t;
          abs[i] += Math.abs(p);
          naive32[i] = Math.fround(naive32[i] + Math.fround(p));
        }
      }
      let err64 = 0;
      let err32 = 0;
      for (let i = 0; i < size; i++) {
        const exact = ref[i] + comp[i];
        err64 = Math.max(err64, Math.abs(r.sum[i] - exact) / abs[i]);
        err32 = Math.max(err32, Math.abs(naive32[i] - exact) / abs[i]);
      }
      expect(r.count).toBe(updates);
      expect(r.totalWeight).toBe(total);
      // worst case for 1,000 float64 additions is 1000·2^-53 ≈ 1.1e-13; in practice far below
      expect(err64).toBeLessThan(1e-14);
      // the float32 sum this avoids: errors of ~1e-7 and more of the scale, a million times larger
      expect(err32).toBeGreaterThan(1e-8);
      expect(err32 / Math.max(err64, 1e-18)).toBeGreaterThan(1e4);
    });
  }

  it('the averaged delta is the correctly rounded float32 of the exact average (within 1 ulp)', () => {
    const size = 1024;
    const next = rng(99);
    const s = new FedAvg({ size });
    s.begin();
    const exact = new Float64Array(size);
    let total = 0;
    for (let u = 0; u < 1000; u++) {
      const x = Float32Array.from({ length: size }, () => next() * 0.01);
      const w = 1 + Math.floor((next() + 0.5) * 300);
      s.add(x, w);
      total += w;
      for (let i = 0; i < size; i++) exact[i] += w * x[i]; // the same float64 sum, as a reference of the average
    }
    const { delta } = s.finish();
    for (let i = 0; i < size; i++) {
      const want = exact[i] / total;
      const ulp = Math.abs(Math.fround(want) - Math.fround(Math.fround(want) * (1 + 2 ** -23))) || 2 ** -149;
      expect(Math.abs(delta[i] - want), `element ${i}`).toBeLessThanOrEqual(ulp);
    }
  });
});
