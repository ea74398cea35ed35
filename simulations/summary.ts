// summary.json: what a simulation was and what it reached.
import type { RoundEngine, Store } from '../coordinator/index.ts';
import type { SamplingSource } from './clients.ts';
import type { SimulationConfig } from './config.ts';
import { formatPartition } from './partition.ts';
import type { RoundRow, SimulationSummary } from './types.ts';
import type { World } from './world.ts';

export interface SummaryInputs {
  cfg: SimulationConfig;
  world: World;
  skew: number;
  store: Store;
  engine: RoundEngine;
  test: Record<string, number>;
  rows: RoundRow[];
  sampling: SamplingSource;
  seconds: number;
}

export function summarize(x: SummaryInputs): SimulationSummary {
  const { cfg, world } = x;
  const dp = cfg.dp === 'central';
  const status = x.engine.privacyStatus();
  const clients = world.partition.clients.length;
  return {
    data: cfg.data,
    model: cfg.model,
    partition: formatPartition(world.spec),
    clients,
    users: world.dataset.sequences.length,
    items: world.numItems,
    rounds: x.store.modelVersion,
    clients_per_round: world.spec.kind === 'per-user' && cfg.q !== undefined ? null : Math.min(cfg.clientsPerRound, clients),
    q: cfg.q ?? null,
    dp: cfg.dp,
    epsilon: status.epsilon,
    delta: dp ? cfg.delta : null,
    noise_multiplier: status.noiseMultiplier,
    noise_source: dp ? (cfg.seededNoise ? 'seeded' : 'csprng') : null,
    sampling_source: x.sampling,
    covered: status.covered,
    category_skew: x.skew,
    'hr@10': x.test['hr@10'],
    'ndcg@10': x.test['ndcg@10'],
    mrr: x.test.mrr,
    'val_ndcg@10': x.rows.at(-1)?.['val_ndcg@10'] ?? Number.NaN,
    seconds: x.seconds,
    stopped: x.engine.stopReason,
  };
}
