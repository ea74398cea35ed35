// coordinator/engine under central DP: the ledger in every committed record,
// ε against the accountant's closed form, the over-budget round refused, the
// fixed denominator, rounds that commit without a quorum (noise alone),
// update validation under DP (weights, clip counts, norms), adaptive clipping
// and the ledger replayed after a restart.
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { PrivacyController, type PrivacySettings } from '../../coordinator/engine/index.ts';
import type { Store } from '../../coordinator/store/index.ts';
import { createStrategy } from '../../coordinator/strategies/index.ts';
import { SeededRandomSource, epsilonFor } from '../../privacy/index.ts';
import { fill, makeHarness, makeUpdate, seededUniform, SIZE, type Harness } from './engineHarness.ts';

const DELTA = 1e-5;

function settings(over: Partial<PrivacySettings> = {}): PrivacySettings {
  return { mode: 'central', unit: 'user', targetEpsilon: 100, delta: DELTA, noiseMultiplier: 1, sampleRate: 0.5, population: 30, maxContributions: 30, clip: { norm: 1 }, ...over };
}

function controller(s: PrivacySettings, totalRounds: number, seed = 1) {
  return (store: Store) =>
    new PrivacyController({
      settings: s,
      selection: { clientsPerRound: 1, maxClients: 1000 },
      totalRounds,
      size: SIZE,
      records: store.records({ from: 1, limit: 1_000_000 }),
      random: new SeededRandomSource(seed),
    });
}

let h: Harness | null = null;
afterEach(async () => {
  await h?.close();
  h = null;
});

/** `planned`: the rounds an auto noise multiplier is calibrated for (default totalRounds). */
async function dpHarness(s: PrivacySettings, totalRounds: number, o: { dir?: string; deadlineMs?: number; planned?: number } = {}): Promise<Harness> {
  return makeHarness({
    dir: o.dir,
    config: { totalRounds, clientsPerRound: 1, minClients: 3, quorum: 3, deadlineMs: o.deadlineMs ?? 2000 },
    strategy: { weighting: 'uniform' },
    privacy: controller(s, o.planned ?? totalRounds),
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
    expect(task.privacy).toEqual({ mode: 'central', unit: 'user', clipNorm: 1, sampleRate: 0.5 });
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

  it('validates DP updates: integer contribution counts, norm within weight × clip (then clipped), weight 1 per client at client level', async () => {
    h = await dpHarness(settings(), 1);
    const [alice, bob, carol] = ['alice', 'bob', 'carol'].map((id) => h!.clients.get(id)!);
    const run = h.start();
    const task = (await h.transport.task(1)).msg;
    const refusals: string[] = [];
    h.engine.on('refusal', (_id: string, code: string, msg: string) => refusals.push(`${code}: ${msg}`));
    h.engine.receiveUpdate('alice', makeUpdate(alice, task, fill(0), { weight: 1.5 }));
    expect(refusals.pop()).toMatch(/^schema: weight must be the number of contributions/);
    // more contributions than one client may hold (maxContributions 30): refused, whatever the norm
    h.engine.receiveUpdate('alice', makeUpdate(alice, task, new Float32Array(SIZE), { weight: 31 }));
    expect(refusals.pop()).toMatch(/^schema: weight must be the number of contributions, an integer in \[0, 30\], got 31/);
    const over = new Float32Array(SIZE);
    over[0] = 2.5;
    h.engine.receiveUpdate('alice', makeUpdate(alice, task, over, { weight: 2 }));
    expect(refusals.pop()).toMatch(/^norm-exceeded: .* exceeds 2 contribution\(s\) × clip norm 1/);
    const zeroWithNorm = new Float32Array(SIZE);
    zeroWithNorm[1] = 1e-3;
    h.engine.receiveUpdate('bob', makeUpdate(bob, task, zeroWithNorm, { weight: 0 }));
    expect(refusals.pop()).toMatch(/^norm-exceeded/);
    expect(refusals).toEqual([]);
    const edge = new Float32Array(SIZE);
    edge[0] = 2 * 1.0005; // within the 1e-3 tolerance: accepted, clipped to 2
    h.engine.receiveUpdate('alice', makeUpdate(alice, task, edge, { weight: 2 }));
    h.engine.receiveUpdate('bob', makeUpdate(bob, task, new Float32Array(SIZE), { weight: 0 }));
    h.engine.receiveUpdate('carol', makeUpdate(carol, task, new Float32Array(SIZE), { weight: 1 }));
    await run;
    expect(refusals).toEqual([]);
    expect(h.rounds[0].privacy!.contributions).toBe(3);
  });

  it('at client level an update is one contribution (weight 1)', async () => {
    h = await makeHarness({
      config: { totalRounds: 1, clientsPerRound: 3, minClients: 3, quorum: 1, deadlineMs: 2000 },
      strategy: { weighting: 'uniform' },
      privacy: controller(settings({ unit: 'client', sampleRate: undefined, population: 3, maxContributions: 1 }), 1),
    });
    const alice = h.clients.get('alice')!;
    const run = h.start();
    const task = (await h.transport.task(1, 'alice')).msg;
    expect(task.privacy).toEqual({ mode: 'central', unit: 'client', clipNorm: 1 });
    const refusals: string[] = [];
    h.engine.on('refusal', (_id: string, code: string, msg: string) => refusals.push(`${code}: ${msg}`));
    h.engine.receiveUpdate('alice', makeUpdate(alice, task, fill(0), { weight: 2 }));
    expect(refusals.pop()).toMatch(/^schema: weight must be 1 under client-level DP/);
    for (const id of ['alice', 'bob', 'carol']) h.engine.receiveUpdate(id, makeUpdate(h.clients.get(id)!, task, new Float32Array(SIZE), { weight: 1 }));
    await run;
    const p = h.rounds[0].privacy!;
    // fixed-size selection of 1 of 3: q = 1/3, flagged as not covered by the Poisson analysis
    expect(p.covered).toBe(false);
    expect(p.q).toBeCloseTo(1 / 3, 15);
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
  });
});

describe('the fixed denominator', () => {
  const size = 20_000;
  const C = 2;
  const z = 0.1;

  function aggregate(contributions: Float32Array[], expected: number) {
    const ctl = new PrivacyController({
      settings: settings({ noiseMultiplier: z, clip: { norm: C }, sampleRate: 0.5, population: 2 * expected }),
      selection: { clientsPerRound: 1, maxClients: 10 },
      totalRounds: 1,
      size,
      records: [],
      random: new SeededRandomSource(contributions.length + 7),
    });
    const plan = ctl.plan(3);
    if (!plan.ok) throw new Error(plan.reason);
    const s = createStrategy({ name: 'fedavg', size, weighting: 'uniform' });
    s.begin();
    for (const c of contributions) s.add(c, 1);
    const { options, noiseStddev } = ctl.aggregateOptions(plan.round, size);
    const agg = s.finish(options);
    let mean = 0;
    for (const v of agg.delta) mean += v;
    mean /= size;
    let sq = 0;
    for (const v of agg.delta) sq += (v - mean) ** 2;
    return { mean, std: Math.sqrt(sq / (size - 1)), noiseStddev };
  }

  it('divides sum + noise by the expected count, not the realised one: same noise scale for 1 or 40 contributions', () => {
    const expected = 10;
    const v = 0.01; // each contribution: all values 0.01, norm 0.01·√20000 ≈ 1.41 < C
    const one = aggregate([new Float32Array(size).fill(v)], expected);
    const forty = aggregate(Array.from({ length: 40 }, () => new Float32Array(size).fill(v)), expected);
    // noise per value: z·C·(1 + √d/K) before dividing (K = ⌈1000·√d⌉), so ≈ 1.001·z·C/expected after
    const want = (z * C * 1.001) / expected;
    expect(one.noiseStddev).toBeCloseTo(z * C * (1 + Math.sqrt(size) / Math.ceil(1000 * Math.sqrt(size))), 4);
    // sample sd of 20000 values: relative SE ≈ 1/√(2·20000) = 0.5%; 5 SE
    for (const r of [one, forty]) expect(Math.abs(r.std / want - 1)).toBeLessThan(0.025);
    // means: Σ contributions / expected = 1·0.01/10 and 40·0.01/10 (dividing by the realised count would give 0.01 both);
    // SE of a mean of 20000 noise values ≈ 0.02/√20000 = 1.4e-4; 5 SE
    expect(Math.abs(one.mean - 0.001)).toBeLessThan(7e-4);
    expect(Math.abs(forty.mean - 0.04)).toBeLessThan(7e-4);
  });
});
