// End-to-end central DP over real sockets: merchants Poisson-sample their
// users and send sums of per-user clipped deltas, the coordinator noises and
// charges each round, publishes ε on /api/privacy (and the operator's
// /metrics), redacts who took part from the public /api/rounds (the operator
// listener serves them whole), and stops at the budget.
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { parseCoordinatorConfig } from '../../coordinator/config.ts';
import { startCoordinator, type RunningCoordinator } from '../../coordinator/coordinator.ts';
import { epsilonFor } from '../../privacy/index.ts';
import { initBackend } from '../../recommender/index.ts';
import { ConfigError } from '../../coordinator/config.ts';
import { getJson, makeConfig, makeIdentity, metricValue, removeTempDirs, startClient, tempDir, waitFor, type InProcessClient } from './helpers.ts';

let coordinator: RunningCoordinator | null = null;
const clients: InProcessClient[] = [];

beforeAll(async () => {
  await initBackend('wasm');
});

afterEach(async () => {
  await Promise.all(clients.splice(0).map((c) => c.stop().catch(() => {})));
  await coordinator?.close().catch(() => {});
  coordinator = null;
});

afterAll(() => removeTempDirs());

describe('central user-level DP over real sockets', () => {
  it('clips per user, charges every round, publishes ε, redacts participants, and stops at the budget', async () => {
    const data = 'synthetic:merchants=3,users=300';
    const ids = ['m0', 'm1', 'm2'].map(makeIdentity);
    const q = 0.2;
    const z = 1;
    const delta = 1e-4;
    // two rounds fit the budget, a third does not
    const target = (epsilonFor(q, z, 2, delta) + epsilonFor(q, z, 3, delta)) / 2;
    const cfg = {
      // under DP every round closes at its deadline, so the deadline sets the test's pace
      ...makeConfig({ dataDir: join(tempDir(), 'data'), data, clients: ids, rounds: { total: 5, clientsPerRound: 1, minClients: 3, quorum: 3, deadlineSeconds: 6 } }),
      privacy: { mode: 'central', unit: 'user', sampleRate: q, population: 300, noiseMultiplier: z, targetEpsilon: target, delta, clip: { norm: 1e-5 } },
    };
    coordinator = await startCoordinator(parseCoordinatorConfig(cfg));
    const c = coordinator;
    clients.push(...ids.map((id, i) => startClient(c.url, id, data, `m${i}`)));
    await waitFor(() => c.engine.state === 'budget-exhausted', 90_000, 'the budget to run out', () => clients.map((x) => x.logs.join('\n')).join('\n---\n'));

    const records = c.store.records();
    expect(records.map((r) => [r.round, r.outcome])).toEqual([
      [1, 'committed'],
      [2, 'committed'],
    ]);
    for (const [i, r] of records.entries()) {
      // every merchant was asked although clientsPerRound is 1
      expect(r.participants.map((p) => p.clientId).sort()).toEqual(['m0', 'm1', 'm2']);
      const reported = clients.map((x) => x.reports.find((rep) => rep.round === r.round)!.contributions);
      // each merchant's weight is the number of users it sampled, and the ledger counts them
      expect(r.participants.map((p) => p.weight).reduce((a, b) => a + b, 0)).toBe(reported.reduce((a, b) => a + b, 0));
      expect(r.privacy!.contributions).toBe(reported.reduce((a, b) => a + b, 0));
      // Poisson(0.2) over the ~300 users: far from 0 and from everyone (sd ≈ 7). The merchants
      // sample with the production CSPRNG (not seedable from here): a correct run fails these
      // bounds with probability < 1e-6 over both rounds (binomial tails for 280-300 users).
      expect(r.privacy!.contributions as number, `round ${r.round}`).toBeGreaterThan(25);
      expect(r.privacy!.contributions as number, `round ${r.round}`).toBeLessThan(100);
      expect(r.privacy!.expectedContributions).toBeCloseTo(60, 12);
      expect(r.privacy!.epsilon as number).toBeCloseTo(epsilonFor(q, z, i + 1, delta), 10);
    }
    // the clip bound binds: per-user deltas were longer than 1e-5
    expect(clients.some((x) => x.reports.some((rep) => rep.clipped))).toBe(true);

    const status = await getJson(`${c.url}/api/status`);
    expect(status.body.state).toBe('budget-exhausted');
    expect(status.body.stopReason).toMatch(/privacy budget exhausted/);
    const privacy = await getJson(`${c.url}/api/privacy`);
    expect(privacy.body).toMatchObject({ mode: 'central', unit: 'user', delta, targetEpsilon: target, rounds: 2, noiseMultiplier: z, clip: 1e-5, covered: true });
    expect(privacy.body.epsilon).toBeCloseTo(epsilonFor(q, z, 2, delta), 10);
    const rounds = await getJson(`${c.url}/api/rounds`);
    for (const r of rounds.body) {
      expect(r).not.toHaveProperty('participants');
      expect(r).not.toHaveProperty('selected');
      expect(r).not.toHaveProperty('metrics');
      // the realised number of users and the round's duration (which grows with it) are not noised either
      expect(r).not.toHaveProperty('timings');
      expect(r.privacy).not.toHaveProperty('contributions');
      expect(r.privacy.charged).toBe(true);
      expect(r.privacy.expectedContributions).toBeCloseTo(60, 12);
    }
    const one = await getJson(`${c.url}/api/rounds/1`);
    expect(one.body).not.toHaveProperty('participants');
    // the operator listener serves the records as stored, and the metrics
    const full = await getJson(`${c.operatorUrl}/api/rounds`);
    expect(full.body.map((r: { participants: Array<{ clientId: string }> }) => r.participants.map((p) => p.clientId).sort())).toEqual([
      ['m0', 'm1', 'm2'],
      ['m0', 'm1', 'm2'],
    ]);
    expect(full.body[0].privacy.contributions).toBe(records[0].privacy!.contributions);
    expect((await getJson(`${c.operatorUrl}/api/rounds/2`)).body.timings).toBeDefined();
    expect((await getJson(`${c.url}/metrics`)).status).toBe(404);
    const metrics = await (await fetch(`${c.operatorUrl}/metrics`)).text();
    expect(metricValue(metrics, 'fedrec_privacy_epsilon')).toBeCloseTo(privacy.body.epsilon, 10);
    expect(metricValue(metrics, 'fedrec_privacy_target_epsilon')).toBeCloseTo(target, 10);
    expect(metricValue(metrics, 'fedrec_privacy_rounds_charged')).toBe(2);
    // each merchant trained its sampled users one by one (the SGD default under DP is checked in test/coordinator/assemble.test.ts)
    expect(clients[0].logs.join('\n')).toMatch(/users trained/);
    // rounds closed at their deadline, not at the last update
    for (const r of records) expect(r.timings.closedAt).toBeGreaterThanOrEqual(r.timings.deadline);
  }, 120_000);

  it('refuses to turn central DP on over a data directory that already published models without it', async () => {
    const data = 'synthetic:merchants=2,users=100';
    const ids = ['m0', 'm1'].map(makeIdentity);
    const base = makeConfig({ dataDir: join(tempDir(), 'data'), data, clients: ids, rounds: { total: 1, clientsPerRound: 2, minClients: 2, quorum: 2, deadlineSeconds: 60 }, evaluate: false });
    coordinator = await startCoordinator(parseCoordinatorConfig(base));
    const c = coordinator;
    clients.push(...ids.map((id, i) => startClient(c.url, id, data, `m${i}`)));
    await waitFor(() => c.engine.state === 'stopped', 60_000, 'one plain round');
    await Promise.all(clients.splice(0).map((x) => x.stop()));
    await c.close();
    coordinator = null;
    const dp = { ...base, privacy: { mode: 'central', unit: 'user', sampleRate: 0.5, population: 100 } };
    const err = await startCoordinator(parseCoordinatorConfig(dp)).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ConfigError);
    expect((err as Error).message).toMatch(/already holds 1 model versions trained without differential privacy .* must start from a new dataDir/);
    // the refused start released the directory's lock: the plain configuration opens it again
    coordinator = await startCoordinator(parseCoordinatorConfig(base));
    expect(coordinator.store.round).toBe(1);
  }, 90_000);
});
