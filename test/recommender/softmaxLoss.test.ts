// The sampled softmax's custom gradient against a hand computation and against
// tfjs's own autodiff of the same formula (logSumExp over the concatenation).
import { beforeAll, describe, expect, it } from 'vitest';
import { tf } from '../../recommender/tf.ts';
import { initBackend } from '../../recommender/backend/index.ts';
import { sampledSoftmaxWithLogits } from '../../recommender/models/layers.ts';

beforeAll(async () => {
  await initBackend('cpu');
});

describe('sampledSoftmaxWithLogits', () => {
  it('equals −s⁺ + log(e^{s⁺} + Σ kept e^{s⁻}) averaged over masked positions', () => {
    const pos = tf.tensor2d([[0.5, -1, 7]]);
    const neg = tf.tensor3d([[[0.2, 3], [1, 0], [9, 9]]]);
    const mask = tf.tensor2d([[1, 1, 0]]);
    const keep = tf.tensor3d([[[1, 0]]]); // the second negative is the user's own item
    const l1 = -0.5 + Math.log(Math.exp(0.5) + Math.exp(0.2));
    const l2 = 1 + Math.log(Math.exp(-1) + Math.exp(1));
    expect(sampledSoftmaxWithLogits(pos, neg, mask, keep).dataSync()[0]).toBeCloseTo((l1 + l2) / 2, 5);
  });

  it('its gradient matches autodiff of the plain formula, and a dropped negative gets none', () => {
    const pos = tf.tensor2d([[0.5, -1.5], [2, 0.1]]);
    const neg = tf.tensor3d([[[0.2, 3, -1], [1, 0, 0.5]], [[-2, 40, 1], [0.3, 0.3, 0.3]]]);
    const mask = tf.tensor2d([[1, 1], [1, 0]]);
    const keep = tf.tensor3d([[[1, 1, 0]], [[1, 1, 1]]]);
    const ours = tf.grads((p: tf.Tensor, n: tf.Tensor) => sampledSoftmaxWithLogits(p, n, mask, keep));
    const reference = tf.grads((p: tf.Tensor, n: tf.Tensor) => {
      const masked = tf.add(n, tf.mul(tf.sub(1, keep), -1e9));
      const per = tf.sub(tf.logSumExp(tf.concat([tf.expandDims(p, -1), masked], -1), -1), p);
      return tf.div(tf.sum(tf.mul(per, mask)), tf.sum(mask));
    });
    const [gp, gn] = ours([pos, neg]);
    const [rp, rn] = reference([pos, neg]);
    const close = (a: tf.Tensor, b: tf.Tensor) => Array.from(a.dataSync()).forEach((x, i) => expect(x).toBeCloseTo(b.dataSync()[i], 5));
    close(gp, rp);
    close(gn, rn);
    expect(gn.arraySync() as number[][][]).toSatisfy((g: number[][][]) => g[0][0][2] === 0 && g[0][1][2] === 0);
  });

  it('a masked negative far above the kept logits neither underflows the sum nor makes the gradient NaN', () => {
    // the masked item is the user's own, trained up elsewhere: logit 120 vs kept 0 and 0.5
    const pos = tf.tensor2d([[0]]);
    const neg = tf.tensor3d([[[120, 0.5]]]);
    const mask = tf.tensor2d([[1]]);
    const keep = tf.tensor3d([[[0, 1]]]);
    const want = -0 + Math.log(Math.exp(0) + Math.exp(0.5));
    expect(sampledSoftmaxWithLogits(pos, neg, mask, keep).dataSync()[0]).toBeCloseTo(want, 5);
    const [gp, gn] = tf.grads((p: tf.Tensor, n: tf.Tensor) => sampledSoftmaxWithLogits(p, n, mask, keep))([pos, neg]);
    const p1 = Math.exp(0) / (Math.exp(0) + Math.exp(0.5));
    expect(gp.dataSync()[0]).toBeCloseTo(p1 - 1, 5);
    expect(Array.from(gn.dataSync())).toEqual([0, expect.closeTo(1 - p1, 5)]);
  });
});
