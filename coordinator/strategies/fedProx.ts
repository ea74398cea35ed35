// FedProx (Li et al. 2020, "Federated Optimization in Heterogeneous Networks",
// Algorithm 2): clients minimise their loss plus a proximal term
// (μ/2)·||w − w_t||² (recommender's fitLocal takes it as `proxMu`); the server
// side is FedAvg's. The engine sends `proxMu` to clients in each Task
// (`train.mu`).
import { AggregatingStrategy, type CommonOptions, type Params } from './base.ts';
import { sgdStep } from './fedAvg.ts';
import { checkNumber, checkServerLr, type Weighting } from './validate.ts';

export interface FedProxOptions extends CommonOptions {
  /** Server learning rate η (default 1, as in the paper). */
  serverLr?: number;
  /**
   * μ of the clients' proximal term (default 0.01). The paper picks μ per task
   * from {0.001, 0.01, 0.1, 1}; μ = 0 makes the clients' objective FedAvg's.
   */
  proxMu?: number;
}

export const FEDPROX_DEFAULTS = { serverLr: 1, proxMu: 0.01, weighting: 'examples' as Weighting } as const;

export class FedProx extends AggregatingStrategy {
  readonly name = 'fedprox' as const;
  readonly serverLr: number;
  /** μ the clients use in their proximal term; goes into each Task. */
  readonly proxMu: number;

  constructor(options: FedProxOptions) {
    super('fedprox', options, FEDPROX_DEFAULTS.weighting);
    this.serverLr = checkServerLr('fedprox', options.serverLr ?? FEDPROX_DEFAULTS.serverLr);
    this.proxMu = checkNumber('fedprox', 'proxMu', options.proxMu ?? FEDPROX_DEFAULTS.proxMu, { min: 0 });
  }

  protected params(): Params {
    return { serverLr: this.serverLr, weighting: this.weighting, proxMu: this.proxMu };
  }

  apply(global: Float32Array, delta: Float32Array): Float32Array {
    this.checkApply(global, delta);
    // Li et al. 2020, Alg. 2: w^{t+1} = average of the clients' w_k^{t+1} = w^t + Δ (as FedAvg); here w^t + η·Δ
    const next = sgdStep(global, delta, this.serverLr);
    this.step++;
    return next;
  }
}
