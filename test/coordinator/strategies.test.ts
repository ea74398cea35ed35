// The strategies against hand computations on vectors of 3, their finish()
// semantics (weighting, sum, scale, float64 division), state round trips, restore
// errors and createStrategy's validation.
import { describe, expect, it } from 'vitest';
import {
  createStrategy,
  FedAdam,
  FedAvg,
  FedAvgM,
  FedProx,
  FedYogi,
  STRATEGY_DEFAULTS,
  STRATEGY_NAMES,
  type StrategyConfig,
} from '../../coordinator/strategies/index.ts';
import type { Strategy, StrategyState } from '../../coordinator/types.ts';
import { Rng } from '../../recommender/random.ts';

const f32 = (xs: number[]) => Float32Array.from(xs);

/** One round: begin, add each [delta, weight], finish, apply. Returns the next global weights. */
function round(s: Strategy, global: number[] | Float32Array, updates: Array<[number[] | Float32Array, number]>): Float32Array {
  s.begin();
  for (const [d, w] of updates) s.add(d instanceof Float32Array ? d : f32(d), w);
  const { delta } = s.finish();
  return s.apply(global instanceof Float32Array ? global : f32(global), delta);
}

function expectClose(actual: ArrayLike<number>, expected: number[], tol = 2e-6): void {
  expect(actual.length).toBe(expected.length);
  for (let i = 0; i < expected.length; i++) {
    expect(Math.abs(actual[i] - expected[i]), `element ${i}: ${actual[i]} vs ${expected[i]}`).toBeLessThanOrEqual(tol);
  }
}

/** Seeded values in [-0.5, 0.5), from the project's PRNG. */
function rng(seed: number): () => number {
  const r = new Rng(seed);
  return () => r.next() - 0.5;
}

/** |actual − expected| ≤ rel·|expected| per element (float32 storage rounds to ~6e-8 relative). */
function expectRel(actual: ArrayLike<number>, expected: number[], rel = 2e-7): void {
  expect(actual.length).toBe(expected.length);
  for (let i = 0; i < expected.length; i++) {
    expect(Math.abs(actual[i] - expected[i]), `element ${i}: ${actual[i]} vs ${expected[i]}`).toBeLessThanOrEqual(rel * Math.abs(expected[i]));
  }
}

const bytes = (a: Float32Array) => Buffer.from(a.buffer, a.byteOffset, a.byteLength);

describe('FedAvg', () => {
  it('weights updates by numExamples and adds the average (η = 1)', () => {
    const s = new FedAvg({ size: 3 });
    s.begin();
    s.add(f32([1, 2, -4]), 1);
    s.add(f32([3, 0, 4]), 3);
    expect(s.count).toBe(2);
    const agg = s.finish();
    // sum = 1·[1, 2, −4] + 3·[3, 0, 4] = [1 + 9, 2 + 0, −4 + 12] = [10, 2, 8]; total weight 1 + 3 = 4
    // delta = [10, 2, 8] / 4 = [2.5, 0.5, 2]
    expect(Array.from(agg.delta)).toEqual([2.5, 0.5, 2]);
    expect(agg.totalWeight).toBe(4);
    expect(agg.count).toBe(2);
    // x1 = [0, 0, 0] + 1·[2.5, 0.5, 2]
    expect(Array.from(s.apply(f32([0, 0, 0]), agg.delta))).toEqual([2.5, 0.5, 2]);
  });

  it("weighting 'uniform' counts each update once", () => {
    const s = new FedAvg({ size: 3, weighting: 'uniform' });
    s.begin();
    s.add(f32([1, 2, -4]), 1);
    s.add(f32([3, 0, 4]), 3);
    const agg = s.finish();
    // sum = [1 + 3, 2 + 0, −4 + 4] = [4, 2, 0]; total weight 1 + 1 = 2 → delta = [2, 1, 0]
    expect(Array.from(agg.delta)).toEqual([2, 1, 0]);
    expect(agg.totalWeight).toBe(2);
  });

  it('scales the step by serverLr over three rounds', () => {
    const s = new FedAvg({ size: 3, serverLr: 0.5 });
    // round 1: delta = (2·[2, 2, 2] + 2·[0, 4, −2]) / 4 = [4, 12, 0] / 4 = [1, 3, 0]; x1 = [1, 1, 1] + 0.5·[1, 3, 0] = [1.5, 2.5, 1]
    let x = round(s, [1, 1, 1], [[[2, 2, 2], 2], [[0, 4, -2], 2]]);
    expect(Array.from(x)).toEqual([1.5, 2.5, 1]);
    // round 2: one update → delta = [−1, 1, 4]; x2 = [1.5, 2.5, 1] + 0.5·[−1, 1, 4] = [1, 3, 3]
    x = round(s, x, [[[-1, 1, 4], 7]]);
    expect(Array.from(x)).toEqual([1, 3, 3]);
    // round 3: delta = (1·[4, 0, 0] + 3·[0, 4, −4]) / 4 = [4, 12, −12] / 4 = [1, 3, −3]; x3 = [1, 3, 3] + 0.5·[1, 3, −3] = [1.5, 4.5, 1.5]
    x = round(s, x, [[[4, 0, 0], 1], [[0, 4, -4], 3]]);
    expect(Array.from(x)).toEqual([1.5, 4.5, 1.5]);
    expect(s.state().step).toBe(3);
  });

  it('apply does not modify its inputs', () => {
    const s = new FedAvg({ size: 3 });
    const g = f32([1, 2, 3]);
    const d = f32([1, 1, 1]);
    const next = s.apply(g, d);
    expect(Array.from(g)).toEqual([1, 2, 3]);
    expect(Array.from(d)).toEqual([1, 1, 1]);
    expect(Array.from(next)).toEqual([2, 3, 4]);
  });
});

describe('FedProx', () => {
  it('exposes proxMu for the clients and steps exactly like FedAvg', () => {
    const prox = new FedProx({ size: 3, proxMu: 0.1, serverLr: 0.5 });
    const avg = new FedAvg({ size: 3, serverLr: 0.5 });
    expect(prox.name).toBe('fedprox');
    expect(prox.proxMu).toBe(0.1);
    expect(new FedProx({ size: 3 }).proxMu).toBe(STRATEGY_DEFAULTS.fedprox.proxMu);
    const updates: Array<[number[], number]> = [[[1, 2, -4], 1], [[3, 0, 4], 3]];
    // delta = [2.5, 0.5, 2] (as in the FedAvg test); x1 = [0, 0, 0] + 0.5·delta = [1.25, 0.25, 1]
    const a = round(prox, [0, 0, 0], updates);
    expect(Array.from(a)).toEqual([1.25, 0.25, 1]);
    expect(bytes(a).equals(bytes(round(avg, [0, 0, 0], updates)))).toBe(true);
    expect(prox.state().params).toEqual({ serverLr: 0.5, weighting: 'examples', proxMu: 0.1 });
  });
});

describe('FedAvgM', () => {
  it('accumulates server momentum (β = 0.5, η = 1)', () => {
    const s = new FedAvgM({ size: 3, momentum: 0.5 });
    // round 1: Δ1 = [1, −2, 4]; v1 = 0.5·0 + Δ1 = [1, −2, 4]; x1 = [0, 0, 0] + 1·v1 = [1, −2, 4]
    let x = round(s, [0, 0, 0], [[[1, -2, 4], 5]]);
    expect(Array.from(x)).toEqual([1, -2, 4]);
    // round 2: Δ2 = [1, 2, 0]; v2 = 0.5·[1, −2, 4] + [1, 2, 0] = [1.5, 1, 2]; x2 = [1, −2, 4] + [1.5, 1, 2] = [2.5, −1, 6]
    x = round(s, x, [[[1, 2, 0], 5]]);
    expect(Array.from(x)).toEqual([2.5, -1, 6]);
    // round 3: Δ3 = (1·[2, 0, 0] + 1·[−2, 0, 0]) / 2 = [0, 0, 0]; v3 = 0.5·[1.5, 1, 2] = [0.75, 0.5, 1]; x3 = [3.25, −0.5, 7]
    x = round(s, x, [[[2, 0, 0], 1], [[-2, 0, 0], 1]]);
    expect(Array.from(x)).toEqual([3.25, -0.5, 7]);
    expect(Array.from(s.state().vectors.momentum)).toEqual([0.75, 0.5, 1]);
  });

  it('defaults to β = 0.9, η = 1', () => {
    const s = new FedAvgM({ size: 3 });
    expect(s.momentum).toBe(0.9);
    expect(s.serverLr).toBe(1);
    // v1 = [1, −2, 4], x1 = [1, −2, 4]; v2 = 0.9·[1, −2, 4] + [1, 2, 0] = [1.9, 0.2, 3.6]; x2 = [1 + 1.9, −2 + 0.2, 4 + 3.6] = [2.9, −1.8, 7.6]
    let x = s.apply(f32([0, 0, 0]), f32([1, -2, 4]));
    x = s.apply(x, f32([1, 2, 0]));
    expectClose(x, [2.9, -1.8, 7.6]);
    expectClose(s.state().vectors.momentum, [1.9, 0.2, 3.6]);
  });
});

describe('FedAdam (Reddi et al. 2021, Alg. 2)', () => {
  it('matches a hand computation with the defaults η = 0.01, β1 = 0.9, β2 = 0.99, τ = 1e-3', () => {
    const s = new FedAdam({ size: 3 });
    expect([s.serverLr, s.beta1, s.beta2, s.tau]).toEqual([0.01, 0.9, 0.99, 1e-3]);
    // v starts at τ² = 1e-6, m at 0
    expectRel(s.state().vectors.v, [1e-6, 1e-6, 1e-6]);
    // round 1: Δ1 = ([0.2, −0.4, 0] + [0, 0, 0]) / 2 = [0.1, −0.2, 0]
    // m1 = 0.9·0 + 0.1·Δ1 = [0.01, −0.02, 0]
    // v1 = 0.99·1e-6 + 0.01·Δ1² = 0.99e-6 + [1e-4, 4e-4, 0] = [1.0099e-4, 4.0099e-4, 9.9e-7]
    // √v1 = [0.01004938, 0.02002473, 0.00099499]
    // x1 = x0 + 0.01·m1/(√v1 + 0.001) = [0.5 + 1e-4/0.01104938, −0.5 − 2e-4/0.02102473, 1 + 0] = [0.5090503, −0.5095126, 1]
    let x = round(s, [0.5, -0.5, 1], [[[0.2, -0.4, 0], 3], [[0, 0, 0], 3]]);
    expectRel(s.state().vectors.m, [0.01, -0.02, 0]);
    expectRel(s.state().vectors.v, [1.0099e-4, 4.0099e-4, 9.9e-7]);
    expectClose(x, [0.5090503, -0.5095126, 1]);
    // round 2: Δ2 = [0.1, 0.2, 0.05]
    // m2 = 0.9·m1 + 0.1·Δ2 = [0.009 + 0.01, −0.018 + 0.02, 0 + 0.005] = [0.019, 0.002, 0.005]
    // v2 = 0.99·v1 + 0.01·Δ2² = [0.999801e-4 + 1e-4, 3.969801e-4 + 4e-4, 9.801e-7 + 2.5e-5] = [1.999801e-4, 7.969801e-4, 2.59801e-5]
    // √v2 = [0.01414143, 0.02823084, 0.00509707]
    // x2 = x1 + 0.01·m2/(√v2 + 0.001) = [0.5090503 + 1.9e-4/0.01514143, −0.5095126 + 2e-5/0.02923084, 1 + 5e-5/0.00609707]
    //    = [0.5090503 + 0.0125483, −0.5095126 + 0.0006842, 1 + 0.0082007] = [0.5215986, −0.5088284, 1.0082007]
    x = round(s, x, [[[0.1, 0.2, 0.05], 1]]);
    expectClose(s.state().vectors.m, [0.019, 0.002, 0.005], 3e-9); // −0.018 + 0.02 cancels: absolute, not relative, float32 error
    expectRel(s.state().vectors.v, [1.999801e-4, 7.969801e-4, 2.59801e-5]);
    expectClose(x, [0.5215986, -0.5088284, 1.0082007]);
    expect(s.state().step).toBe(2);
  });
});

describe('FedYogi (Reddi et al. 2021, Alg. 2)', () => {
  it('moves v by ±(1 − β2)·Δ² towards Δ² (τ = 0.125, so τ² = 0.015625)', () => {
    const s = new FedYogi({ size: 3, tau: 0.125 });
    // round 1: Δ1 = [0.25, 0.0625, 0], Δ1² = [0.0625, 0.00390625, 0], v0 = τ² = 0.015625
    // m1 = 0.1·Δ1 = [0.025, 0.00625, 0]
    // v1[0]: v0 < Δ² → sign(v0 − Δ²) = −1 → v0 + 0.01·0.0625 = 0.01625
    // v1[1]: v0 > Δ² → sign = +1 → v0 − 0.01·0.00390625 = 0.0155859375
    // v1[2]: Δ² = 0 → v0 − 0 = 0.015625
    // √v1 = [0.12747549, 0.12484365, 0.125]
    // x1 = x0 + 0.01·m1/(√v1 + 0.125) = [0.5 + 2.5e-4/0.25247549, −0.5 + 6.25e-5/0.24984365, 1 + 0] = [0.5009902, −0.4997498, 1]
    let x = round(s, [0.5, -0.5, 1], [[[0.25, 0.0625, 0], 10]]);
    expectClose(s.state().vectors.v, [0.01625, 0.0155859375, 0.015625], 1e-9);
    expectClose(x, [0.5009902, -0.4997498, 1]);
    // round 2: Δ2 = [0, 0.25, −0.125], Δ2² = [0, 0.0625, 0.015625]
    // m2 = 0.9·m1 + 0.1·Δ2 = [0.0225, 0.005625 + 0.025, 0 − 0.0125] = [0.0225, 0.030625, −0.0125]
    // v2[0]: Δ² = 0 → unchanged 0.01625
    // v2[1]: 0.0155859375 < 0.0625 → + 0.01·0.0625 = 0.0162109375
    // v2[2]: v1 = Δ² = 0.015625 → sign(0) = 0 → unchanged 0.015625
    // √v2 = [0.12747549, 0.12732218, 0.125]
    // x2 = x1 + 0.01·m2/(√v2 + 0.125) = [0.5009902 + 2.25e-4/0.25247549, −0.4997498 + 3.0625e-4/0.25232218, 1 − 1.25e-4/0.25]
    //    = [0.5009902 + 0.0008912, −0.4997498 + 0.0012137, 1 − 0.0005] = [0.5018814, −0.4985361, 0.9995]
    x = round(s, x, [[[0, 0.25, -0.125], 10]]);
    expectClose(s.state().vectors.m, [0.0225, 0.030625, -0.0125], 1e-9);
    expectClose(s.state().vectors.v, [0.01625, 0.0162109375, 0.015625], 1e-9);
    expectClose(x, [0.5018814, -0.4985361, 0.9995]);
  });

  it('differs from FedAdam on the same deltas (v1 = 0.99·τ² + 0.01·Δ² for Adam)', () => {
    const adam = new FedAdam({ size: 3, tau: 0.125 });
    round(adam, [0.5, -0.5, 1], [[[0.25, 0.0625, 0], 10]]);
    // Adam: v1 = 0.99·0.015625 + 0.01·[0.0625, 0.00390625, 0] = [0.01609375, 0.0155078125, 0.01546875]
    expectClose(adam.state().vectors.v, [0.01609375, 0.0155078125, 0.01546875], 1e-9);
  });
});

describe('finish', () => {
  function twoUpdates(weighting?: 'examples' | 'uniform'): FedAvg {
    const s = new FedAvg({ size: 3, weighting });
    s.begin();
    s.add(f32([1, 2, -4]), 1);
    s.add(f32([3, 0, 4]), 3); // sum = [10, 2, 8], total weight 4
    return s;
  }

  it('sum() is a float64 copy of the weighted sum; finish() divides it by the realised total weight', () => {
    const s = twoUpdates();
    const sum = s.sum();
    expect(sum).toBeInstanceOf(Float64Array);
    expect(Array.from(sum)).toEqual([10, 2, 8]);
    sum.fill(100); // a copy: central DP noises it without touching the running sum
    const agg = s.finish();
    // [10, 2, 8] / 4 = [2.5, 0.5, 2]
    expect(Array.from(agg.delta)).toEqual([2.5, 0.5, 2]);
    expect(agg.totalWeight).toBe(4);
    expect(agg.count).toBe(2);
    expect(s.totalWeight).toBe(4);
  });

  it('uses the uniform total (the count) when weighting is uniform', () => {
    const s = twoUpdates('uniform');
    expect(Array.from(s.sum())).toEqual([4, 2, 0]);
    expect(s.finish().totalWeight).toBe(2);
  });

  it('scale shortens an update in float64 without changing its weight', () => {
    const s = new FedAvg({ size: 3 });
    s.begin();
    s.add(f32([2, 4, -8]), 2, 0.25); // folds 2 × 0.25 × [2, 4, -8] = [1, 2, -4], weight 2
    s.add(f32([1, 0, 0]), 2);
    expect(Array.from(s.sum())).toEqual([3, 2, -4]);
    expect(Array.from(s.finish().delta)).toEqual([0.75, 0.5, -1]);
    expect(() => s.add(f32([1, 1, 1]), 1, 1.5)).toThrow(/scale must be in \[0, 1\]/);
    expect(() => s.add(f32([1, 1, 1]), 1, -0.1)).toThrow(/scale must be in \[0, 1\]/);
  });

  it('divides in float64 and rounds once: a mean within float32 range stays finite although the sum is not', () => {
    const s = new FedAvg({ size: 2 });
    s.begin();
    // 3e38 × 4 = 1.2e39 overflows float32 (max ≈ 3.4e38); the mean 3e38 does not
    s.add(f32([3e38, -3e38]), 4);
    s.add(f32([3e38, -3e38]), 4);
    const d = s.finish().delta;
    expect(Number.isFinite(d[0]) && Number.isFinite(d[1])).toBe(true);
    expect(d[0]).toBe(Math.fround(3e38));
    expect(d[1]).toBe(Math.fround(-3e38));
  });

  it('leaves the running sum alone: a second finish gives the same delta', () => {
    const s = twoUpdates();
    const a = s.finish();
    const b = s.finish();
    expect(Array.from(a.delta)).toEqual(Array.from(b.delta));
  });

  it('throws on a round without updates, and when every update has weight 0', () => {
    const s = new FedAvg({ size: 3 });
    s.begin();
    expect(() => s.finish()).toThrow(/no updates were added this round/);
    expect(Array.from(s.sum())).toEqual([0, 0, 0]);
    s.add(f32([1, 1, 1]), 0);
    expect(() => s.finish()).toThrow(/all have weight 0/);
  });

  it('begin clears the previous round', () => {
    const s = twoUpdates();
    s.begin();
    expect(s.count).toBe(0);
    s.add(f32([2, 4, 6]), 2);
    const agg = s.finish();
    expect(Array.from(agg.delta)).toEqual([2, 4, 6]);
    expect(agg.totalWeight).toBe(2);
  });

  it('add checks the update and the weight', () => {
    const s = new FedAvg({ size: 3, weighting: 'uniform' });
    s.begin();
    expect(() => s.add(f32([1, 2]), 1)).toThrow(/fedavg.add: the update has 2 values, the model has 3/);
    expect(() => s.add(Float64Array.from([1, 2, 3]) as unknown as Float32Array, 1)).toThrow(/must be a Float32Array/);
    for (const bad of [-1, NaN, Infinity, '2' as unknown as number]) {
      expect(() => s.add(f32([1, 2, 3]), bad)).toThrow(/weight must be a finite number >= 0/);
    }
    expect(s.count).toBe(0);
  });

  it('apply checks the lengths', () => {
    const s = new FedAdam({ size: 3 });
    expect(() => s.apply(f32([1, 2]), f32([1, 2, 3]))).toThrow(/global weights.*2 values, the model has 3/);
    expect(() => s.apply(f32([1, 2, 3]), f32([1]))).toThrow(/delta.*1 values/);
    expect(s.state().step).toBe(0);
  });
});

describe('state and restore', () => {
  const configs: StrategyConfig[] = [
    { name: 'fedavg', size: 37, serverLr: 0.7 },
    { name: 'fedavgm', size: 37, momentum: 0.8, weighting: 'uniform' },
    { name: 'fedadam', size: 37, serverLr: 0.05, tau: 1e-2 },
    { name: 'fedyogi', size: 37, beta2: 0.999 },
    { name: 'fedprox', size: 37, proxMu: 0.5 },
  ];

  for (const config of configs) {
    it(`${config.name}: a restored copy continues bit for bit like the original`, () => {
      const next = rng(config.name.length * 7919);
      const randomUpdate = () => Float32Array.from({ length: config.size }, () => next() * 0.2);
      const rounds = (s: Strategy, x: Float32Array, inputs: Array<Array<[Float32Array, number]>>) => {
        const outs: Float32Array[] = [];
        for (const updates of inputs) {
          x = round(s, x, updates);
          outs.push(x);
        }
        return outs;
      };
      const makeInputs = (n: number) =>
        Array.from({ length: n }, () => Array.from({ length: 3 }, (): [Float32Array, number] => [randomUpdate(), 1 + Math.floor((next() + 0.5) * 50)]));

      const original = createStrategy(config);
      const before = makeInputs(3);
      const x3 = rounds(original, Float32Array.from({ length: config.size }, () => next()), before).at(-1)!;

      // as a checkpoint would: a deep copy (structuredClone keeps Float32Array)
      const saved: StrategyState = structuredClone(original.state());
      expect(saved.step).toBe(3);
      const resumed = createStrategy(config);
      resumed.restore(saved);
      expect(resumed.state()).toEqual(original.state());

      const after = makeInputs(3);
      const a = rounds(original, x3, after);
      const b = rounds(resumed, x3, after);
      for (let r = 0; r < a.length; r++) expect(bytes(a[r]).equals(bytes(b[r])), `round ${r + 4}`).toBe(true);
      const sa = original.state();
      const sb = resumed.state();
      expect(sb.step).toBe(6);
      for (const k of Object.keys(sa.vectors)) expect(bytes(sa.vectors[k]).equals(bytes(sb.vectors[k])), k).toBe(true);
    });
  }

  it('state() hands out copies, and restore copies in', () => {
    const s = new FedAvgM({ size: 3, momentum: 0.5 });
    s.apply(f32([0, 0, 0]), f32([1, 2, 3]));
    const st = s.state();
    st.vectors.momentum.fill(99);
    expect(Array.from(s.state().vectors.momentum)).toEqual([1, 2, 3]);
    const t = new FedAvgM({ size: 3, momentum: 0.5 });
    const saved = s.state();
    t.restore(saved);
    saved.vectors.momentum.fill(7);
    expect(Array.from(t.state().vectors.momentum)).toEqual([1, 2, 3]);
  });

  it('lists what the state holds', () => {
    const s = new FedAdam({ size: 2 });
    const st = s.state();
    expect(st.name).toBe('fedadam');
    expect(st.step).toBe(0);
    expect(Object.keys(st.vectors).sort()).toEqual(['m', 'v']);
    expect(st.params).toEqual({ serverLr: 0.01, beta1: 0.9, beta2: 0.99, tau: 1e-3, weighting: 'examples' });
    expect(new FedAvg({ size: 2 }).state().vectors).toEqual({});
  });

  it('refuses state of another strategy, naming both', () => {
    const adam = new FedAdam({ size: 3 });
    const yogi = new FedYogi({ size: 3 });
    expect(() => yogi.restore(adam.state())).toThrow(/fedyogi.restore: the state was saved by strategy "fedadam", this is 'fedyogi'/);
    expect(() => new FedAvg({ size: 3 }).restore(new FedProx({ size: 3 }).state())).toThrow(/saved by strategy "fedprox"/);
  });

  it('refuses other hyper-parameters, naming the field and both values', () => {
    const saved = new FedAdam({ size: 3, beta2: 0.999 }).state();
    expect(() => new FedAdam({ size: 3 }).restore(saved)).toThrow(/beta2 is 0.999 in the saved state but 0.99 in this configuration/);
    const uniform = new FedAvg({ size: 3, weighting: 'uniform' }).state();
    expect(() => new FedAvg({ size: 3 }).restore(uniform)).toThrow(/weighting is "uniform" in the saved state but "examples"/);
    const prox = new FedProx({ size: 3, proxMu: 1 }).state();
    expect(() => new FedProx({ size: 3 }).restore(prox)).toThrow(/proxMu is 1 in the saved state but 0.01/);
  });

  it('refuses missing or extra parameters and vectors, wrong sizes and types, and a bad step', () => {
    const s = new FedAdam({ size: 3 });
    const good = () => s.state();
    const { tau: _tau, ...noTau } = good().params;
    expect(() => s.restore({ ...good(), params: noTau })).toThrow(/no parameter 'tau'/);
    expect(() => s.restore({ ...good(), params: { ...good().params, momentum: 0.9 } })).toThrow(/parameter 'momentum' that 'fedadam' does not have/);
    expect(() => s.restore({ ...good(), vectors: { m: new Float32Array(3) } })).toThrow(/holds vectors \[m\], 'fedadam' needs \[m, v\]/);
    expect(() => s.restore({ ...good(), vectors: { ...good().vectors, u: new Float32Array(3) } })).toThrow(/holds vectors \[m, u, v\]/);
    expect(() => s.restore({ ...good(), vectors: { m: new Float32Array(2), v: new Float32Array(3) } })).toThrow(/vector 'm' has 2 values, the model has 3/);
    expect(() => s.restore({ ...good(), vectors: { m: [0, 0, 0] as unknown as Float32Array, v: new Float32Array(3) } })).toThrow(/vector 'm' must be a Float32Array/);
    expect(() => s.restore({ ...good(), step: -1 })).toThrow(/step must be an integer >= 0/);
    expect(() => s.restore({ ...good(), step: 1.5 })).toThrow(/step must be/);
    expect(() => s.restore(null as unknown as StrategyState)).toThrow(/state must be an object/);
    expect(() => new FedAdam({ size: 4 }).restore(good())).toThrow(/vector 'm' has 3 values, the model has 4/);
  });

  it('a refused restore changes nothing', () => {
    const s = new FedAvgM({ size: 3, momentum: 0.5 });
    s.apply(f32([0, 0, 0]), f32([1, 2, 3]));
    const before = s.state();
    const bad = { ...before, step: 10, vectors: { momentum: new Float32Array(2) } };
    expect(() => s.restore(bad)).toThrow();
    expect(s.state()).toEqual(before);
  });
});

describe('createStrategy', () => {
  it('makes each strategy with its defaults', () => {
    expect(STRATEGY_NAMES).toEqual(['fedavg', 'fedavgm', 'fedadam', 'fedyogi', 'fedprox']);
    const classes = { fedavg: FedAvg, fedavgm: FedAvgM, fedadam: FedAdam, fedyogi: FedYogi, fedprox: FedProx };
    for (const name of STRATEGY_NAMES) {
      const s = createStrategy({ name, size: 5 });
      expect(s).toBeInstanceOf(classes[name]);
      expect(s.name).toBe(name);
      expect(s.size).toBe(5);
      expect(s.count).toBe(0);
      expect(s.state().params).toEqual(STRATEGY_DEFAULTS[name]);
    }
    expect(STRATEGY_DEFAULTS.fedavg).toEqual({ serverLr: 1, weighting: 'examples' });
    expect(STRATEGY_DEFAULTS.fedavgm).toEqual({ serverLr: 1, momentum: 0.9, weighting: 'examples' });
    expect(STRATEGY_DEFAULTS.fedadam).toEqual({ serverLr: 0.01, beta1: 0.9, beta2: 0.99, tau: 1e-3, weighting: 'examples' });
    expect(STRATEGY_DEFAULTS.fedyogi).toEqual(STRATEGY_DEFAULTS.fedadam);
    expect(STRATEGY_DEFAULTS.fedprox).toEqual({ serverLr: 1, proxMu: 0.01, weighting: 'examples' });
  });

  it('passes the hyper-parameters through', () => {
    const s = createStrategy({ name: 'fedyogi', size: 2, serverLr: 0.1, beta1: 0.5, beta2: 0.9, tau: 0.01, weighting: 'uniform' });
    expect(s.state().params).toEqual({ serverLr: 0.1, beta1: 0.5, beta2: 0.9, tau: 0.01, weighting: 'uniform' });
    const p = createStrategy({ name: 'fedprox', size: 2, proxMu: 0 });
    expect(p.name === 'fedprox' && p.proxMu).toBe(0);
    // fields set to undefined count as absent
    expect(createStrategy({ name: 'fedavg', size: 2, momentum: undefined }).name).toBe('fedavg');
  });

  const bad: Array<[Record<string, unknown>, RegExp]> = [
    [{ name: 'sgd', size: 3 }, /name must be one of 'fedavg', 'fedavgm', 'fedadam', 'fedyogi', 'fedprox', got "sgd"/],
    [{ size: 3 }, /name must be one of/],
    [{ name: 'fedavg', size: 0 }, /size must be an integer >= 1, got 0/],
    [{ name: 'fedavg', size: 2.5 }, /size must be an integer/],
    [{ name: 'fedavg' }, /size must be an integer/],
    [{ name: 'fedavg', size: 3, serverLr: 0 }, /serverLr must be a finite number > 0, got 0/],
    [{ name: 'fedadam', size: 3, serverLr: NaN }, /serverLr must be/],
    [{ name: 'fedavgm', size: 3, momentum: 1 }, /momentum must be a finite number in \[0, 1\), got 1/],
    [{ name: 'fedavgm', size: 3, momentum: -0.1 }, /momentum must be/],
    [{ name: 'fedadam', size: 3, beta1: 1.5 }, /beta1 must be a finite number in \[0, 1\)/],
    [{ name: 'fedyogi', size: 3, beta2: 1 }, /beta2 must be/],
    [{ name: 'fedyogi', size: 3, tau: 0 }, /tau must be a finite number > 0, got 0/],
    [{ name: 'fedadam', size: 3, tau: '0.1' }, /tau must be a finite number > 0, got "0.1"/],
    [{ name: 'fedprox', size: 3, proxMu: -1 }, /proxMu must be a finite number >= 0, got -1/],
    [{ name: 'fedavg', size: 3, weighting: 'clients' }, /weighting must be one of 'examples', 'uniform', got "clients"/],
    [{ name: 'fedadam', size: 3, momentum: 0.9 }, /momentum does not apply to 'fedadam' \(only to 'fedavgm'\)/],
    [{ name: 'fedavg', size: 3, proxMu: 0.1 }, /proxMu does not apply to 'fedavg' \(only to 'fedprox'\)/],
    [{ name: 'fedavg', size: 3, lr: 0.1 }, /unknown field 'lr'/],
  ];
  for (const [config, message] of bad) {
    it(`refuses ${JSON.stringify(config, (_k, v) => (typeof v === 'number' && !Number.isFinite(v) ? String(v) : v))}`, () => {
      expect(() => createStrategy(config as unknown as StrategyConfig)).toThrow(message);
    });
  }

  it('validates in the constructors too', () => {
    expect(() => new FedAdam({ size: 3, beta2: 2 })).toThrow(/fedadam: beta2 must be/);
    expect(() => new FedAvgM({ size: -1 })).toThrow(/fedavgm: size must be/);
  });
});
