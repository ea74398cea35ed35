// fedrec.json → the federation's settings (what assembleEngine builds an
// engine from), with the defaults that depend on other fields.
import type { FederationSettings } from './assemble.ts';
import type { CoordinatorConfig } from './config.ts';
import type { PrivacySettings } from './release/index.ts';

/**
 * The default W (privacy.maxUsersPerClient): ⌈qP + 4·√(qP)⌉, P the population.
 * A merchant holding every user samples qP of them on average with standard
 * deviation below √(qP), so the W·C projection shortens a sum only in a
 * sample four deviations above that (probability under 10⁻⁴ per round), and
 * the float32 rounding of a sum it allows stays at 2⁻²³·W of C.
 */
export function defaultMaxUsersPerClient(sampleRate: number, population: number): number {
  const m = sampleRate * population;
  return Math.max(1, Math.ceil(m + 4 * Math.sqrt(m)));
}

function privacySettings(cfg: CoordinatorConfig): PrivacySettings | null {
  const p = cfg.privacy;
  if (p.mode !== 'central') return null;
  const population = p.population ?? cfg.clients.allow.length;
  return {
    mode: 'central',
    unit: p.unit,
    targetEpsilon: p.targetEpsilon,
    delta: p.delta,
    noiseMultiplier: p.noiseMultiplier,
    sampleRate: p.sampleRate,
    population,
    maxContributions: p.unit === 'user' ? (p.maxUsersPerClient ?? defaultMaxUsersPerClient(p.sampleRate!, population)) : 1,
    maxInteractionsPerUser: p.maxInteractionsPerUser,
    clip: p.clip,
  };
}

export function federationSettings(cfg: CoordinatorConfig, size: number): FederationSettings {
  const r = cfg.rounds;
  return {
    size,
    rounds: {
      total: r.total,
      clientsPerRound: r.clientsPerRound,
      sampleRate: r.sampleRate,
      minClients: r.minClients,
      maxClients: r.maxClients,
      overSelect: r.overSelect,
      quorum: r.quorum,
      deadlineMs: r.deadlineSeconds * 1000,
      pauseMs: r.pauseSeconds * 1000,
      startDelayMs: r.startDelaySeconds * 1000,
    },
    train: cfg.train,
    strategy: cfg.strategy,
    codec: cfg.codec,
    limits: cfg.limits,
    evaluate: cfg.evaluation.federated,
    privacy: privacySettings(cfg),
    maxUpdates: Math.max(1, cfg.clients.allow.length),
  };
}
