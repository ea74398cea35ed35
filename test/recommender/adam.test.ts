import { beforeAll, describe, expect, it } from 'vitest';
import { tf } from '../../recommender/tf.ts';
import { initBackend } from '../../recommender/backend/index.ts';
import { FusedAdam } from '../../recommender/models/adam.ts';
import { FusedSgd } from '../../recommender/models/sgd.ts';
import { dropout } from '../../recommender/models/layers.ts';
import { Rng } from '../../recommender/random.ts';

beforeAll(async () => {
  await initBackend('wasm');
});

function stepWith(v: tf.Variable, opt: FusedAdam, grad: number[]): void {
  tf.tidy(() => opt.step({ [v.name]: tf.tensor1d(grad) }));
}

describe('FusedAdam (Kingma & Ba 2015, Algorithm 1)', () => {
  it('matches a hand computation over two steps', () => {
    const v = tf.variable(tf.tensor1d([1, -1]));
    const opt = new FusedAdam([v], { lr: 0.1, beta1: 0.9, beta2: 0.999, epsilon: 0 });
    // step 1: m̂ = g, v̂ = g², so every weight moves by exactly lr·sign(g)
    stepWith(v, opt, [0.5, -4]);
    const w1 = Array.from(v.dataSync());
    expect(w1[0]).toBeCloseTo(0.9, 6);
    expect(w1[1]).toBeCloseTo(-0.9, 6);
    // step 2 with g = 0.25 on the first weight:
    // m = 0.9·0.05 + 0.1·0.25 = 0.07, m̂ = 0.07/0.19
    // v = 0.999·0.00025 + 0.001·0.0625 = 0.00031225, v̂ = v/(1−0.999²) = v/0.001999
    stepWith(v, opt, [0.25, 0]);
    const mHat = 0.07 / 0.19;
    const vHat = 0.00031225 / 0.001999;
    expect(v.dataSync()[0]).toBeCloseTo(0.9 - (0.1 * mHat) / Math.sqrt(vHat), 5);
    v.dispose();
  });

  it('FedProx adds mu·(w − w0) to the gradient of anchored variables only', () => {
    const a = tf.variable(tf.tensor1d([2]));
    const b = tf.variable(tf.tensor1d([2]));
    const opt = new FusedAdam([a, b], { lr: 0.1, epsilon: 0, proxMu: 1, anchored: [a] });
    // first step: both have w = w0, so the prox gradient is 0 and both move by lr against g
    tf.tidy(() => opt.step({ [a.name]: tf.tensor1d([1]), [b.name]: tf.tensor1d([1]) }));
    expect(a.dataSync()[0]).toBeCloseTo(1.9, 6);
    expect(b.dataSync()[0]).toBeCloseTo(1.9, 6);
    // second step with a zero data gradient: a is pulled back up towards 2, b keeps going down (momentum)
    tf.tidy(() => opt.step({ [a.name]: tf.tensor1d([0]), [b.name]: tf.tensor1d([0]) }));
    // a's effective gradient is 1·(1.9 − 2) = −0.1: m = 0.09 − 0.01 = 0.08 > 0 still, so it moves less than b
    expect(a.dataSync()[0]).toBeGreaterThan(b.dataSync()[0]);
    tf.dispose([a, b]);
  });
});

describe('dropout with a seeded mask', () => {
  it('drops about `rate` of the entries, scales the rest by 1/keep, and keeps the mean', () => {
    const x = tf.ones([200, 500]);
    const y = dropout(x, 0.2, true, new Rng(7));
    const vals = y.dataSync() as Float32Array;
    const zeros = vals.filter((v) => v === 0).length / vals.length;
    // 100,000 Bernoulli(0.2) draws: sd of the rate is 0.00126; 5 sd bound
    expect(Math.abs(zeros - 0.2)).toBeLessThan(0.0065);
    const kept = vals.find((v) => v !== 0)!;
    expect(kept).toBeCloseTo(65536 / Math.round(0.8 * 65536), 6);
    const mean = vals.reduce((s, v) => s + v, 0) / vals.length;
    expect(Math.abs(mean - 1)).toBeLessThan(0.01);
    tf.dispose([x, y]);
  });

  it('is the identity when not training, and the same seed gives the same mask', () => {
    const x = tf.ones([10, 10]);
    expect(dropout(x, 0.5, false, new Rng(1))).toBe(x);
    const a = dropout(x, 0.5, true, new Rng(3)).dataSync();
    const b = dropout(x, 0.5, true, new Rng(3)).dataSync();
    expect(Array.from(a)).toEqual(Array.from(b));
    x.dispose();
  });
});

describe('FusedSgd (the DP-FedAvg client optimizer)', () => {
  it('steps w ← w − lr·(g + mu·(w − w0)), by hand, and only anchored variables feel the FedProx pull', () => {
    const a = tf.variable(tf.tensor1d([1, 2]));
    const b = tf.variable(tf.tensor1d([1]));
    const opt = new FusedSgd([a, b], { lr: 0.1, proxMu: 0.5, anchored: [a] });
    tf.tidy(() => opt.step({ [a.name]: tf.tensor1d([0.5, -1]), [b.name]: tf.tensor1d([0.5]) }));
    // at w = w0 the prox term is 0: 1 − 0.05, 2 + 0.1, 1 − 0.05
    expect(Array.from(a.dataSync())[0]).toBeCloseTo(0.95, 6);
    expect(Array.from(a.dataSync())[1]).toBeCloseTo(2.1, 6);
    expect(b.dataSync()[0]).toBeCloseTo(0.95, 6);
    tf.tidy(() => opt.step({ [a.name]: tf.tensor1d([0.5, -1]), [b.name]: tf.tensor1d([0.5]) }));
    // a[0]: g + 0.5·(0.95 − 1) = 0.475 → 0.95 − 0.0475 = 0.9025; b has no anchor: 0.95 − 0.05 = 0.9
    expect(a.dataSync()[0]).toBeCloseTo(0.9025, 6);
    expect(b.dataSync()[0]).toBeCloseTo(0.9, 6);
    a.dispose();
    b.dispose();
  });

  it('fitLocal trains with it when asked, and refuses an unknown optimizer by name', async () => {
    const { createModel } = await import('../../recommender/models/index.ts');
    const seq = (user: string, items: number[]) => ({ user, items: Int32Array.from(items), types: new Uint8Array(items.length), ts: Float64Array.from(items) });
    const seqs = [seq('u0', [1, 2, 3, 4]), seq('u1', [2, 3, 4, 5])];
    const m = createModel('mf', { numItems: 8, dim: 4 }, 3);
    const w0 = m.getWeights();
    const sgd = await m.fitLocal(seqs, { epochs: 1, batchSize: 8, lr: 0.1, seed: 1, optimizer: 'sgd' });
    expect(Number.isFinite(sgd.loss)).toBe(true);
    const w1 = m.getWeights();
    // SGD moves only the rows that have gradients; Adam's first step would move every one by exactly lr
    let moved = 0;
    let lrSized = 0;
    for (let i = 0; i < w0.length; i++) {
      if (w1[i] !== w0[i]) moved++;
      if (Math.abs(Math.abs(w1[i] - w0[i]) - 0.1) < 1e-6) lrSized++;
    }
    expect(moved).toBeGreaterThan(0);
    expect(lrSized).toBeLessThan(moved);
    await expect(m.fitLocal(seqs, { epochs: 1, batchSize: 8, lr: 0.1, seed: 1, optimizer: 'lion' as never })).rejects.toThrow(/optimizer must be one of adam, sgd, got lion/);
    m.dispose();
  });
});
