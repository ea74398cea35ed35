// FedAdam (Reddi et al. 2021, "Adaptive Federated Optimization", Algorithm 2,
// Adam variant): the averaged client delta Δ is a pseudo-gradient for a
// server-side Adam without bias correction, with adaptivity τ in place of ε.
import { AdaptiveStrategy, ADAPTIVE_DEFAULTS, type AdaptiveOptions } from './adaptive.ts';

export type FedAdamOptions = AdaptiveOptions;
export const FEDADAM_DEFAULTS = ADAPTIVE_DEFAULTS;

export class FedAdam extends AdaptiveStrategy {
  readonly name = 'fedadam' as const;

  constructor(options: FedAdamOptions) {
    super('fedadam', options);
  }

  apply(global: Float32Array, delta: Float32Array): Float32Array {
    this.checkApply(global, delta);
    const { m, v, beta1: b1, beta2: b2, tau, serverLr: lr } = this;
    const next = new Float32Array(this.size);
    for (let i = 0; i < next.length; i++) {
      const d = delta[i];
      // Reddi et al. 2021, Alg. 2: m_t = β1·m_{t−1} + (1 − β1)·Δ_t
      m[i] = b1 * m[i] + (1 - b1) * d;
      // Reddi et al. 2021, Alg. 2 (FedAdam): v_t = β2·v_{t−1} + (1 − β2)·Δ_t²
      v[i] = b2 * v[i] + (1 - b2) * d * d;
      // Reddi et al. 2021, Alg. 2: x_{t+1} = x_t + η·m_t / (√v_t + τ)
      next[i] = global[i] + (lr * m[i]) / (Math.sqrt(v[i]) + tau);
    }
    this.step++;
    return next;
  }
}
