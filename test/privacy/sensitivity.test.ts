// The sensitivity the central noise is calibrated to, checked end to end on
// the code that computes the release (property tests with fast-check): a
// client's exact ContributionSum and its W·C projection in float64, the
// float32 rounding, the coordinator's projection and float64 sum (the
// production strategy with its scale), and the grid rounding. For random
// neighbouring data (one contribution inserted anywhere, sums that the
// projection shortens or not) the released grid points move by at most the
// planned sensitivity K·(1 + slack) + √d.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { FedAvg } from '../../coordinator/index.ts';
import { CONTRIBUTION_GRID_BITS, ContributionSum, MAX_CONTRIBUTIONS_PER_SUM, clientSlack, planGridNoise } from '../../privacy/index.ts';

function norm(v: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < v.length; i++) s += v[i] * v[i];
  return Math.sqrt(s);
}

/** A contribution clipped to C the way clients clip (float32, at most C). */
function clipped(raw: number[], C: number): Float32Array {
  const v = Float32Array.from(raw);
  const n = norm(v);
  if (n > C) for (let i = 0; i < v.length; i++) v[i] *= (C * (1 - 1e-6)) / n;
  return v;
}

/** A client's update from its contributions: exact sum, projected onto W·C, float32. */
function clientUpdate(contribs: Float32Array[], d: number, C: number, W: number): Float32Array {
  const s = new ContributionSum(d, C);
  for (const c of contribs) s.add(c);
  return s.finish(W * C).sum;
}

/** The coordinator's released grid point: each update projected onto W·C (scale in float64), summed in float64, on the grid. */
function released(updates: Float32Array[], d: number, C: number, W: number, K: number): Float64Array {
  const agg = new FedAvg({ size: d, weighting: 'uniform' });
  agg.begin();
  for (const y of updates) {
    const n = norm(y);
    agg.add(y, 1, n > W * C ? (W * C) / n : 1);
  }
  const k = K / C;
  return Float64Array.from(agg.sum(), (x) => Math.round(x * k));
}

const vec = (d: number) => fc.array(fc.double({ min: -3, max: 3, noNaN: true }), { minLength: d, maxLength: d });

describe('the release moves by at most the planned sensitivity when one contribution is added', () => {
  it('for random contributions, clip norms, W and insertion points (fast-check)', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 24 }).chain((d) =>
          fc.record({
            d: fc.constant(d),
            C: fc.double({ min: 0.01, max: 10, noNaN: true }),
            W: fc.integer({ min: 1, max: 6 }),
            mine: fc.array(vec(d), { minLength: 0, maxLength: 8 }),
            extra: vec(d),
            at: fc.nat(),
            others: fc.array(fc.array(vec(d), { minLength: 0, maxLength: 5 }), { minLength: 0, maxLength: 3 }),
          }),
        ),
        ({ d, C, W, mine, extra, at, others }) => {
          const contribs = mine.map((r) => clipped(r, C));
          const withExtra = [...contribs];
          withExtra.splice(at % (contribs.length + 1), 0, clipped(extra, C));
          const rest = others.map((o) => clientUpdate(o.map((r) => clipped(r, C)), d, C, W));
          const n = rest.length + 1;
          const plan = planGridNoise(C, 1, d, { maxWeight: W, maxUpdates: n });
          const a = released([clientUpdate(contribs, d, C, W), ...rest], d, C, W, plan.scale);
          const b = released([clientUpdate(withExtra, d, C, W), ...rest], d, C, W, plan.scale);
          let sq = 0;
          for (let i = 0; i < d; i++) sq += (a[i] - b[i]) ** 2;
          return Math.sqrt(sq) <= plan.sensitivity;
        },
      ),
      { numRuns: 300, seed: 20261203 },
    );
  });
});

describe('ContributionSum', () => {
  it('is exact: any order of the same contributions gives the same bits', () => {
    fc.assert(
      fc.property(fc.array(vec(5), { minLength: 1, maxLength: 12 }), fc.integer(), (raws, seed) => {
        const cs = raws.map((r) => clipped(r, 1));
        const order = cs.map((_, i) => i).sort((x, y) => ((x * 2654435761) ^ seed) % 97 - ((y * 2654435761) ^ seed) % 97);
        const a = new ContributionSum(5, 1);
        const b = new ContributionSum(5, 1);
        for (const c of cs) a.add(c);
        for (const i of order) b.add(cs[i]);
        return a.finish(100).sum.every((v, i) => Object.is(v, b.finish(100).sum[i]));
      }),
      { numRuns: 200, seed: 7 },
    );
  });

  it('rounds each value to a step of C·2⁻²⁶ (hand values) and projects onto the radius', () => {
    const C = 2;
    const step = C * 2 ** -CONTRIBUTION_GRID_BITS;
    const s = new ContributionSum(3, C);
    s.add(Float32Array.of(1, -0.5, step * 0.4)); // the last rounds to 0 steps
    s.add(Float32Array.of(1, -0.5, step * 0.6)); // ... this one to 1 step
    const { sum, projected, norm: n } = s.finish(10);
    expect(projected).toBe(false);
    expect(Array.from(sum)).toEqual([2, -1, Math.fround(step)]);
    expect(n).toBeCloseTo(Math.sqrt(5), 12);
    // radius 1: [2, -1, ~0] / √5
    const p = s.finish(1);
    expect(p.projected).toBe(true);
    expect(p.sum[0]).toBeCloseTo(2 / Math.sqrt(5), 6);
    expect(p.sum[1]).toBeCloseTo(-1 / Math.sqrt(5), 6);
    expect(norm(p.sum)).toBeLessThanOrEqual(1 * (1 + 2 ** -23));
  });

  it('moves one contribution by at most C·√d·2⁻²⁶: the client terms of the slack cover it', () => {
    const d = 1000;
    const C = 0.3;
    const one = new ContributionSum(d, C);
    const v = clipped(Array.from({ length: d }, (_, i) => Math.sin(i * 12.9898) * 43758.5453 % 1), C);
    one.add(v);
    const back = one.finish(C).sum;
    const err = norm(Float64Array.from(back, (x, i) => x - v[i]));
    expect(err).toBeLessThanOrEqual(C * clientSlack({ size: d, maxWeight: 1 }));
  });

  it('refuses a contribution of the wrong size and more than 2²⁶ contributions', () => {
    const s = new ContributionSum(2, 1);
    expect(() => s.add(Float32Array.of(1))).toThrow(/has 1 values, the sum 2/);
    expect(MAX_CONTRIBUTIONS_PER_SUM).toBe(2 ** 26);
    expect(() => new ContributionSum(2, 0)).toThrow(/clipNorm must be/);
  });
});
