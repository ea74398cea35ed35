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

/** Mean binary cross-entropy with logits: softplus(-pos) + softplus(neg), weighted by mask. */
export function bceWithLogits(pos: tf.Tensor, neg: tf.Tensor, mask: tf.Tensor): tf.Scalar {
  const perPos = tf.add(tf.softplus(tf.neg(pos)), tf.softplus(neg));
  const count = tf.maximum(tf.sum(mask), 1);
  return tf.div(tf.sum(tf.mul(perPos, mask)), count) as tf.Scalar;
}
