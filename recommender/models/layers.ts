// Small functional building blocks shared by the models.
import { tf } from '../tf.ts';

/** Layer normalisation over the last axis (eps 1e-8, as SASRec's reference code). */
export function layerNorm(x: tf.Tensor, gamma: tf.Tensor, beta: tf.Tensor, eps = 1e-8): tf.Tensor {
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

export function dropout(x: tf.Tensor, rate: number, training: boolean, seed: number): tf.Tensor {
  return training && rate > 0 ? tf.dropout(x, rate, undefined, seed) : x;
}

/** Mean binary cross-entropy with logits: softplus(-pos) + softplus(neg), weighted by mask. */
export function bceWithLogits(pos: tf.Tensor, neg: tf.Tensor, mask: tf.Tensor): tf.Scalar {
  const perPos = tf.add(tf.softplus(tf.neg(pos)), tf.softplus(neg));
  const count = tf.maximum(tf.sum(mask), 1);
  return tf.div(tf.sum(tf.mul(perPos, mask)), count) as tf.Scalar;
}

/** Adds (mu/2)·Σ||w − w0||² gradients in place of a loss term: g += mu·(w − w0). */
export function addProximalGradients(
  grads: tf.NamedTensorMap,
  vars: tf.Variable[],
  anchors: tf.Tensor[],
  mu: number,
): tf.NamedTensorMap {
  const out: tf.NamedTensorMap = {};
  vars.forEach((v, i) => {
    const g = grads[v.name];
    out[v.name] = tf.add(g, tf.mul(tf.sub(v, anchors[i]), mu));
  });
  return out;
}
