import { describe, expect, it } from 'vitest';
import { leaveOneOut } from '../../recommender/split.ts';
import type { UserSequence } from '../../recommender/types.ts';

function seq(user: string, items: number[]): UserSequence {
  return {
    user,
    items: Int32Array.from(items),
    types: Uint8Array.from(items, (_, i) => i % 4),
    ts: Float64Array.from(items, (_, i) => i),
  };
}

const arr = (a: ArrayLike<number>) => Array.from(a);

describe('leaveOneOut', () => {
  const input = [seq('u1', [10, 11, 12, 13]), seq('u2', [5, 6]), { ...seq('u3', [7, 8, 9]), merchant: 'm' }];
  const split = leaveOneOut(input);

  it('keeps all but the last two interactions for training; short users train whole', () => {
    expect(split.train.map((s) => [s.user, arr(s.items)])).toEqual([
      ['u1', [10, 11]],
      ['u2', [5, 6]],
      ['u3', [7]],
    ]);
    expect(arr(split.train[0].types)).toEqual([0, 1]);
    expect(arr(split.train[0].ts)).toEqual([0, 1]);
    expect(split.train[2].merchant).toBe('m');
    expect(split.train[0]).not.toBe(input[0]);
    expect(split.train[1]).not.toBe(input[1]);
  });

  it('validation: second-to-last item with the items before it', () => {
    expect(split.valid.map((c) => [c.user, c.history.user, arr(c.history.items), c.target])).toEqual([
      ['u1', 'u1', [10, 11], 12],
      ['u3', 'u3', [7], 8],
    ]);
    expect(arr(split.valid[0].history.types)).toEqual([0, 1]);
  });

  it('test: last item with everything before it, incl. the validation item', () => {
    expect(split.test.map((c) => [c.user, arr(c.history.items), c.target])).toEqual([
      ['u1', [10, 11, 12], 13],
      ['u3', [7, 8], 9],
    ]);
    expect(arr(split.test[0].history.types)).toEqual([0, 1, 2]);
  });

  it('gives no eval cases to a user with 2 interactions', () => {
    expect(split.valid.some((c) => c.user === 'u2')).toBe(false);
    expect(split.test.some((c) => c.user === 'u2')).toBe(false);
  });
});
