// FedAvgM (Hsu, Qi & Brown 2019, "Measuring the Effects of Non-Identical Data
// Distribution for Federated Visual Classification", §3): FedAvg's averaged
// delta drives server momentum, v ← β·v + Δ, x ← x + η·v.
import { AggregatingStrategy, type CommonOptions, type Params } from './base.ts';
import { checkDecay, checkServerLr, type Weighting } from './validate.ts';

export interface FedAvgMOptions extends CommonOptions {
  /** Server learning rate η (default 1). */
  serverLr?: number;
  /** Server momentum β in [0, 1) (default 0.9; β = 0 is FedAvg). */
  momentum?: number;
}

export const FEDAVGM_DEFAULTS = { serverLr: 1, momentum: 0.9, weighting: 'examples' as Weighting } as const;

export class FedAvgM extends AggregatingStrategy {
  readonly name = 'fedavgm' as const;
  readonly serverLr: number;
  readonly momentum: number;
  /** The momentum buffer v, starts at 0. */
  private readonly velocity: Float32Array;

  constructor(options: FedAvgMOptions) {
    super('fedavgm', options, FEDAVGM_DEFAULTS.weighting);
    this.serverLr = checkServerLr('fedavgm', options.serverLr ?? FEDAVGM_DEFAULTS.serverLr);
    this.momentum = checkDecay('fedavgm', 'momentum', options.momentum ?? FEDAVGM_DEFAULTS.momentum);
    this.velocity = new Float32Array(this.size);
  }

  protected params(): Params {
    return { serverLr: this.serverLr, momentum: this.momentum, weighting: this.weighting };
  }

  protected override vectors(): Record<string, Float32Array> {
    return { momentum: this.velocity };
  }

  apply(global: Float32Array, delta: Float32Array): Float32Array {
    this.checkApply(global, delta);
    const v = this.velocity;
    const beta = this.momentum;
    const lr = this.serverLr;
    const next = new Float32Array(this.size);
    for (let i = 0; i < next.length; i++) {
      // Hsu et al. 2019, §3 (server momentum): v ← β·v + Δ
      v[i] = beta * v[i] + delta[i];
      // Hsu et al. 2019, §3: x ← x + η·v  (the paper writes it with Δ as a pseudo-gradient: w ← w − η·v)
      next[i] = global[i] + lr * v[i];
    }
    this.step++;
    return next;
  }
}
