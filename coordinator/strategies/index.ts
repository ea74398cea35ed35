// Server-side federated optimisation strategies: FedAvg, FedAvgM, FedAdam,
// FedYogi, FedProx. Each folds accepted updates into a float64 RunningSum
// (memory O(model)), averages them in `finish`, and takes its server step in
// `apply`; optimizer state round-trips through state()/restore().
import type { Strategy } from '../types.ts';
import type { StrategyName } from './base.ts';
import { FedAvg, FEDAVG_DEFAULTS } from './fedAvg.ts';
import { FedAvgM, FEDAVGM_DEFAULTS } from './fedAvgM.ts';
import { FedAdam, FEDADAM_DEFAULTS } from './fedAdam.ts';
import { FedYogi, FEDYOGI_DEFAULTS } from './fedYogi.ts';
import { FedProx, FEDPROX_DEFAULTS } from './fedProx.ts';
import { checkSize, type Weighting } from './validate.ts';

export { FedAvg, FEDAVG_DEFAULTS, sgdStep } from './fedAvg.ts';
export { FedAvgM, FEDAVGM_DEFAULTS } from './fedAvgM.ts';
export { FedAdam, FEDADAM_DEFAULTS } from './fedAdam.ts';
export { FedYogi, FEDYOGI_DEFAULTS } from './fedYogi.ts';
export { FedProx, FEDPROX_DEFAULTS } from './fedProx.ts';
export { AggregatingStrategy, type CommonOptions, type StrategyName } from './base.ts';
export { AdaptiveStrategy, ADAPTIVE_DEFAULTS, type AdaptiveOptions } from './adaptive.ts';
export { RunningSum, wasmKernelAvailable, CHUNK, type SumKernel, type RunningSumOptions } from './runningSum.ts';
export { WEIGHTINGS, type Weighting } from './validate.ts';
export type { FedAvgOptions } from './fedAvg.ts';
export type { FedAvgMOptions } from './fedAvgM.ts';
export type { FedAdamOptions } from './fedAdam.ts';
export type { FedYogiOptions } from './fedYogi.ts';
export type { FedProxOptions } from './fedProx.ts';

export const STRATEGY_NAMES: readonly StrategyName[] = ['fedavg', 'fedavgm', 'fedadam', 'fedyogi', 'fedprox'];

/** Every strategy's defaults, by name. */
export const STRATEGY_DEFAULTS = {
  fedavg: FEDAVG_DEFAULTS,
  fedavgm: FEDAVGM_DEFAULTS,
  fedadam: FEDADAM_DEFAULTS,
  fedyogi: FEDYOGI_DEFAULTS,
  fedprox: FEDPROX_DEFAULTS,
} as const;

export interface StrategyConfig {
  name: StrategyName;
  /** Values per update (the model's size). */
  size: number;
  /** Server learning rate η (default 1; 0.01 for fedadam/fedyogi). */
  serverLr?: number;
  /** fedavgm: server momentum β in [0, 1) (default 0.9). */
  momentum?: number;
  /** fedadam/fedyogi: first-moment decay in [0, 1) (default 0.9). */
  beta1?: number;
  /** fedadam/fedyogi: second-moment decay in [0, 1) (default 0.99). */
  beta2?: number;
  /** fedadam/fedyogi: adaptivity τ > 0 (default 1e-3). */
  tau?: number;
  /** 'examples' (default): weight updates by numExamples; 'uniform': 1 each. */
  weighting?: Weighting;
  /** fedprox: μ of the clients' proximal term, >= 0 (default 0.01). */
  proxMu?: number;
}

export type AnyStrategy = FedAvg | FedAvgM | FedAdam | FedYogi | FedProx;

const COMMON_FIELDS = ['name', 'size', 'serverLr', 'weighting'] as const;
/** The fields each strategy takes besides the common ones. */
const OWN_FIELDS: Record<StrategyName, readonly string[]> = {
  fedavg: [],
  fedavgm: ['momentum'],
  fedadam: ['beta1', 'beta2', 'tau'],
  fedyogi: ['beta1', 'beta2', 'tau'],
  fedprox: ['proxMu'],
};

/**
 * The strategy a config names, with its hyper-parameters checked: an unknown
 * name, an unknown field, a field the strategy does not take (momentum for
 * fedadam, …) or a value out of range throws an Error naming the field.
 * Fields set to undefined count as absent.
 */
export function createStrategy(config: StrategyConfig): AnyStrategy & Strategy {
  const where = 'strategy config';
  if (config === null || typeof config !== 'object') throw new Error(`${where}: expected an object { name, size, ... }, got ${String(config)}`);
  const name = config.name;
  if (!STRATEGY_NAMES.includes(name)) {
    throw new Error(`${where}: name must be one of ${STRATEGY_NAMES.map((n) => `'${n}'`).join(', ')}, got ${JSON.stringify(name) ?? String(name)}`);
  }
  const allowed = new Set<string>([...COMMON_FIELDS, ...OWN_FIELDS[name]]);
  for (const [key, value] of Object.entries(config)) {
    if (value === undefined || allowed.has(key)) continue;
    const takers = STRATEGY_NAMES.filter((n) => OWN_FIELDS[n].includes(key));
    throw new Error(
      takers.length
        ? `${where}: ${key} does not apply to '${name}' (only to ${takers.map((n) => `'${n}'`).join(', ')})`
        : `${where}: unknown field '${key}' (fields: ${[...COMMON_FIELDS, ...new Set(Object.values(OWN_FIELDS).flat())].join(', ')})`,
    );
  }
  const size = checkSize(where, config.size);
  const { serverLr, weighting } = config;
  switch (name) {
    case 'fedavg':
      return new FedAvg({ size, serverLr, weighting });
    case 'fedavgm':
      return new FedAvgM({ size, serverLr, weighting, momentum: config.momentum });
    case 'fedadam':
      return new FedAdam({ size, serverLr, weighting, beta1: config.beta1, beta2: config.beta2, tau: config.tau });
    case 'fedyogi':
      return new FedYogi({ size, serverLr, weighting, beta1: config.beta1, beta2: config.beta2, tau: config.tau });
    case 'fedprox':
      return new FedProx({ size, serverLr, weighting, proxMu: config.proxMu });
  }
}
