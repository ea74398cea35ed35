import { describe, expect, it } from 'vitest';
import type { History, UserSequence } from '../../recommender/types.ts';
import { PopularityModel } from '../../recommender/popularity.ts';
import { evaluateRanking } from '../../recommender/metrics.ts';

function seq(user: string, items: number[]): UserSequence {
  return {
    user,
    items: Int32Array.from(items),
    types: new Uint8Array(items.length),
    ts: Float64Array.from(items, (_, k) => k),
  };
}

const history = (items: number[]): History => ({ items: Int32Array.from(items), types: new Uint8Array(items.length) });

describe('PopularityModel', () => {
  const train = [seq('a', [0, 2, 2, 3]), seq('b', [2, 3]), seq('c', [])];

  it('counts interactions per item', () => {
    const m = PopularityModel.fit(train, 5);
    expect(Array.from(m.counts)).toEqual([1, 0, 3, 2, 0]);
    expect(m.numItems).toBe(5);
  });

  it('scores every history the same', async () => {
    const scores = await PopularityModel.fit(train, 5).scorer()([history([0]), history([]), history([4, 1])]);
    expect(Array.from(scores)).toEqual([1, 0, 3, 2, 0, 1, 0, 3, 2, 0, 1, 0, 3, 2, 0]);
  });

  it('rejects item indices outside the catalog', () => {
    expect(() => PopularityModel.fit([seq('x', [5])], 5)).toThrow(/user x: item index 5/);
    expect(() => PopularityModel.fit([], 0)).toThrow(/numItems/);
  });

  it('recommends the most popular unseen item', async () => {
    const m = PopularityModel.fit(train, 5);
    // item 2 is the most popular; once seen, item 3 is the best candidate.
    const r = await evaluateRanking(m.scorer(), [{ user: 'a', history: history([2]), target: 3 }], 5, { ks: [1] });
    expect(r['hr@1']).toBe(1);
  });
});
