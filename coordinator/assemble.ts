// The one place a RoundEngine is put together, for the socket coordinator
// (coordinator.ts) and for simulations alike: the strategy (uniform weighting
// under DP), the engine's configuration (the largest legal update, SGD for
// DP-FedAvg clients, FedProx μ), the round releases (plain with its norm and
// weight bounds, or central DP with the ledger replayed from the store) and
// the engine itself.
import { CODEC_HEADER_BYTES, type Codec } from '../protocol/index.ts';
import type { RandomSource } from '../privacy/index.ts';
import { RoundEngine, type EngineConfig, type EngineDeps } from './engine/index.ts';
import { PlainPlanner, PrivacyController, type PrivacySettings, type ReleasePlanner } from './release/index.ts';
import { createStrategy, type AnyStrategy, type StrategyName } from './strategies/index.ts';
import type { Strategy } from './types.ts';

/** Everything about a federation's rounds that a fedrec.json or a simulation config decides. */
export interface FederationSettings {
  /** Values in the model. */
  size: number;
  rounds: {
    total: number;
    clientsPerRound: number;
    sampleRate?: number;
    minClients: number;
    maxClients: number;
    overSelect: number;
    quorum: number;
    deadlineMs: number;
    pauseMs: number;
    /** Grace period before the first round (clients load their model and data). */
    startDelayMs?: number;
  };
  /** Local training; `optimizer` defaults to SGD under central DP (DP-FedAvg), else Adam. */
  train: { epochs: number; lr: number; batchSize: number; optimizer?: 'adam' | 'sgd' };
  strategy: {
    name: StrategyName;
    serverLr?: number;
    momentum?: number;
    beta1?: number;
    beta2?: number;
    tau?: number;
    /** Default 'examples'; central DP requires 'uniform'. */
    weighting?: 'examples' | 'uniform';
    /** Clients' proximal term μ: fedprox's own (default 0.01), or any strategy's when set. */
    proxMu?: number;
  };
  codec: Codec;
  limits: {
    /** Default: the model at f32 plus headroom. */
    maxUpdateBytes?: number;
    /** Without DP: the L2 bound of one update (null: none; default from the initial weights, see defaultMaxUpdateNorm). */
    maxUpdateNorm?: number | null;
    /** Without DP: the largest aggregation weight of one update (default MAX_WEIGHT). */
    maxWeight?: number;
  };
  evaluate: boolean;
  /** Central DP, or null. */
  privacy: PrivacySettings | null;
  /** The most updates one round can fold (registered clients). */
  maxUpdates: number;
  /** Under DP, close rounds at their deadline (default true; simulations have no timing channel and pass false). */
  closeAtDeadline?: boolean;
}

/** Default largest aggregation weight without DP: 2²⁴, the largest count float32 holds exactly; far above any round's examples. */
export const MAX_WEIGHT = 2 ** 24;

/** How many times the initial model's norm one update may move it (without DP) by default. */
export const UPDATE_NORM_FACTOR = 10;

/**
 * The default server-side norm bound without DP: 10 × ‖w₀‖ (at least 1). An
 * honest round of local training moves a model by about its own norm or less
 * (measured: 0.03–0.1 × for SASRec, up to 1.4 × for MF with Adam at lr 0.003);
 * ten times that only stops an update that would wreck the model.
 */
export function defaultMaxUpdateNorm(initialWeights: Float32Array): number {
  let sq = 0;
  for (let i = 0; i < initialWeights.length; i++) sq += initialWeights[i] * initialWeights[i];
  return Math.max(1, UPDATE_NORM_FACTOR * Math.sqrt(sq));
}

/** The server strategy the settings name; uniform weighting under central DP. */
export function federationStrategy(s: FederationSettings): AnyStrategy & Strategy {
  const st = s.strategy;
  return createStrategy({
    name: st.name,
    size: s.size,
    serverLr: st.serverLr,
    weighting: s.privacy ? 'uniform' : (st.weighting ?? 'examples'),
    ...(st.name === 'fedavgm' ? { momentum: st.momentum } : {}),
    ...(st.name === 'fedadam' || st.name === 'fedyogi' ? { beta1: st.beta1, beta2: st.beta2, tau: st.tau } : {}),
    ...(st.name === 'fedprox' ? { proxMu: st.proxMu } : {}),
  });
}

/** The μ clients' proximal term uses: fedprox's own, else the setting (default 0). */
function proxMuOf(s: FederationSettings, strategy: Strategy): number {
  if (s.strategy.name === 'fedprox') return (strategy as { proxMu?: number }).proxMu ?? 0;
  return s.strategy.proxMu ?? 0;
}

export function engineConfig(s: FederationSettings, strategy: Strategy): EngineConfig {
  const r = s.rounds;
  return {
    totalRounds: r.total,
    clientsPerRound: r.clientsPerRound,
    sampleRate: r.sampleRate,
    overSelect: r.overSelect,
    maxClients: r.maxClients,
    minClients: r.minClients,
    quorum: r.quorum,
    deadlineMs: r.deadlineMs,
    pauseMs: r.pauseMs,
    startDelayMs: r.startDelayMs ?? 0,
    // DP-FedAvg clients train with SGD unless the settings say otherwise
    train: { epochs: s.train.epochs, lr: s.train.lr, batchSize: s.train.batchSize, optimizer: s.train.optimizer ?? (s.privacy ? 'sgd' : 'adam') },
    proxMu: proxMuOf(s, strategy),
    codec: s.codec,
    maxUpdateBytes: s.limits.maxUpdateBytes ?? s.size * 4 + CODEC_HEADER_BYTES + 1024,
    evaluate: s.evaluate,
  };
}

/** What the engine needs besides its settings (EngineDeps without what assembleEngine makes). */
export type AssembleDeps = Omit<EngineDeps, 'config' | 'releases'> & {
  /** Version 0's weights (the default norm bound is derived from them). */
  initialWeights: Float32Array;
  /** DP noise (default: the CSPRNG). */
  noise?: RandomSource;
};

/** The round releases: plain, or central DP with the store's ledger replayed. */
function releasePlanner(s: FederationSettings, d: AssembleDeps, strategy: Strategy): ReleasePlanner {
  if (!s.privacy) {
    const weighting = (strategy as { weighting?: 'examples' | 'uniform' }).weighting ?? 'examples';
    const maxUpdateNorm = s.limits.maxUpdateNorm === undefined ? defaultMaxUpdateNorm(d.initialWeights) : s.limits.maxUpdateNorm;
    return new PlainPlanner({ maxUpdateNorm, maxWeight: s.limits.maxWeight ?? MAX_WEIGHT, weighting });
  }
  return new PrivacyController({
    settings: s.privacy,
    selection: { sampleRate: s.rounds.sampleRate, clientsPerRound: s.rounds.clientsPerRound, maxClients: s.rounds.maxClients },
    totalRounds: s.rounds.total,
    size: s.size,
    maxUpdates: s.maxUpdates,
    records: d.store.records({ from: 1, limit: Number.MAX_SAFE_INTEGER }),
    closeAtDeadline: s.closeAtDeadline,
    random: d.noise,
    log: d.log,
  });
}

/** The engine for these settings over an opened store. */
export function assembleEngine(s: FederationSettings, d: AssembleDeps): { engine: RoundEngine; releases: ReleasePlanner; config: EngineConfig } {
  d.strategy.restore(d.store.latest().strategyState);
  const config = engineConfig(s, d.strategy);
  const releases = releasePlanner(s, d, d.strategy);
  const { initialWeights: _w, noise: _n, ...deps } = d;
  const engine = new RoundEngine({ ...deps, config, releases });
  return { engine, releases, config };
}
