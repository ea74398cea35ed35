// coordinator/engine under central DP: the ledger in every committed record,
// ε against the accountant's closed form, the over-budget round refused (and
// the one exactly at the budget allowed), the fixed denominator, rounds that
// commit without a quorum (noise alone) and at their deadline, updates
// projected onto W·C and never refused on their weight or norm, adaptive
// clipping (update noise at z_Δ, the accountant charged at z) and the ledger
// replayed after a restart.
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { ConfigError, PrivacyController, createStrategy, type PrivacySettings, type Store } from '../../coordinator/index.ts';
import { SeededRandomSource, epsilonFor } from '../../privacy/index.ts';
import { fill, makeHarness, makeUpdate, seededUniform, SIZE, type Harness } from './engineHarness.ts';

const DELTA = 1e-5;

function settings(over: Partial<PrivacySettings> = {}): PrivacySettings {
  return { mode: 'central', unit: 'user', targetEpsilon: 100, delta: DELTA, noiseMultiplier: 1, sampleRate: 0.5, population: 30, maxContributions: 30, clip: { norm: 1 }, ...over };
}

/** Rounds close when every update is in unless `closeAtDeadline` (the production default, tested on its own below). */
function controller(s: PrivacySettings, totalRounds: number, seed = 1, closeAtDeadline = false) {
  return (store: Store) =>
    new PrivacyController({
      settings: s,
      selection: { clientsPerRound: 1, maxClients: 1000 },
      totalRounds,
      size: SIZE,
      maxUpdates: 3,
      records: store.records({ from: 1, limit: 1_000_000 }),
      closeAtDeadline,
      random: new SeededRandomSource(seed),
    });
}

let h: Harness | null = null;
afterEach(async () => {
  await h?.close();
  h = null;
});

/** `planned`: the rounds an auto noise multiplier is calibrated for (default totalRounds). */
async function dpHarness(s: PrivacySettings, totalRounds: number, o: { dir?: string; deadlineMs?: number; planned?: number; closeAtDeadline?: boolean } = {}): Promise<Harness> {
  return makeHarness({
    dir: o.dir,
    config: { totalRounds, clientsPerRound: 1, minClients: 3, quorum: 3, deadlineMs: o.deadlineMs ?? 2000 },
    strategy: { weighting: 'uniform' },
    privacy: controller(s, o.planned ?? totalRounds, 1, o.closeAtDeadline),
  });
}

/** Every client answers with `weight` contributions summing to zero. */
function zeroSums(x: Harness, weight = 2): void {
  for (const id of x.clients.keys()) x.behaviours.set(id, () => ({ delta: new Float32Array(SIZE), weight }));
}

describe('central DP in the round engine', () => {
  it('asks every client, charges each committed round, and records ε as the accountant computes it', async () => {
    h = await dpHarness(settings(), 3);
    zeroSums(h);
    await h.start();
    expect(h.engine.state).toBe('stopped');
    expect(h.rounds.map((r) => r.outcome)).toEqual(['committed', 'committed', 'committed']);
    for (const [i, r] of h.rounds.entries()) {
      const p = r.privacy!;
      expect(p.charged).toBe(true);
      expect(p.q).toBe(0.5);
      expect(p.noiseMultiplier).toBe(1);
      expect(p.expectedContributions).toBe(15); // 0.5 × 30
      expect(p.contributions).toBe(6); // 3 clients × 2
      expect(p.epsilon as number).toBeCloseTo(epsilonFor(0.5, 1, i + 1, DELTA), 10);
      // user-level: every connected client gets the task although clientsPerRound is 1
      expect(r.selected).toEqual(['alice', 'bob', 'carol']);
    }
    const task = h.transport.of('task')[0].msg;
    // the task states what the client acts on and what its policy may check: q, C, W, the per-user work bound, z and the budget
    expect(task.privacy).toEqual({ mode: 'central', unit: 'user', clipNorm: 1, sampleRate: 0.5, maxContributions: 30, maxInteractionsPerUser: 200, noiseMultiplier: 1, targetEpsilon: 100, delta: DELTA });
    // the time left when the task left: at most the round's 2 s, less only by the task's own preparation
    expect(task.durationMs).toBeLessThanOrEqual(2000);
    expect(task.durationMs).toBeGreaterThan(1900);
    expect(task.deadline - task.durationMs).toBeLessThanOrEqual(h.transport.of('task')[0].at);
    expect(h.rounds[0].privacy!.maxContributions).toBe(30);
    const st = h.engine.privacyStatus();
    expect(st.rounds).toBe(3);
    expect(st.epsilon!).toBeCloseTo(epsilonFor(0.5, 1, 3, DELTA), 10);
  });

  it('refuses the round that would take ε past the target and stops with budget-exhausted', async () => {
    const two = epsilonFor(0.5, 1, 2, DELTA);
    const three = epsilonFor(0.5, 1, 3, DELTA);
    const target = (two + three) / 2;
    h = await dpHarness(settings({ targetEpsilon: target }), 10);
    zeroSums(h);
    const exhausted: string[] = [];
    h.engine.on('budget-exhausted', (why: string) => exhausted.push(why));
    await h.start();
    expect(h.engine.state).toBe('budget-exhausted');
    expect(h.store.modelVersion).toBe(2);
    expect(h.transport.of('task').every((t) => t.msg.round <= 2)).toBe(true);
    expect(exhausted).toHaveLength(1);
    expect(h.engine.stopReason).toMatch(/privacy budget exhausted: round 3 would take ε from .* past the target/);
    expect(h.engine.privacyStatus().epsilon!).toBeLessThanOrEqual(target);
  });

  it('allows the round that takes ε exactly to the target (the budget is ε ≤ target, the accountant decides)', async () => {
    // ε after two rounds, to the last bit: the accountant adds the same per-round RDP twice
    h = await dpHarness(settings({ targetEpsilon: epsilonFor(0.5, 1, 2, DELTA) }), 10);
    zeroSums(h);
    await h.start();
    expect(h.store.modelVersion).toBe(2);
    expect(h.engine.state).toBe('budget-exhausted');
    expect(h.engine.privacyStatus().epsilon).toBe(epsilonFor(0.5, 1, 2, DELTA));
  });

  it('with noise multiplier auto, calibrates z so the planned rounds end within the budget', async () => {
    h = await dpHarness(settings({ noiseMultiplier: 'auto', targetEpsilon: 2 }), 3);
    zeroSums(h);
    await h.start();
    expect(h.store.modelVersion).toBe(3);
    const z = h.rounds[0].privacy!.noiseMultiplier as number;
    expect(epsilonFor(0.5, z, 3, DELTA)).toBeLessThanOrEqual(2);
    expect(epsilonFor(0.5, z - 1e-3, 3, DELTA)).toBeGreaterThan(2);
    expect(h.rounds[2].privacy!.epsilon as number).toBeLessThanOrEqual(2);
  });

  it('commits a round nobody answered (noise alone, charged) instead of abandoning on the count', async () => {
    h = await dpHarness(settings(), 1, { deadlineMs: 300 });
    await h.start();
    const r = h.rounds[0];
    expect(r.outcome).toBe('committed');
    expect(r.participants).toEqual([]);
    expect(r.privacy!.contributions).toBe(0);
    expect(r.privacy!.charged).toBe(true);
    const w = h.store.latest().weights;
    let moved = 0;
    for (let i = 0; i < SIZE; i++) if (w[i] !== i / 4) moved++;
    expect(moved).toBeGreaterThan(SIZE / 2); // noise/15 with std ≈ 1/15 per value
  });

  it('projects every update onto the ball of radius W·C: never refused on its weight or norm (only a non-integer weight is malformed)', async () => {
    // z tiny and q = 1, so the committed weights show what was folded: w1 = w0 + round_grid(Σ projected)/30
    const tiny = settings({ noiseMultiplier: 1e-9, targetEpsilon: 1e300, sampleRate: 1, population: 30, maxContributions: 2, clip: { norm: 1 } });
    h = await dpHarness(tiny, 1);
    const [alice, bob, carol] = ['alice', 'bob', 'carol'].map((id) => h!.clients.get(id)!);
    const run = h.start();
    const task = (await h.transport.task(1)).msg;
    expect(task.privacy.maxContributions).toBe(2);
    const refusals: string[] = [];
    h.engine.on('refusal', (_id: string, code: string, msg: string) => refusals.push(`${code}: ${msg}`));
    h.engine.receiveUpdate('alice', makeUpdate(alice, task, fill(0), { weight: 1.5 }));
    expect(refusals.pop()).toMatch(/^schema: weight must be the number of contributions, an integer >= 0, got 1.5/);
    // more contributions than W and a norm of 50 (25 × W·C): accepted, projected to norm 2 = W·C
    const big = new Float32Array(SIZE);
    big[0] = 50;
    h.engine.receiveUpdate('alice', makeUpdate(alice, task, big, { weight: 31 }));
    // weight 0 with a small norm: accepted as it is
    const small = new Float32Array(SIZE);
    small[1] = 0.03;
    h.engine.receiveUpdate('bob', makeUpdate(bob, task, small, { weight: 0 }));
    const one = new Float32Array(SIZE);
    one[2] = 1;
    h.engine.receiveUpdate('carol', makeUpdate(carol, task, one, { weight: 1 }));
    await run;
    expect(refusals).toEqual([]);
    const r = h.rounds[0];
    expect(r.outcome).toBe('committed');
    expect(r.privacy!.contributions).toBe(2 + 0 + 1); // alice claims 31: counted as W = 2
    expect(r.participants.find((p) => p.clientId === 'alice')!.bounded).toBe(true);
    expect(r.participants.find((p) => p.clientId === 'carol')!.bounded).toBeUndefined();
    // grid step C/K = 1/3465 before dividing by 30; σ² in grid units is at least 2 (planGridNoise rounds it up and adds 1),
    // so the values sit within a few steps of the exact sum (8 steps ≈ 5.6σ; the noise is seeded)
    const w = h.store.latest().weights;
    const tol = 8 / 3465 / 30;
    expect(Math.abs(w[0] - (0 + 2 / 30))).toBeLessThan(tol); // not 50/30: the coordinator cut it to W·C
    expect(Math.abs(w[1] - (0.25 + 0.03 / 30))).toBeLessThan(tol);
    expect(Math.abs(w[2] - (0.5 + 1 / 30))).toBeLessThan(tol);
    for (let i = 3; i < SIZE; i++) expect(Math.abs(w[i] - i / 4)).toBeLessThan(tol);
  });

  it('at client level W = 1: an update is projected onto the clip, whatever weight it claims', async () => {
    h = await makeHarness({
      config: { totalRounds: 1, clientsPerRound: 3, minClients: 3, quorum: 1, deadlineMs: 2000 },
      strategy: { weighting: 'uniform' },
      privacy: controller(settings({ unit: 'client', sampleRate: undefined, population: 3, maxContributions: 1 }), 1),
    });
    const run = h.start();
    const task = (await h.transport.task(1, 'alice')).msg;
    expect(task.privacy).toEqual({ mode: 'central', unit: 'client', clipNorm: 1, noiseMultiplier: 1, targetEpsilon: 100, delta: DELTA });
    const refusals: string[] = [];
    h.engine.on('refusal', (_id: string, code: string) => refusals.push(code));
    h.engine.receiveUpdate('alice', makeUpdate(h.clients.get('alice')!, task, fill(3), { weight: 2 }));
    for (const id of ['bob', 'carol']) h.engine.receiveUpdate(id, makeUpdate(h.clients.get(id)!, task, new Float32Array(SIZE), { weight: 1 }));
    await run;
    expect(refusals).toEqual([]);
    const r = h.rounds[0];
    expect(r.participants.find((p) => p.clientId === 'alice')!.bounded).toBe(true);
    const p = r.privacy!;
    // fixed-size selection of 1 of 3: q = 1/3, flagged as not covered by the Poisson analysis
    expect(p.covered).toBe(false);
    expect(p.q).toBeCloseTo(1 / 3, 15);
  });

  it('under DP a round closes at its deadline, not when the last update arrives: when the model appears says nothing about the sample', async () => {
    h = await dpHarness(settings(), 1, { deadlineMs: 600, closeAtDeadline: true });
    zeroSums(h); // every client answers within ~5 ms
    const t0 = Date.now();
    await h.start();
    const r = h.rounds[0];
    expect(r.outcome).toBe('committed');
    expect(r.participants).toHaveLength(3);
    expect(r.timings.closedAt).toBeGreaterThanOrEqual(r.timings.deadline);
    expect(Date.now() - t0).toBeGreaterThanOrEqual(600);
    // the model is announced only after the deadline
    const published = h.transport.of('modelPublished')[0];
    expect(published.at).toBeGreaterThanOrEqual(r.timings.deadline);
  });

  it('with fixed-size client selection and auto noise, calibrates for the q of the clients actually connected', async () => {
    h = await makeHarness({
      join: false,
      config: { totalRounds: 1, clientsPerRound: 1, minClients: 3, quorum: 1, deadlineMs: 2000 },
      strategy: { weighting: 'uniform' },
      privacy: controller(settings({ unit: 'client', sampleRate: undefined, population: 3, maxContributions: 1, noiseMultiplier: 'auto', targetEpsilon: 5 }), 1),
    });
    zeroSums(h, 1);
    const run = h.start();
    await new Promise((r) => setTimeout(r, 50)); // nobody connected yet: nothing may be calibrated from q = 1
    for (const id of ['alice', 'bob', 'carol']) h.engine.join(id);
    await run;
    const p = h.rounds[0].privacy!;
    expect(p.q).toBeCloseTo(1 / 3, 15);
    // z is the calibration for q = 1/3, not for q = 1 (which needs more noise)
    expect(epsilonFor(1 / 3, p.noiseMultiplier as number, 1, DELTA)).toBeLessThanOrEqual(5);
    expect(epsilonFor(1 / 3, (p.noiseMultiplier as number) - 1e-3, 1, DELTA)).toBeGreaterThan(5);
  });

  it('at client level with Poisson client sampling the round is covered and divides by q × population', async () => {
    h = await makeHarness({
      config: { totalRounds: 1, clientsPerRound: 3, sampleRate: 0.999999, minClients: 3, quorum: 1, deadlineMs: 2000 },
      // Poisson selection draws from the CSPRNG by default; seeded, every run selects the same clients.
      uniform: seededUniform(3),
      strategy: { weighting: 'uniform' },
      privacy: (store) =>
        new PrivacyController({
          settings: settings({ unit: 'client', sampleRate: undefined, population: 40, maxContributions: 1 }),
          selection: { sampleRate: 0.999999, clientsPerRound: 3, maxClients: 1000 },
          totalRounds: 1,
          size: SIZE,
          maxUpdates: 3,
          closeAtDeadline: false,
          records: store.records(),
          random: new SeededRandomSource(3),
        }),
    });
    zeroSums(h, 1);
    await h.start();
    const p = h.rounds[0].privacy!;
    expect(p.covered).toBe(true);
    expect(p.q).toBe(0.999999);
    // the registered population (40), not the 3 connected clients
    expect(p.expectedContributions).toBeCloseTo(0.999999 * 40, 12);
  });

  it('adaptive clipping: clip counts are required and checked; the clip moves geometrically and the next task carries it', async () => {
    const s = settings({ clip: { adaptive: { initialNorm: 1, targetQuantile: 0.5, learningRate: 0.2 } }, noiseMultiplier: 0.5 });
    h = await dpHarness(s, 2);
    const [alice, bob, carol] = ['alice', 'bob', 'carol'].map((id) => h!.clients.get(id)!);
    const run = h.start();
    const task = (await h.transport.task(1)).msg;
    expect(task.privacy.reportClipCount).toBe(true);
    const refusals: string[] = [];
    h.engine.on('refusal', (_id: string, code: string, msg: string) => refusals.push(`${code}: ${msg}`));
    h.engine.receiveUpdate('alice', makeUpdate(alice, task, new Float32Array(SIZE), { weight: 2 }));
    expect(refusals.pop()).toMatch(/clipCount is required/);
    h.engine.receiveUpdate('alice', makeUpdate(alice, task, new Float32Array(SIZE), { weight: 2, clipCount: 1 }));
    expect(refusals.pop()).toMatch(/clipCount 1 is impossible for 2 contributions/);
    h.engine.receiveUpdate('alice', makeUpdate(alice, task, new Float32Array(SIZE), { weight: 2, clipCount: 3 }));
    expect(refusals.pop()).toMatch(/clipCount 3 is impossible/);
    // every contribution under the clip: the fraction estimate is near 1, the clip shrinks
    for (const c of [alice, bob, carol]) h.engine.receiveUpdate(c.id, makeUpdate(c, task, new Float32Array(SIZE), { weight: 2, clipCount: 2 }));
    const r1 = await h.round(1);
    const p = r1.privacy!;
    const sigmaB = 0.05 * 15;
    expect(p.countNoise).toBeCloseTo(sigmaB, 12);
    expect(p.updateNoiseMultiplier as number).toBeCloseTo((0.5 ** -2 - (2 * sigmaB) ** -2) ** -0.5, 12);
    const b = p.fractionUnderClip as number;
    expect(p.nextClipNorm as number).toBeCloseTo(1 * Math.exp(-0.2 * (b - 0.5)), 12);
    // Σ(2b−1) = 6 of expected 15 with count noise sd 2σ_b = 1.5: b̄ = (6 + N)/30 + 0.5 ∈ (0.45, 0.95) with overwhelming probability
    expect(b).toBeGreaterThan(0.45);
    expect(b).toBeLessThan(0.95);
    const task2 = (await h.transport.task(2)).msg;
    expect(task2.privacy.clipNorm).toBe(p.nextClipNorm);
    for (const c of [alice, bob, carol]) h.engine.receiveUpdate(c.id, makeUpdate(c, task2, new Float32Array(SIZE), { weight: 2, clipCount: 2 }));
    await run;
    expect(h.rounds[1].privacy!.clipNorm).toBe(p.nextClipNorm);
  });

  it('refuses to start when adaptive clipping count noise is too small for z, naming the fix', async () => {
    h = await dpHarness(settings({ clip: { adaptive: { initialNorm: 1, countNoise: 0.1 } } }), 2);
    zeroSums(h);
    await h.start();
    expect(h.engine.state).toBe('stopped');
    expect(h.engine.stopReason).toMatch(/count noise σ_b = 0.1 is too small for noise multiplier 1/);
    expect(h.store.modelVersion).toBe(0);
  });

  it('replays the ledger after a restart: same ε, clip and z, and the budget still binds', async () => {
    const target = (epsilonFor(0.5, 1, 3, DELTA) + epsilonFor(0.5, 1, 4, DELTA)) / 2;
    const s = settings({ targetEpsilon: target });
    h = await dpHarness(s, 2);
    zeroSums(h);
    await h.start();
    const before = h.engine.privacyStatus();
    const dir = h.dir;
    await h.close(false);
    h = await dpHarness(s, 10, { dir });
    const after = h.engine.privacyStatus();
    expect(after.rounds).toBe(2);
    expect(after.epsilon).toBe(before.epsilon);
    zeroSums(h);
    await h.start();
    expect(h.engine.state).toBe('budget-exhausted');
    expect(h.store.modelVersion).toBe(3);
    expect(h.engine.privacyStatus().epsilon!).toBeCloseTo(epsilonFor(0.5, 1, 3, DELTA), 10);
    // a ledger charged per user cannot continue per client
    await h.close(false);
    h = null;
    await expect(dpHarness(settings({ unit: 'client', sampleRate: undefined, population: 3, maxContributions: 1 }), 10, { dir })).rejects.toThrow(
      /round 1 was charged with privacy unit 'user' but the configuration says 'client'/,
    );
    rmSync(join(dir, '..'), { recursive: true, force: true });
  });

  it('after a restart a fixed clip is what the config says now, an adaptive clip carries on, and an auto z is reused', async () => {
    const adaptive = settings({ noiseMultiplier: 'auto', targetEpsilon: 50, clip: { adaptive: { initialNorm: 1 } } });
    h = await dpHarness(adaptive, 1, { planned: 3 });
    for (const id of h.clients.keys()) h.behaviours.set(id, () => ({ delta: new Float32Array(SIZE), weight: 2, clipCount: 2 }));
    await h.start();
    const r1 = h.rounds[0].privacy!;
    const dir = h.dir;
    await h.close(false);
    // adaptive again: the next task's clip is round 1's nextClipNorm, z is round 1's
    h = await dpHarness({ ...adaptive }, 2, { dir, planned: 3 });
    for (const id of h.clients.keys()) h.behaviours.set(id, () => ({ delta: new Float32Array(SIZE), weight: 2, clipCount: 2 }));
    await h.start();
    const t2 = h.transport.of('task').find((t) => t.msg.round === 2)!.msg;
    expect(t2.privacy.clipNorm).toBe(r1.nextClipNorm);
    expect(h.rounds.at(-1)!.privacy!.noiseMultiplier).toBe(r1.noiseMultiplier);
    await h.close(false);
    // now a fixed clip of 0.25: the config wins over the ledger's adaptive clip
    h = await dpHarness(settings({ noiseMultiplier: 'auto', targetEpsilon: 50, clip: { norm: 0.25 } }), 3, { dir, planned: 3 });
    zeroSums(h);
    await h.start();
    expect(h.transport.of('task').find((t) => t.msg.round === 3)!.msg.privacy.clipNorm).toBe(0.25);
    expect(h.rounds.at(-1)!.privacy!.noiseMultiplier).toBe(r1.noiseMultiplier);
  });

  it('shows budget-exhausted right after a restart on a spent ledger, before any client connects', async () => {
    const target = (epsilonFor(0.5, 1, 1, DELTA) + epsilonFor(0.5, 1, 2, DELTA)) / 2;
    h = await dpHarness(settings({ targetEpsilon: target }), 5);
    zeroSums(h);
    await h.start();
    expect(h.engine.state).toBe('budget-exhausted');
    const dir = h.dir;
    await h.close(false);
    h = await makeHarness({
      dir,
      join: false,
      config: { totalRounds: 5, clientsPerRound: 1, minClients: 3, quorum: 3, deadlineMs: 2000 },
      strategy: { weighting: 'uniform' },
      privacy: controller(settings({ targetEpsilon: target }), 5),
    });
    await h.start(); // returns at once: nobody is connected, and nobody needs to be
    expect(h.engine.state).toBe('budget-exhausted');
    expect(h.transport.of('task')).toEqual([]);
  });

  it('charges a round whose noise was drawn even if its result is then abandoned, and the charge survives a restart', async () => {
    h = await dpHarness(settings(), 1);
    zeroSums(h);
    h.strategy.apply = () => {
      throw new Error('server step exploded');
    };
    h.engine.once('round', () => h!.engine.stop()); // an abandoned round does not advance the version: stop after one
    await h.start();
    const r = h.rounds[0];
    expect(r.outcome).toBe('abandoned');
    expect(r.reason).toMatch(/server step exploded/);
    expect(r.privacy!.charged).toBe(true);
    expect(h.engine.privacyStatus().rounds).toBe(1);
    const dir = h.dir;
    await h.close(false);
    h = await dpHarness(settings(), 1, { dir });
    expect(h.engine.privacyStatus().rounds).toBe(1);
    expect(h.engine.privacyStatus().epsilon!).toBeCloseTo(epsilonFor(0.5, 1, 1, DELTA), 10);
  });

  it('a round stopped before its noise is drawn releases nothing and is not charged', async () => {
    h = await dpHarness(settings(), 3);
    const run = h.start();
    await h.transport.task(1);
    h.engine.stop();
    await run;
    expect(h.rounds.map((r) => r.outcome)).toEqual(['abandoned']);
    expect(h.rounds[0].privacy).toBeUndefined();
    expect(h.engine.privacyStatus().rounds).toBe(0);
  });

  it('refuses a strategy that weighs updates by examples', async () => {
    await expect(
      makeHarness({ config: { totalRounds: 1 }, privacy: controller(settings(), 1) }),
    ).rejects.toThrow(/needs a strategy with weighting 'uniform'/);
    await expect(makeHarness({ config: { totalRounds: 1 }, privacy: controller(settings(), 1) })).rejects.toBeInstanceOf(ConfigError);
  });
});

describe('the release (central DP, a 20,000-value model)', () => {
  const size = 20_000;
  const C = 2;

  function release(contributions: Float32Array[], o: { expected: number; z: number; seed: number; clip?: PrivacySettings['clip'] }) {
    const ctl = new PrivacyController({
      settings: settings({ noiseMultiplier: o.z, clip: o.clip ?? { norm: C }, sampleRate: 0.5, population: 2 * o.expected, maxContributions: 1 }),
      selection: { clientsPerRound: 1, maxClients: 10 },
      totalRounds: 1,
      size,
      maxUpdates: 100,
      records: [],
      random: new SeededRandomSource(o.seed),
    });
    const plan = ctl.plan(3);
    if (!plan.ok) throw new Error(plan.reason);
    const s = createStrategy({ name: 'fedavg', size, weighting: 'uniform' });
    s.begin();
    for (const c of contributions) s.add(c, 1);
    const out = plan.release.release(s);
    let mean = 0;
    for (const v of out.delta) mean += v;
    mean /= size;
    let sq = 0;
    for (const v of out.delta) sq += (v - mean) ** 2;
    return { mean, std: Math.sqrt(sq / (size - 1)), entry: out.entry!, ctl };
  }

  it('divides sum + noise by the expected count, not the realised one: same noise scale for 1 or 40 contributions', () => {
    const expected = 10;
    const z = 0.1;
    const v = 0.01; // each contribution: all values 0.01, norm 0.01·√20000 ≈ 1.41 < C
    const one = release([new Float32Array(size).fill(v)], { expected, z, seed: 8 });
    const forty = release(Array.from({ length: 40 }, () => new Float32Array(size).fill(v)), { expected, z, seed: 47 });
    // noise per value: z·C·(1 + √d/K) before dividing (K = ⌈1000·√d⌉), so ≈ 1.001·z·C/expected after
    const want = (z * C * 1.001) / expected;
    expect(one.entry.noiseStddev).toBeCloseTo(z * C * (1 + Math.sqrt(size) / Math.ceil(1000 * Math.sqrt(size))), 4);
    // sample sd of 20000 values: relative SE ≈ 1/√(2·20000) = 0.5%; 5 SE
    for (const r of [one, forty]) expect(Math.abs(r.std / want - 1)).toBeLessThan(0.025);
    // means: Σ contributions / expected = 1·0.01/10 and 40·0.01/10 (dividing by the realised count would give 0.01 both);
    // SE of a mean of 20000 noise values ≈ 0.02/√20000 = 1.4e-4; 5 SE
    expect(Math.abs(one.mean - 0.001)).toBeLessThan(7e-4);
    expect(Math.abs(forty.mean - 0.04)).toBeLessThan(7e-4);
  });

  it('adaptive clipping: the update noise is drawn at z_Δ, the accountant is charged at z', () => {
    // hand: z = 0.5 and 2σ_b = 1/√3 give z⁻² = 4 and (2σ_b)⁻² = 3, so z_Δ = (z⁻² − (2σ_b)⁻²)^(−1/2) = 1
    const z = 0.5;
    const countNoise = 1 / (2 * Math.sqrt(3));
    const expected = 10;
    const r = release([], { expected, z, seed: 5, clip: { adaptive: { initialNorm: C, countNoise } } });
    expect(r.entry.noiseMultiplier).toBe(0.5);
    expect(r.entry.updateNoiseMultiplier).toBeCloseTo(1, 12);
    // the spread is z_Δ·C·1.001/expected = 0.2002, twice what z would give (SE 0.5%)
    expect(Math.abs(r.std / ((1 * C * 1.001) / expected) - 1)).toBeLessThan(0.025);
    r.ctl.commit(r.entry);
    // charged at z: ε of one round at (q = 0.5, z = 0.5), not at z_Δ = 1
    expect(r.ctl.status().epsilon).toBeCloseTo(epsilonFor(0.5, 0.5, 1, DELTA), 10);
    expect(Math.abs(r.ctl.status().epsilon! - epsilonFor(0.5, 1, 1, DELTA))).toBeGreaterThan(1);
  });

  it('one merchant cannot steer the adaptive clip: its clip count (and contribution tally) is clamped to [−W, W]', () => {
    const ctl = new PrivacyController({
      // W = 2; z = 0.5 with 2σ_b = 1/√3 (z_Δ = 1); expected = 0.5 · 20 = 10
      settings: settings({ noiseMultiplier: 0.5, sampleRate: 0.5, population: 20, maxContributions: 2, clip: { adaptive: { initialNorm: 1, countNoise: 1 / (2 * Math.sqrt(3)) } } }),
      selection: { clientsPerRound: 1, maxClients: 10 },
      totalRounds: 1,
      size: SIZE,
      maxUpdates: 10,
      records: [],
      random: new SeededRandomSource(11),
    });
    const plan = ctl.plan(10);
    if (!plan.ok) throw new Error(plan.reason);
    const r = plan.release;
    const s = createStrategy({ name: 'fedavg', size: SIZE, weighting: 'uniform' });
    s.begin();
    const fold = (weight: number, clipCount: number) => {
      const u = { weight, clipCount } as Parameters<typeof r.check>[0];
      r.check(u);
      const a = r.admit(u, 0);
      s.add(new Float32Array(SIZE), a.weight, a.scale);
    };
    for (let i = 0; i < 9; i++) fold(1, 1); // nine honest merchants: one shopper each, under the clip
    fold(2 ** 32, -(2 ** 32)); // one claims 2³² shoppers, all clipped
    const { entry } = r.release(s);
    // Σ = 9 − 2 = 7 (not −4.3e9), noise sd 2σ_b ≈ 0.58: b̄ = (7 + N)/20 + 0.5 ≈ 0.85
    expect(entry!.fractionUnderClip!).toBeGreaterThan(0.7);
    expect(entry!.fractionUnderClip!).toBeLessThan(1);
    expect(entry!.nextClipNorm).toBeLessThan(1); // more than half under the clip: it shrinks, as the honest majority says
    expect(entry!.contributions).toBe(9 + 2);
  });

  it('refuses δ at or above 1/population and warns above population^-1.1', () => {
    const make = (delta: number, log: (l: string) => void = () => {}) =>
      new PrivacyController({
        settings: settings({ delta, population: 1000 }),
        selection: { clientsPerRound: 1, maxClients: 10 },
        totalRounds: 1,
        size: 10,
        maxUpdates: 3,
        records: [],
        log,
      });
    expect(() => make(1e-3)).toThrow(/privacy.delta = 0.001 is not below 1\/population = 0.001/);
    const lines: string[] = [];
    make(5e-4, (l) => lines.push(l)); // 1000^-1.1 = 5.0e-4 (hand: 10^-3.3 = 5.01e-4): just below it, no warning
    expect(lines).toEqual([]);
    make(9e-4, (l) => lines.push(l));
    expect(lines.join('\n')).toMatch(/warning: δ = 0.0009 is above population\^-1.1 = 0.000501/);
  });
});
