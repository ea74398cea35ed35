// Layer normalisation over the last axis as one fused kernel with its own
// gradient (recommender/backend/layerNormKernels.ts), on the backends that
// have it (cpu, wasm); `layerNorm` in layers.ts falls back to the composite
// elsewhere (tensorflow, webgl).
import { tf } from '../tf.ts';
import { LAYER_NORM, layerNormKernelsActive } from '../backend/layerNormKernels.ts';

/** Whether `fusedLayerNorm` can serve these arguments on the active backend. */
export function fusedLayerNormAvailable(x: tf.Tensor, gamma: tf.Tensor, beta: tf.Tensor): boolean {
  const d = x.shape[x.shape.length - 1];
  const vec = (t: tf.Tensor) => t.rank === 1 && t.shape[0] === d && t.dtype === 'float32';
  return x.rank >= 1 && x.dtype === 'float32' && vec(gamma) && vec(beta) && layerNormKernelsActive();
}

/**
 * (x - mean) / sqrt(var + eps) · gamma + beta over the last axis (biased variance),
 * for float32 x [..., d] and gamma, beta [d]; differentiable in all three.
 */
export function fusedLayerNorm(x: tf.Tensor, gamma: tf.Tensor, beta: tf.Tensor, eps = 1e-8): tf.Tensor {
  const [y, mean, invstd] = tf.engine().runKernel(LAYER_NORM, { x, gamma, beta }, { eps }) as tf.Tensor[];
  // The row statistics are for the backward pass, which keeps its own copies.
  mean.dispose();
  invstd.dispose();
  return y;
}
