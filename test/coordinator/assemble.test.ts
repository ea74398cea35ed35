// The one engine assembly (coordinator/assemble.ts) from a fedrec.json, as
// startCoordinator runs it: what reaches the clients' tasks (local optimizer,
// FedProx μ) and the server strategy (learning rates), the DP defaults, and
// the derived defaults (W, the norm bound). Expected values are the README's
// documented defaults or hand computations.
import { describe, expect, it } from 'vitest';
import {
  defaultMaxUsersPerClient,
  engineConfig,
  federationSettings,
  federationStrategy,
  parseCoordinatorConfig,
} from '../../coordinator/index.ts';

const allow = [{ id: 'm0', publicKey: 'A'.repeat(43) + '=' }];
const dp = { mode: 'central', unit: 'user', sampleRate: 0.1, population: 10_000 };

function assembled(raw: Record<string, unknown>) {
  const cfg = parseCoordinatorConfig({ clients: { allow }, ...raw });
  const settings = federationSettings(cfg, 1000);
  const strategy = federationStrategy(settings);
  return { settings, strategy, config: engineConfig(settings, strategy) };
}

describe('assembling the engine from fedrec.json', () => {
  it('clients train with Adam by default, with SGD under central DP (DP-FedAvg), and an explicit optimizer wins', () => {
    expect(assembled({}).config.train.optimizer).toBe('adam');
    expect(assembled({ privacy: dp }).config.train.optimizer).toBe('sgd');
    expect(assembled({ privacy: dp, train: { optimizer: 'adam' } }).config.train.optimizer).toBe('adam');
    expect(assembled({ train: { optimizer: 'sgd', lr: 0.5, epochs: 2, batchSize: 8 } }).config.train).toEqual({ optimizer: 'sgd', lr: 0.5, epochs: 2, batchSize: 8 });
  });

  it('FedProx μ reaches the tasks: 0.01 by default for fedprox, as configured otherwise, 0 when unset', () => {
    const fedprox = assembled({ strategy: { name: 'fedprox' } });
    expect(fedprox.config.proxMu).toBe(0.01);
    expect((fedprox.strategy as { proxMu?: number }).proxMu).toBe(0.01);
    expect(assembled({ strategy: { name: 'fedprox', proxMu: 0.05 } }).config.proxMu).toBe(0.05);
    // any server strategy may ask clients for a proximal term
    expect(assembled({ strategy: { name: 'fedadam', proxMu: 0.02 } }).config.proxMu).toBe(0.02);
    expect(assembled({ strategy: { name: 'fedavg' } }).config.proxMu).toBe(0);
  });

  it('server learning rates and optimizer settings reach the strategy (defaults: 1, and 0.01 for fedadam/fedyogi)', () => {
    const lr = (raw: Record<string, unknown>) => (assembled({ strategy: raw }).strategy.state().params as Record<string, unknown>).serverLr;
    expect(lr({ name: 'fedavg' })).toBe(1);
    expect(lr({ name: 'fedadam' })).toBe(0.01);
    expect(lr({ name: 'fedyogi' })).toBe(0.01);
    expect(lr({ name: 'fedadam', serverLr: 0.05 })).toBe(0.05);
    expect(lr({ name: 'fedavgm', serverLr: 0.7 })).toBe(0.7);
    const m = assembled({ strategy: { name: 'fedavgm', momentum: 0.5 } }).strategy.state().params as Record<string, unknown>;
    expect(m.momentum).toBe(0.5);
    const adam = assembled({ strategy: { name: 'fedadam', beta1: 0.8, beta2: 0.95, tau: 0.01 } }).strategy.state().params as Record<string, unknown>;
    expect([adam.beta1, adam.beta2, adam.tau]).toEqual([0.8, 0.95, 0.01]);
  });

  it('central DP weighs updates uniformly and takes W from maxUsersPerClient, or ⌈qP + 4√(qP)⌉', () => {
    const a = assembled({ privacy: dp });
    expect((a.strategy as { weighting?: string }).weighting).toBe('uniform');
    // hand: qP = 0.1 · 10000 = 1000, √1000 = 31.62…, 4√ = 126.49 → ⌈1126.49⌉ = 1127
    expect(a.settings.privacy!.maxContributions).toBe(1127);
    expect(defaultMaxUsersPerClient(0.1, 10_000)).toBe(1127);
    // qP = 0.2 · 1200 = 240, 4√240 = 61.97 → 302
    expect(defaultMaxUsersPerClient(0.2, 1200)).toBe(302);
    expect(defaultMaxUsersPerClient(0.001, 10)).toBe(1); // ⌈0.01 + 0.4⌉
    expect(assembled({ privacy: { ...dp, maxUsersPerClient: 50 } }).settings.privacy!.maxContributions).toBe(50);
    expect(assembled({ privacy: { mode: 'central', unit: 'client', population: 5 } }).settings.privacy!.maxContributions).toBe(1);
  });

  it('the largest update is the model at f32 plus headroom unless configured; limits pass through', () => {
    // 1000 values × 4 bytes + the 16-byte codec header + 1 KiB
    expect(assembled({}).config.maxUpdateBytes).toBe(1000 * 4 + 16 + 1024);
    expect(assembled({ limits: { maxUpdateBytes: 9999 } }).config.maxUpdateBytes).toBe(9999);
    expect(assembled({ limits: { maxUpdateNorm: null, maxWeight: 50 } }).settings.limits).toMatchObject({ maxUpdateNorm: null, maxWeight: 50 });
  });
});

describe('config refusals that protect the guarantee', () => {
  it('client-level DP with Poisson sampling refuses a maxClients cap that could drop sampled clients', () => {
    expect(() =>
      parseCoordinatorConfig({
        clients: { allow: [...allow, { id: 'm1', publicKey: allow[0].publicKey }, { id: 'm2', publicKey: allow[0].publicKey }] },
        rounds: { sampleRate: 0.5, maxClients: 2 },
        privacy: { mode: 'central', unit: 'client' },
      }),
    ).toThrow(/rounds\.maxClients: must be at least the 3 clients that can be sampled with client-level DP/);
  });
});
