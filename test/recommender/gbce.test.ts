// gSASRec's gBCE (Petrov & Macdonald, RecSys 2023): β against the paper's
// formula, the loss against a hand computation, and the shared negatives'
// mask; a SASRec trained with it learns.
import { beforeAll, describe, expect, it } from 'vitest';
import { tf } from '../../recommender/tf.ts';
import { initBackend } from '../../recommender/backend/index.ts';
import { bceWithLogits, gbceWithLogits } from '../../recommender/models/layers.ts';
import { Sasrec, gbceBeta, seenNegativeMask } from '../../recommender/models/sasrec.ts';
import type { UserSequence } from '../../recommender/types.ts';

const softplus = (x: number) => Math.log1p(Math.exp(x));

beforeAll(async () => {
  await initBackend('cpu');
});

describe('gbceBeta', () => {
  it('is β = α(t(1 − 1/α) + 1/α) with α = k / (|I| − 1) (paper, eq. 11)', () => {
    for (const [k, items, t] of [[256, 3417, 0.75], [1, 1000, 0], [128, 129, 0.5], [10, 11, 1], [256, 9724, 1]]) {
      const alpha = k / (items - 1);
      const paper = alpha * (t * (1 - 1 / alpha) + 1 / alpha);
      expect(gbceBeta(k, items, t)).toBeCloseTo(paper, 12);
    }
    expect(gbceBeta(7, 1000, 0)).toBe(1); // t = 0 is plain BCE
    expect(gbceBeta(999, 1000, 1)).toBe(1); // every other item a negative: α = 1
  });
});

describe('gbceWithLogits', () => {
  it('equals a hand computation, masking positions and negatives', () => {
    const pos = tf.tensor2d([[0.5, -1, 3]]);
    const neg = tf.tensor3d([[[0.2, -0.3], [1.0, 0.0], [9, 9]]]);
    const mask = tf.tensor2d([[1, 1, 0]]); // third position is padding
    const negMask = tf.tensor3d([[[1, 0]]]); // second negative dropped for this user
    const beta = 0.4;
    const got = gbceWithLogits(pos, neg, mask, beta, negMask).dataSync()[0];
    const p1 = (beta * softplus(-0.5) + softplus(0.2)) / 3;
    const p2 = (beta * softplus(1) + softplus(1.0)) / 3;
    expect(got).toBeCloseTo((p1 + p2) / 2, 6);
  });

  it('with one negative, β = 1 and no 1/(k+1) it is SASRec’s BCE', () => {
    const pos = tf.tensor2d([[0.3, -2]]);
    const neg = tf.tensor2d([[1.5, 0.1]]);
    const mask = tf.tensor2d([[1, 1]]);
    const want = (softplus(-0.3) + softplus(1.5) + softplus(2) + softplus(0.1)) / 2;
    expect(bceWithLogits(pos, neg, mask).dataSync()[0]).toBeCloseTo(want, 6);
    expect(bceWithLogits(pos, neg, mask, 0.5).dataSync()[0]).toBeCloseTo((0.5 * softplus(-0.3) + softplus(1.5) + 0.5 * softplus(2) + softplus(0.1)) / 2, 6);
  });
});

function seq(user: string, items: number[]): UserSequence {
  return { user, items: Int32Array.from(items), types: new Uint8Array(items.length), ts: new Float64Array(items.length) };
}

describe('the reference model is unchanged', () => {
  it('a SASRec with the reference BCE has the spec it had before the losses existed (same lineage, same checkpoints)', () => {
    const m = new Sasrec({ numItems: 30, dim: 8, maxLen: 5, blocks: 1 });
    expect(Object.keys(m.spec.config).sort()).toEqual(['blocks', 'dim', 'dropout', 'heads', 'maxLen', 'numItems']);
    m.dispose();
    const g = new Sasrec({ numItems: 30, dim: 8, maxLen: 5, blocks: 1, negatives: 8, softmax: 1 });
    expect(g.spec.config).toMatchObject({ negatives: 8, softmax: 1 });
    expect(g.spec.config.gbceT).toBeUndefined();
    g.dispose();
  });
});

describe('per-user negatives', () => {
  it('are masked where their user interacted with them', () => {
    // model ids are catalog index + 1; two negatives per user: a gets [1, 3], b gets [5, 3]
    const mask = seenNegativeMask([seq('a', [0, 4]), seq('b', [2])], Int32Array.from([1, 3, 5, 3]), 2);
    expect(Array.from(mask)).toEqual([0, 1, /* b */ 1, 0]);
    expect(() => seenNegativeMask([seq('a', [0])], Int32Array.from([1, 2, 3]), 2)).toThrow(/3 ids for 1 users × 2/);
  });

  it('a SASRec trained with gBCE and 32 negatives per user learns a deterministic successor rule', async () => {
    // item i is always followed by i+1 (mod 40): after training the next item often ranks first.
    const n = 40;
    const data = Array.from({ length: 64 }, (_, u) => seq(`u${u}`, Array.from({ length: 12 }, (_, j) => (u + j) % n)));
    const model = new Sasrec({ numItems: n, dim: 16, maxLen: 12, blocks: 1, dropout: 0, negatives: 32, gbceT: 0.75 }, 3);
    const first = await model.fitLocal(data, { epochs: 1, batchSize: 32, lr: 0.01, seed: 1 });
    const last = await model.fitLocal(data, { epochs: 40, batchSize: 32, lr: 0.01, seed: 2 });
    expect(last.loss).toBeLessThan(first.loss / 2);
    let hits = 0;
    for (let u = 0; u < 20; u++) {
      const h = data[u];
      const top = model.recommend({ items: h.items.subarray(0, 6), types: h.types.subarray(0, 6) }, 1);
      if (top[0] === h.items[6]) hits++;
    }
    expect(hits).toBeGreaterThanOrEqual(8); // chance: 20 / 34 unseen items ≈ 0.6
    model.dispose();
  }, 60_000);
});
