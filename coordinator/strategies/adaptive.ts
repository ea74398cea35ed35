// What FedAdam and FedYogi share (Reddi et al. 2021, "Adaptive Federated
// Optimization", Algorithm 2): hyper-parameters, the moment vectors m and v,
// and their state. Each strategy's file holds its own server step.
import { AggregatingStrategy, type CommonOptions, type Params, type StrategyName } from './base.ts';
import { checkDecay, checkNumber, checkServerLr, type Weighting } from './validate.ts';

export interface AdaptiveOptions extends CommonOptions {
  /**
   * Server learning rate η (default 0.01). Reddi et al. tune η per task on a
   * log10 grid rather than fix it; 0.01 is our starting point, not a value the
   * paper prescribes. It is far below FedAvg's 1 because m/(√v + τ) is about
   * ±1 per coordinate whatever the scale of Δ, so η is the step per
   * coordinate. Tune it.
   */
  serverLr?: number;
  /** First-moment decay β1 in [0, 1) (default 0.9, as in the paper's experiments). */
  beta1?: number;
  /** Second-moment decay β2 in [0, 1) (default 0.99, as in the paper's experiments). */
  beta2?: number;
  /** Adaptivity τ > 0 (default 1e-3): the v floor (v starts at τ²) and the denominator's offset. */
  tau?: number;
}

export const ADAPTIVE_DEFAULTS = { serverLr: 0.01, beta1: 0.9, beta2: 0.99, tau: 1e-3, weighting: 'examples' as Weighting } as const;

export abstract class AdaptiveStrategy extends AggregatingStrategy {
  abstract override readonly name: StrategyName;
  readonly serverLr: number;
  readonly beta1: number;
  readonly beta2: number;
  readonly tau: number;
  /** First moment m, starts at 0. */
  protected readonly m: Float32Array;
  /** Second moment v, starts at τ² (Reddi et al. 2021, Alg. 2: v_{-1} ≥ τ²). */
  protected readonly v: Float32Array;

  constructor(where: string, options: AdaptiveOptions) {
    super(where, options, ADAPTIVE_DEFAULTS.weighting);
    this.serverLr = checkServerLr(where, options.serverLr ?? ADAPTIVE_DEFAULTS.serverLr);
    this.beta1 = checkDecay(where, 'beta1', options.beta1 ?? ADAPTIVE_DEFAULTS.beta1);
    this.beta2 = checkDecay(where, 'beta2', options.beta2 ?? ADAPTIVE_DEFAULTS.beta2);
    this.tau = checkNumber(where, 'tau', options.tau ?? ADAPTIVE_DEFAULTS.tau, { min: 0, minExclusive: true });
    this.m = new Float32Array(this.size);
    this.v = new Float32Array(this.size).fill(this.tau * this.tau);
  }

  protected params(): Params {
    return { serverLr: this.serverLr, beta1: this.beta1, beta2: this.beta2, tau: this.tau, weighting: this.weighting };
  }

  protected override vectors(): Record<string, Float32Array> {
    return { m: this.m, v: this.v };
  }
}
