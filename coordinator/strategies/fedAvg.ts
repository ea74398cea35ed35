// FedAvg (McMahan et al. 2017, "Communication-Efficient Learning of Deep
// Networks from Decentralized Data", Algorithm 1): the server averages the
// clients' deltas, weighted by their numbers of examples, and adds the average
// to the global model, here scaled by a server learning rate (1: plain FedAvg).
import { AggregatingStrategy, type CommonOptions, type Params } from './base.ts';
import { checkServerLr, type Weighting } from './validate.ts';

export interface FedAvgOptions extends CommonOptions {
  /** Server learning rate η (default 1: the paper's FedAvg). */
  serverLr?: number;
}

export const FEDAVG_DEFAULTS = { serverLr: 1, weighting: 'examples' as Weighting } as const;

/** global + η·delta, computed in float64 and rounded once per value. */
export function sgdStep(global: Float32Array, delta: Float32Array, lr: number): Float32Array {
  const next = new Float32Array(global.length);
  for (let i = 0; i < next.length; i++) next[i] = global[i] + lr * delta[i];
  return next;
}

export class FedAvg extends AggregatingStrategy {
  readonly name = 'fedavg' as const;
  readonly serverLr: number;

  constructor(options: FedAvgOptions) {
    super('fedavg', options, FEDAVG_DEFAULTS.weighting);
    this.serverLr = checkServerLr('fedavg', options.serverLr ?? FEDAVG_DEFAULTS.serverLr);
  }

  protected params(): Params {
    return { serverLr: this.serverLr, weighting: this.weighting };
  }

  apply(global: Float32Array, delta: Float32Array): Float32Array {
    this.checkApply(global, delta);
    // McMahan et al. 2017, Alg. 1: w_{t+1} = Σ_k (n_k/n)·w^k_{t+1} = w_t + Σ_k (n_k/n)·Δ^k; here w_t + η·Δ
    const next = sgdStep(global, delta, this.serverLr);
    this.step++;
    return next;
  }
}
