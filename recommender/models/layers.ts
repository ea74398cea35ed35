// Small functional building blocks shared by the models.
import { tf } from '../tf.ts';
import type { Rng } from '../random.ts';
import { fusedLayerNorm, fusedLayerNormAvailable } from './fusedLayerNorm.ts';

/**
 * Layer normalisation over the last axis (eps 1e-8, as SASRec's reference code).
 * One fused kernel on cpu and wasm (fusedLayerNorm.ts), the composite elsewhere.
 */
export function layerNorm(x: tf.Tensor, gamma: tf.Tensor, beta: tf.Tensor, eps = 1e-8): tf.Tensor {
  if (fusedLayerNormAvailable(x, gamma, beta)) return fusedLayerNorm(x, gamma, beta, eps);
  const { mean, variance } = tf.moments(x, -1, true);
  return tf.add(tf.mul(tf.div(tf.sub(x, mean), tf.sqrt(tf.add(variance, eps))), gamma), beta);
}

/** x·W + b for x of any rank (the last axis is the feature axis). */
export function dense(x: tf.Tensor, w: tf.Tensor, b: tf.Tensor): tf.Tensor {
  const inDim = x.shape[x.shape.length - 1] as number;
  const flat = tf.reshape(x, [-1, inDim]);
  const y = tf.add(tf.matMul(flat, w), b);
  return tf.reshape(y, [...x.shape.slice(0, -1), w.shape[1] as number]);
}

/**
 * Inverted dropout with a mask drawn from our seeded PRNG: two keep/drop
 * decisions per 32-bit draw (16 bits each), scaled by the exact keep
 * probability so the expectation is unchanged. tf.dropout draws one float per
 * element through seedrandom and needs four more kernels (~2.5 ms per
 * [128,50,32] mask on wasm, ~15 ms per SASRec step).
 */
export function dropout(x: tf.Tensor, rate: number, training: boolean, rng: Rng): tf.Tensor {
  if (!training || rate <= 0) return x;
  const threshold = Math.round((1 - rate) * 65536);
  const scale = 65536 / threshold;
  const mask = new Float32Array(x.size);
  for (let i = 0; i < mask.length; i += 2) {
    const r = rng.nextUint32();
    mask[i] = (r & 0xffff) < threshold ? scale : 0;
    if (i + 1 < mask.length) mask[i + 1] = r >>> 16 < threshold ? scale : 0;
  }
  return tf.mul(x, tf.tensor(mask, x.shape, 'float32'));
}

/**
 * SASRec's reference loss: mean over masked positions of
 * β·softplus(−pos) + softplus(neg), one negative per position (β = 1 is plain BCE).
 */
export function bceWithLogits(pos: tf.Tensor, neg: tf.Tensor, mask: tf.Tensor, beta = 1): tf.Scalar {
  const posTerm = beta === 1 ? tf.softplus(tf.neg(pos)) : tf.mul(tf.softplus(tf.neg(pos)), beta);
  const perPos = tf.add(posTerm, tf.softplus(neg));
  const count = tf.maximum(tf.sum(mask), 1);
  return tf.div(tf.sum(tf.mul(perPos, mask)), count) as tf.Scalar;
}

/**
 * gSASRec's generalised BCE (Petrov & Macdonald, RecSys 2023, eq. 8) with k
 * negatives per position: mean over masked positions of
 * (β·softplus(−s⁺) + Σ_j m_j·softplus(s⁻_j)) / (k + 1), since
 * −log σ(s)^β = β·softplus(−s) and −log(1 − σ(s)) = softplus(s).
 * pos: [B, L]; neg: [B, L, k]; mask: [B, L]; negMask (1 keeps, 0 drops a negative): broadcast to [B, L, k].
 */
export function gbceWithLogits(pos: tf.Tensor, neg: tf.Tensor, mask: tf.Tensor, beta: number, negMask?: tf.Tensor): tf.Scalar {
  const k = neg.shape[neg.shape.length - 1] as number;
  const sp = tf.softplus(neg);
  const negTerm = tf.sum(negMask ? tf.mul(sp, negMask) : sp, -1);
  const perPos = tf.div(tf.add(tf.mul(tf.softplus(tf.neg(pos)), beta), negTerm), k + 1);
  const count = tf.maximum(tf.sum(mask), 1);
  return tf.div(tf.sum(tf.mul(perPos, mask)), count) as tf.Scalar;
}

/**
 * Sampled softmax cross-entropy with k negatives per position: mean over masked
 * positions of −s⁺ + log(exp(s⁺) + Σ_j m_j·exp(s⁻_j)) (uniform sampling, so the
 * logQ correction is one constant for every negative and is left out, as in
 * Klenitskiy & Vasilev, RecSys 2023). Shapes as gbceWithLogits.
 *
 * One custom-gradient op: with p = softmax over [s⁺, s⁻ (masked)], the
 * gradient is p⁺ − 1 for s⁺ and p⁻_j for s⁻_j (0 where masked); tfjs's
 * logSumExp + concat would spend most of the step in max's and concat's
 * gradients (Equal, SplitV).
 */
export function sampledSoftmaxWithLogits(pos: tf.Tensor, neg: tf.Tensor, mask: tf.Tensor, negMask?: tf.Tensor): tf.Scalar {
  const keep = negMask ?? tf.onesLike(neg);
  const perPos = softmaxCrossEntropyOp(pos, neg, keep);
  const count = tf.maximum(tf.sum(mask), 1);
  return tf.div(tf.sum(tf.mul(perPos, mask)), count) as tf.Scalar;
}

function softmaxCrossEntropyOp(pos: tf.Tensor, neg: tf.Tensor, keep: tf.Tensor): tf.Tensor {
  const op = tf.customGrad((...args: Array<tf.Tensor | tf.GradSaveFunc>) => {
    const [p, n, save] = args as [tf.Tensor, tf.Tensor, tf.GradSaveFunc];
    // stabilise by the row maximum over the positive and the kept negatives (a
    // masked negative far above them would make every kept exp underflow to 0)
    // (−1e30 on a masked logit: its exp is exactly 0, never inf × 0)
    const kept = tf.add(n, tf.mul(tf.sub(keep, 1), 1e30));
    const m = tf.maximum(p, tf.max(kept, -1));
    const ePos = tf.exp(tf.sub(p, m));
    const eNeg = tf.exp(tf.sub(kept, tf.expandDims(m, -1)));
    const total = tf.add(ePos, tf.sum(eNeg, -1));
    save([ePos, eNeg, total]);
    return {
      value: tf.sub(tf.add(tf.log(total), m), p),
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
        const [eP, eN, t] = saved;
        const dPos = tf.mul(dy, tf.sub(tf.div(eP, t), 1));
        const dNeg = tf.mul(tf.expandDims(tf.div(dy, t), -1), eN);
        return [dPos, dNeg];
      },
    };
  });
  return op(pos, neg) as tf.Tensor;
}
