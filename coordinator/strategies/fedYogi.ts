// FedYogi (Reddi et al. 2021, "Adaptive Federated Optimization", Algorithm 2,
// Yogi variant): as FedAdam, but v moves towards Δ² by an additive step
// (1 − β2)·Δ² in the direction of Δ² (Zaheer et al. 2018's Yogi), so it
// cannot shrink as fast as Adam's v after a burst of large updates.
import { AdaptiveStrategy, ADAPTIVE_DEFAULTS, type AdaptiveOptions } from './adaptive.ts';

export type FedYogiOptions = AdaptiveOptions;
export const FEDYOGI_DEFAULTS = ADAPTIVE_DEFAULTS;

export class FedYogi extends AdaptiveStrategy {
  readonly name = 'fedyogi' as const;

  constructor(options: FedYogiOptions) {
    super('fedyogi', options);
  }

  apply(global: Float32Array, delta: Float32Array): Float32Array {
    this.checkApply(global, delta);
    const { m, v, beta1: b1, beta2: b2, tau, serverLr: lr } = this;
    const next = new Float32Array(this.size);
    for (let i = 0; i < next.length; i++) {
      const d = delta[i];
      const d2 = d * d;
      // Reddi et al. 2021, Alg. 2: m_t = β1·m_{t−1} + (1 − β1)·Δ_t
      m[i] = b1 * m[i] + (1 - b1) * d;
      // Reddi et al. 2021, Alg. 2 (FedYogi): v_t = v_{t−1} − (1 − β2)·Δ_t²·sign(v_{t−1} − Δ_t²)
      v[i] = v[i] - (1 - b2) * d2 * Math.sign(v[i] - d2);
      // Reddi et al. 2021, Alg. 2: x_{t+1} = x_t + η·m_t / (√v_t + τ)
      next[i] = global[i] + (lr * m[i]) / (Math.sqrt(v[i]) + tau);
    }
    this.step++;
    return next;
  }
}
