// A simulation config → the federation's settings, so a simulation's engine
// is assembled exactly as a deployment's (coordinator/assemble.ts).
import { CODEC_HEADER_BYTES } from '../protocol/index.ts';
import { defaultMaxUsersPerClient, type FederationSettings, type PrivacySettings } from '../coordinator/index.ts';
import type { SimulationConfig } from './config.ts';
import type { World } from './world.ts';

/**
 * Learning rate and optimizer defaults: SGD with lr 1 where a client is one
 * user (per-user partition) or each user trains alone (DP-FedAvg), since one
 * Adam step on one user's sequence moves every touched weight by ±lr whatever
 * its gradient; Adam with lr 0.001 for merchants and iid groups without DP.
 */
export function trainSettings(cfg: SimulationConfig): { lr: number; optimizer: 'adam' | 'sgd' } {
  const optimizer = cfg.optimizer ?? (cfg.dp === 'central' || cfg.partition === 'per-user' ? 'sgd' : 'adam');
  return { optimizer, lr: cfg.lr ?? (optimizer === 'sgd' ? 1 : 0.001) };
}

function privacySettings(cfg: SimulationConfig, w: World): PrivacySettings | null {
  if (cfg.dp !== 'central') return null;
  const perUser = w.spec.kind === 'per-user';
  const users = w.dataset.sequences.length;
  return {
    mode: 'central',
    // a per-user client is one user: client-level DP is user-level DP
    unit: perUser ? 'client' : 'user',
    targetEpsilon: cfg.targetEpsilon ?? Number.MAX_VALUE,
    delta: cfg.delta,
    noiseMultiplier: cfg.noise ?? 'auto',
    sampleRate: perUser ? undefined : cfg.q,
    population: perUser ? w.partition.clients.length : users,
    maxContributions: perUser ? 1 : defaultMaxUsersPerClient(cfg.q!, users),
    clip: cfg.adaptiveClip ? { adaptive: { initialNorm: cfg.clip } } : { norm: cfg.clip },
  };
}

export function simulationSettings(cfg: SimulationConfig, w: World, size: number): FederationSettings {
  const perUser = w.spec.kind === 'per-user';
  const clients = Math.max(w.partition.clients.length, 1);
  const { lr, optimizer } = trainSettings(cfg);
  return {
    size,
    rounds: {
      total: cfg.rounds,
      clientsPerRound: Math.min(cfg.clientsPerRound, clients),
      // per-user: q samples clients; otherwise q (under DP) samples users inside each client
      sampleRate: perUser ? cfg.q : undefined,
      overSelect: 0,
      maxClients: clients,
      minClients: 1,
      quorum: 1,
      deadlineMs: 24 * 3600 * 1000,
      pauseMs: 0,
    },
    train: { epochs: cfg.localEpochs, lr, batchSize: cfg.batchSize, optimizer },
    strategy: { name: cfg.strategy, serverLr: cfg.serverLr, momentum: cfg.momentum, beta1: cfg.beta1, beta2: cfg.beta2, tau: cfg.tau, proxMu: cfg.proxMu },
    codec: 'f32',
    limits: { maxUpdateBytes: size * 4 + CODEC_HEADER_BYTES + 1024 },
    evaluate: false,
    privacy: privacySettings(cfg, w),
    maxUpdates: clients,
    // a simulation has no timing channel: rounds close when every update is in
    closeAtDeadline: false,
  };
}
