// What a client sends for one task (client/contribution.ts): per-user clipped
// sums under user-level central DP (DP-FedAvg, McMahan et al. 2018), Poisson
// sampling of users, the client-level and non-private cases, and the task
// checks. A fake model whose local training adds a known vector per user gives
// exact hand-computed sums; a real (tiny) matrix factorisation shows the
// issue's requirement that one heavy user moves the update no more than the clip.
import { beforeAll, describe, expect, it } from 'vitest';
import { contribute, trainingStopsAt, userSeed, type ContributionDeps } from '../../client/index.ts';
import { taskSchema, type Task } from '../../protocol/index.ts';
import {
  Rng,
  createModel,
  initBackend,
  type FitOptions,
  type FitResult,
  type History,
  type Model,
  type ModelSpec,
  type UserSequence,
} from '../../recommender/index.ts';

// ------------------------------------------------------------------ helpers

function norm64(v: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < v.length; i++) s += v[i] * v[i];
  return Math.sqrt(s);
}

function diff(a: Float32Array, b: Float32Array): Float64Array {
  expect(a.length).toBe(b.length);
  return Float64Array.from(a, (x, i) => x - b[i]);
}

function seq(user: string, items: ArrayLike<number>): UserSequence {
  const n = items.length;
  return { user, items: Int32Array.from(items), types: new Uint8Array(n), ts: Float64Array.from({ length: n }, (_, j) => j) };
}

/** A task (unsigned: contribute() does not check signatures; ClientCore does). Unit 'user' gets W = 1000 unless given. */
function makeTask(privacy: Task['privacy'], round = 3): Task {
  const p = privacy.mode === 'central' && privacy.unit === 'user' && privacy.maxContributions === undefined ? { ...privacy, maxContributions: 1000 } : privacy;
  return {
    round,
    modelVersion: 2,
    lineage: 'test-lineage',
    taskId: 'AAAAAAAAAAAAAAAAAAAAAA==',
    modelHash: `${'A'.repeat(86)}==`,
    signature: `${'A'.repeat(86)}==`,
    deadline: 1_900_000_000_000,
    train: { epochs: 1, lr: 0.05, batchSize: 16, proxMu: 0, optimizer: 'adam' },
    privacy: p,
    codec: 'f32',
    evaluate: false,
  };
}

const always: () => number = () => 0;

/**
 * A model whose weights are a plain vector and whose fitLocal adds, for each
 * sequence, the vector `vectors[user]`. Reports loss = number of items
 * (NaN for an empty sequence), examples = number of items, 0.25 s per call.
 * Records every call.
 */
class FakeModel implements Model {
  readonly spec: ModelSpec;
  private w: Float32Array;
  readonly calls: Array<{ users: string[]; seed: number; start: Float32Array; opts: FitOptions }> = [];

  constructor(
    private readonly vectors: Record<string, number[]>,
    initial: number[],
  ) {
    this.w = Float32Array.from(initial);
    this.spec = { model: 'mf', config: { numItems: 1 }, weights: [{ name: 'w', shape: [initial.length] }], size: initial.length };
  }

  getWeights(): Float32Array {
    return Float32Array.from(this.w);
  }

  setWeights(flat: Float32Array): void {
    if (flat.length !== this.w.length) throw new Error('size');
    this.w = Float32Array.from(flat);
  }

  async fitLocal(sequences: UserSequence[], opts: FitOptions): Promise<FitResult> {
    this.calls.push({ users: sequences.map((s) => s.user), seed: opts.seed, start: Float32Array.from(this.w), opts });
    let examples = 0;
    for (const s of sequences) {
      const v = this.vectors[s.user];
      if (!v) throw new Error(`no vector for ${s.user}`);
      for (let i = 0; i < v.length; i++) this.w[i] += v[i];
      examples += s.items.length;
    }
    return { loss: examples > 0 ? examples : NaN, epochs: opts.epochs, steps: 1, examples, seconds: 0.25 };
  }

  scoreBatch(histories: History[]): Float32Array {
    return new Float32Array(histories.length);
  }

  recommend(): number[] {
    return [];
  }

  dispose(): void {}
}

/** Delegates to a real model and records each fitLocal's user, seed and delta. */
class RecordingModel implements Model {
  readonly fits: Array<{ user: string; seed: number; delta: Float32Array }> = [];

  constructor(readonly inner: Model) {}

  get spec(): ModelSpec {
    return this.inner.spec;
  }

  getWeights(): Float32Array {
    return this.inner.getWeights();
  }

  setWeights(flat: Float32Array): void {
    this.inner.setWeights(flat);
  }

  async fitLocal(sequences: UserSequence[], opts: FitOptions): Promise<FitResult> {
    const before = this.inner.getWeights();
    const r = await this.inner.fitLocal(sequences, opts);
    const delta = this.inner.getWeights();
    for (let i = 0; i < delta.length; i++) delta[i] -= before[i];
    this.fits.push({ user: sequences.map((s) => s.user).join(','), seed: opts.seed, delta });
    return r;
  }

  scoreBatch(h: History[]): Float32Array {
    return this.inner.scoreBatch(h);
  }

  recommend(h: History, k: number): number[] {
    return this.inner.recommend(h, k);
  }

  dispose(): void {
    this.inner.dispose();
  }
}

/** Expected float32 result of clipping v to C the way a DP clip must: unchanged if ‖v‖ ≤ C, else scaled to just under C. */
function expectClippedSum(actual: Float32Array, vectors: number[][], C: number | null, tol: number): void {
  const sum = new Float64Array(actual.length);
  for (const v of vectors) {
    const f = Float32Array.from(v);
    const n = norm64(f);
    const s = C !== null && n > C ? C / n : 1;
    for (let i = 0; i < f.length; i++) sum[i] += f[i] * s;
  }
  for (let i = 0; i < actual.length; i++) expect(Math.abs(actual[i] - sum[i]), `coordinate ${i}`).toBeLessThan(tol);
}

// ----------------------------------------------------- exact, with a fake model

describe('contribute: user-level central DP (fake model, exact sums)', () => {
  // C = 1. Hand-computed norms: a 5 (clipped), b 0.5, c 2 (clipped), d 1 (at the clip: not clipped), e 0.1.
  const vectors: Record<string, number[]> = {
    a: [3, 4, 0, 0],
    b: [0, 0, 0.3, 0.4],
    c: [0, -2, 0, 0],
    d: [0, 0, 0, 1],
    e: [0.1, 0, 0, 0],
    empty: [0, 0, 0, 0.25],
  };
  const train = [seq('a', [1]), seq('b', [1, 2]), seq('c', [1, 2, 3]), seq('d', [1, 2, 3, 4]), seq('e', [1, 2, 3, 4, 5])];
  const initial = [10, -20, 30, -40];
  const deps: ContributionDeps = { clientId: 'shop-1', random: always };

  it('sums the per-user clipped deltas; weight = users, clipCount = Σ(±1)', async () => {
    const model = new FakeModel(vectors, initial);
    const task = makeTask({ mode: 'central', clipNorm: 1, unit: 'user', sampleRate: 1, reportClipCount: true });
    expect(() => taskSchema.parse(task)).not.toThrow();
    const c = await contribute(model, train, task, deps);
    // hand: a → (0.6, 0.8, 0, 0), b, c → (0, −1, 0, 0), d, e unchanged:
    // (0.6 + 0.1, 0.8 − 1, 0.3, 0.4 + 1) = (0.7, −0.2, 0.3, 1.4), up to the clip's safety margin
    const expected = [0.7, -0.2, 0.3, 1.4];
    for (let i = 0; i < 4; i++) expect(Math.abs(c.delta[i] - expected[i])).toBeLessThan(1e-5);
    expectClippedSum(c.delta, Object.values(vectors).slice(0, 5), 1, 1e-5);
    expect(c.delta).toBeInstanceOf(Float32Array);
    expect(c.delta.length).toBe(4);
    expect(c.weight).toBe(5);
    expect(c.units).toBe(5);
    expect(c.clipped).toBe(2); // a and c
    // +1 (b) +1 (d) +1 (e) −1 (a) −1 (c) = 1
    expect(c.clipCount).toBe(1);
    expect(c.numExamples).toBe(1 + 2 + 3 + 4 + 5);
    expect(c.maxNorm).toBeCloseTo(5, 6);
    expect(c.loss).toBeCloseTo((1 + 2 + 3 + 4 + 5) / 5, 12);
    expect(c.trainSeconds).toBeCloseTo(5 * 0.25, 12);
  });

  it('trains each user alone, from the global weights, with its own seed; leaves the model at the global weights', async () => {
    const model = new FakeModel(vectors, initial);
    const task = makeTask({ mode: 'central', clipNorm: 1, unit: 'user', sampleRate: 1 });
    await contribute(model, train, task, deps);
    expect(model.calls.map((k) => k.users).sort()).toEqual([['a'], ['b'], ['c'], ['d'], ['e']]);
    for (const k of model.calls) {
      expect(Array.from(k.start)).toEqual(Array.from(Float32Array.from(initial)));
      expect(k.opts.epochs).toBe(1);
      expect(k.opts.lr).toBe(0.05);
      expect(k.opts.batchSize).toBe(16);
      expect(k.opts.proxMu).toBe(0);
      expect(Number.isInteger(k.seed) && k.seed >= 0 && k.seed < 2 ** 32).toBe(true);
    }
    expect(new Set(model.calls.map((k) => k.seed)).size).toBe(5);
    expect(Array.from(model.getWeights())).toEqual(Array.from(Float32Array.from(initial)));

    // a user's seed depends on the client, the user's id and the round, not on the other users nor their order
    const seeds = (m: FakeModel) => new Map(m.calls.map((k) => [k.users[0], k.seed]));
    const again = new FakeModel(vectors, initial);
    await contribute(again, [seq('empty', []), ...[...train].reverse()], task, deps);
    for (const [user, seed] of seeds(model)) expect(seeds(again).get(user), user).toBe(seed);
    expect(seeds(again).get('a')).toBe(userSeed('shop-1', 'a', 3));
    const nextRound = new FakeModel(vectors, initial);
    await contribute(nextRound, train, makeTask(task.privacy, 4), deps);
    expect(nextRound.calls.map((k) => k.seed)).not.toEqual(model.calls.map((k) => k.seed));
    const otherClient = new FakeModel(vectors, initial);
    await contribute(otherClient, train, task, { clientId: 'shop-2', random: always });
    expect(otherClient.calls.map((k) => k.seed)).not.toEqual(model.calls.map((k) => k.seed));
  });

  it('a user whose training reports no loss does not count in the mean loss but does in the sum', async () => {
    const model = new FakeModel(vectors, initial);
    const task = makeTask({ mode: 'central', clipNorm: 1, unit: 'user', sampleRate: 1 });
    const c = await contribute(model, [seq('b', [1, 2]), seq('empty', [])], task, deps);
    expect(c.loss).toBe(2);
    expect(c.weight).toBe(2);
    expect(c.numExamples).toBe(2);
    // (float32 weights near 40 round the local result by up to ~4e-6)
    expectClippedSum(c.delta, [vectors.b, vectors.empty], 1, 1e-5);
    expect(c.clipCount).toBeUndefined();
  });

  it('one user with any amount of data moves the sum by at most the clip', async () => {
    // hand: heavy user's vector (300, −400, 0, 0) has norm 500; light (0.03, 0.04, 0, 0) has 0.05
    const C = 0.5;
    const vs = { ...vectors, heavy: [300, -400, 0, 0], light: [0.03, 0.04, 0, 0] };
    const task = makeTask({ mode: 'central', clipNorm: C, unit: 'user', sampleRate: 1, reportClipCount: true });
    const base = await contribute(new FakeModel(vs, initial), train, task, deps);
    const heavy = await contribute(new FakeModel(vs, initial), [...train, seq('heavy', Array.from({ length: 1000 }, (_, i) => i % 7))], task, deps);
    const light = await contribute(new FakeModel(vs, initial), [...train, seq('light', [1, 2, 3, 4, 5])], task, deps);
    expect(norm64(diff(heavy.delta, base.delta))).toBeLessThanOrEqual(C * (1 + 1e-5));
    expect(norm64(diff(heavy.delta, base.delta))).toBeGreaterThan(C * (1 - 1e-5));
    expect(Math.abs(norm64(diff(light.delta, base.delta)) - 0.05)).toBeLessThan(1e-5);
    expect(heavy.weight - base.weight).toBe(1);
    expect(heavy.numExamples - base.numExamples).toBe(1000);
    expect(heavy.clipCount! - base.clipCount!).toBe(-1);
    expect(light.clipCount! - base.clipCount!).toBe(1);
  });

  it('Poisson sampling: user u is in iff its uniform draw is below q; the sum covers exactly the sampled users', async () => {
    const n = 200;
    const q = 0.3;
    const vs: Record<string, number[]> = {};
    const users: UserSequence[] = [];
    for (let u = 0; u < n; u++) {
      // user u: (u, 1, −u/2, 0.01·u); norm > 2 once u ≥ 2, clipped to C = 2
      vs[`u${u}`] = [u, 1, -u / 2, 0.01 * u];
      users.push(seq(`u${u}`, Array.from({ length: 1 + (u % 4) }, (_, j) => j)));
    }
    const C = 2;
    const task = makeTask({ mode: 'central', clipNorm: C, unit: 'user', sampleRate: q, reportClipCount: true });
    const model = new FakeModel(vs, [0, 0, 0, 0]);
    const rng = new Rng(99);
    const c = await contribute(model, users, task, { clientId: 'shop-1', random: () => rng.next() });

    const replay = new Rng(99);
    const expected = users.filter(() => replay.next() < q).map((s) => s.user);
    const trained = model.calls.map((k) => k.users[0]);
    expect([...trained].sort()).toEqual([...expected].sort());
    // Binomial(200, 0.3): mean 60, sd ≈ 6.5
    expect(trained.length).toBeGreaterThan(60 - 4 * 6.5);
    expect(trained.length).toBeLessThan(60 + 4 * 6.5);
    expect(c.weight).toBe(trained.length);
    expect(c.units).toBe(trained.length);
    const idx = trained.map((u) => Number(u.slice(1)));
    expect(c.numExamples).toBe(idx.reduce((s, u) => s + 1 + (u % 4), 0));
    // hand: ‖(u, 1, −u/2, 0.01u)‖ = √(1 + 1.2501u²) ≤ 2 only for u ≤ 1
    const under = idx.filter((u) => u <= 1).length;
    expect(c.clipped).toBe(idx.length - under);
    expect(c.clipCount).toBe(under - (idx.length - under));
    expectClippedSum(c.delta, trained.map((u) => vs[u]), C, 1e-4);
    expect(norm64(c.delta)).toBeLessThanOrEqual(C * idx.length);
  });

  it('Poisson sampling includes each user with probability q (many rounds)', async () => {
    const n = 200;
    const q = 0.3;
    const vs: Record<string, number[]> = {};
    const users: UserSequence[] = [];
    for (let u = 0; u < n; u++) {
      vs[`u${u}`] = [1, 0, 0, 0];
      users.push(seq(`u${u}`, [0]));
    }
    const rng = new Rng(5);
    const hits = new Array<number>(n).fill(0);
    const rounds = 50;
    let total = 0;
    for (let r = 0; r < rounds; r++) {
      const model = new FakeModel(vs, [0, 0, 0, 0]);
      const c = await contribute(model, users, makeTask({ mode: 'central', clipNorm: 5, unit: 'user', sampleRate: q }, r), {
        clientId: 'x',
        random: () => rng.next(),
      });
      for (const k of model.calls) hits[Number(k.users[0].slice(1))]++;
      // unclipped unit vectors: the first coordinate counts the sampled users
      expect(c.delta[0]).toBe(c.weight);
      total += c.weight;
    }
    const trials = n * rounds;
    expect(Math.abs(total / trials - q)).toBeLessThan(4 * Math.sqrt((q * (1 - q)) / trials));
    // the first and second half of the users are sampled alike
    const half = (a: number, b: number) => hits.slice(a, b).reduce((s, h) => s + h, 0) / ((b - a) * rounds);
    expect(Math.abs(half(0, 100) - half(100, 200))).toBeLessThan(4 * Math.sqrt((2 * q * (1 - q)) / (100 * rounds)));
  });

  it('sampleRate 1 with any draw in [0, 1) includes everyone; no one sampled gives an empty contribution', async () => {
    const task1 = makeTask({ mode: 'central', clipNorm: 1, unit: 'user', sampleRate: 1 });
    const all = await contribute(new FakeModel(vectors, initial), train, task1, { clientId: 'c', random: () => 0.999999 });
    expect(all.weight).toBe(5);

    const task = makeTask({ mode: 'central', clipNorm: 1, unit: 'user', sampleRate: 0.3, reportClipCount: true });
    const model = new FakeModel(vectors, initial);
    const none = await contribute(model, train, task, { clientId: 'c', random: () => 0.3 });
    expect(model.calls.length).toBe(0);
    expect(none.weight).toBe(0);
    expect(none.units).toBe(0);
    expect(none.numExamples).toBe(0);
    expect(none.clipCount).toBe(0);
    expect(none.maxNorm).toBe(0);
    expect(Number.isNaN(none.loss)).toBe(true);
    expect(Array.from(none.delta)).toEqual([0, 0, 0, 0]);
  });

  it('user-level central DP without sampleRate, clipNorm or maxContributions is refused, naming them', async () => {
    const noRate = makeTask({ mode: 'central', clipNorm: 1, unit: 'user' });
    const noCap = makeTask({ mode: 'central', clipNorm: 1, unit: 'user', sampleRate: 0.5 });
    delete noCap.privacy.maxContributions;
    await expect(contribute(new FakeModel(vectors, initial), train, noCap, deps)).rejects.toThrow(/maxContributions/);
    await expect(contribute(new FakeModel(vectors, initial), train, noRate, deps)).rejects.toThrow(/sampleRate/);
    const noClip = makeTask({ mode: 'central', clipNorm: null, unit: 'user', sampleRate: 0.5 });
    await expect(contribute(new FakeModel(vectors, initial), train, noClip, deps)).rejects.toThrow(/clipNorm/);
    const model = new FakeModel(vectors, initial);
    await expect(contribute(model, train, noRate, deps)).rejects.toThrow(/sampleRate.*clipNorm|clipNorm.*sampleRate/);
    expect(model.calls.length).toBe(0);
  });
});

describe('contribute: what keeps a merchant counted whatever its shoppers do (fake model)', () => {
  const initial = [0, 0, 0, 0];
  const deps: ContributionDeps = { clientId: 'shop-3', random: always };

  it('a user whose delta is not finite adds zero and is counted; the update stays finite and is sent', async () => {
    const vs = { ok: [0.3, 0.4, 0, 0], bad: [NaN, 1, 0, 0], inf: [0, Infinity, 0, 0] };
    const task = makeTask({ mode: 'central', clipNorm: 1, unit: 'user', sampleRate: 1, reportClipCount: true });
    const c = await contribute(new FakeModel(vs, initial), [seq('ok', [1]), seq('bad', [2]), seq('inf', [3])], task, deps);
    expect(c.nonFinite).toBe(2);
    expect(c.units).toBe(3);
    expect(c.weight).toBe(3);
    expect(Array.from(c.delta).every(Number.isFinite)).toBe(true);
    expectClippedSum(c.delta, [vs.ok], 1, 1e-6); // the two broken users add exactly zero
    // zeroed deltas are under the clip: +1 each
    expect(c.clipCount).toBe(3);

    // client level under DP: the one delta is zeroed the same way
    const whole = await contribute(new FakeModel(vs, initial), [seq('bad', [2])], makeTask({ mode: 'central', clipNorm: 1, unit: 'client' }), deps);
    expect(whole.nonFinite).toBe(1);
    expect(Array.from(whole.delta)).toEqual([0, 0, 0, 0]);
    // without DP it is sent as it is: the coordinator refuses it as non-finite
    const plain = await contribute(new FakeModel(vs, initial), [seq('bad', [2])], makeTask({ mode: 'none', clipNorm: null, unit: 'client' }), deps);
    expect(plain.nonFinite).toBe(0);
    expect(Number.isNaN(plain.delta[0])).toBe(true);
  });

  it('more users than W: the sum is projected onto the ball of radius W·C, never refused (weight stays the count)', async () => {
    // five users of norm ≥ C = 1 pointing the same way: the clipped sum has norm ≈ 5; W = 2 caps it at 2
    const vs: Record<string, number[]> = {};
    const users = [];
    for (let u = 0; u < 5; u++) {
      vs[`u${u}`] = [3, 0, 0, 0];
      users.push(seq(`u${u}`, [u]));
    }
    const task = makeTask({ mode: 'central', clipNorm: 1, unit: 'user', sampleRate: 1, maxContributions: 2 });
    const c = await contribute(new FakeModel(vs, initial), users, task, deps);
    expect(c.projected).toBe(true);
    expect(c.weight).toBe(5);
    expect(norm64(c.delta)).toBeLessThanOrEqual(2 * (1 + 2 ** -23));
    expect(c.delta[0]).toBeCloseTo(2, 5);
    const under = await contribute(new FakeModel(vs, initial), users.slice(0, 2), task, deps);
    expect(under.projected).toBe(false);
    expect(under.delta[0]).toBeCloseTo(2 * (1 - 1e-6), 5);
  });

  it('decides how many users to train from a data-independent probe before training any: a heavy user cannot push others out', async () => {
    // a fake clock that fitLocal advances by 10 ms per interaction: users' training time depends on their data
    let t = 0;
    const vs: Record<string, number[]> = { '\u0000fedrec-probe': [0, 0, 0, 0] };
    const users = [];
    for (let u = 0; u < 10; u++) {
      vs[`u${u}`] = [0.1, 0, 0, 0];
      users.push(seq(`u${u}`, Array.from({ length: 5 }, (_, j) => j)));
    }
    class Timed extends FakeModel {
      override async fitLocal(sequences: UserSequence[], opts: FitOptions): Promise<FitResult> {
        t += 10 * sequences.reduce((n, s) => n + s.items.length, 0);
        return super.fitLocal(sequences, opts);
      }
    }
    const now = () => t;
    // each user trains on at most 20 interactions: the probe (20 of them) takes 200 ms, run twice (timed warm); × 1.25 = 250 ms per user
    const task = makeTask({ mode: 'central', clipNorm: 1, unit: 'user', sampleRate: 1, maxInteractionsPerUser: 20 });
    const base = await contribute(new Timed(vs, initial), users, task, { ...deps, now, cutoff: (t = 0) + 1400 });
    // (1400 − 2 × 200)/250 = 4 users fit: 4 trained, 6 skipped
    expect(base.fits).toBe(4);
    expect(base.units).toBe(4);
    expect(base.skipped).toBe(6);
    // a heavy user (1,000 interactions, trained on its last 20) joins: still 4 fit; who is trained depends only on the count
    vs.heavy = [0.1, 0, 0, 0];
    const heavy = await contribute(new Timed(vs, initial), [seq('heavy', Array.from({ length: 1000 }, (_, j) => j % 7)), ...users], task, { ...deps, now, cutoff: (t = 0) + 1400 });
    expect(heavy.fits).toBe(4);
    expect(heavy.units).toBe(4);
    // with no room at all: zero with weight 0, still a contribution to send
    const late = await contribute(new Timed(vs, initial), users, task, { ...deps, now, cutoff: (t = 0) - 1 });
    expect([late.fits, late.units, late.weight, late.skipped]).toEqual([0, 0, 0, 10]);
    expect(Array.from(late.delta)).toEqual([0, 0, 0, 0]);
  });

  it('a user trains on at most maxInteractionsPerUser of their latest interactions', async () => {
    const model = new FakeModel({ long: [0.1, 0, 0, 0] }, initial);
    const task = makeTask({ mode: 'central', clipNorm: 1, unit: 'user', sampleRate: 1, maxInteractionsPerUser: 3 });
    const c = await contribute(model, [seq('long', [1, 2, 3, 4, 5, 6, 7])], task, { ...deps, cutoff: Date.now() + 10 * 3_600_000 });
    expect(c.numExamples).toBe(3);
    expect(model.calls.map((k) => k.users)).toEqual([['long']]);
  });

  it('the wall clock still stops training at the cutoff when the machine is slower than the probe said', async () => {
    let t = 0;
    const vs: Record<string, number[]> = {};
    const users = [];
    for (let u = 0; u < 6; u++) {
      vs[`u${u}`] = [0.1, 0, 0, 0];
      users.push(seq(`u${u}`, [u]));
    }
    // no probe (no per-user bound in the task); every clock read advances 5 s
    const task = makeTask({ mode: 'central', clipNorm: 1, unit: 'user', sampleRate: 1 });
    const c = await contribute(new FakeModel(vs, initial), users, task, { ...deps, now: () => (t += 5000) - 5000, cutoff: 12_000 });
    // reads at 0 (start), then before users at 5, 10 s: two trained; at 15 s ≥ 12 s it stops
    expect([c.units, c.skipped, c.fits]).toEqual([2, 4, Infinity]);
    expect(c.delta[0]).toBeCloseTo(0.2, 6);
  });

  it('trainingStopsAt leaves 10% of the time left, at least a second', () => {
    expect(trainingStopsAt(100_000, 0)).toBe(90_000);
    expect(trainingStopsAt(100_000, 95_000)).toBe(99_000);
    expect(trainingStopsAt(100_000, 101_000)).toBe(99_000);
  });
});

describe('contribute: client-level and non-private (fake model)', () => {
  const vectors: Record<string, number[]> = { a: [3, 0, 0, 0], b: [0, 4, 0, 0], c: [0, 0, 0.1, 0] };
  const train = [seq('a', [1, 2]), seq('b', [3]), seq('c', [4, 5, 6])];
  const initial = [1, 2, 3, 4];
  const deps: ContributionDeps = { clientId: 'merchant-9', random: always };

  it("unit 'client' central: one delta over all data, clipped, weight 1", async () => {
    // hand: Σ = (3, 4, 0.1, 0), norm √25.01 = 5.001; C = 2 → (3, 4, 0.1, 0)·2/5.001
    const model = new FakeModel(vectors, initial);
    const task = makeTask({ mode: 'central', clipNorm: 2, unit: 'client', reportClipCount: true });
    const c = await contribute(model, train, task, deps);
    expect(model.calls.length).toBe(1);
    expect(model.calls[0].users).toEqual(['a', 'b', 'c']);
    expect(c.weight).toBe(1);
    expect(c.units).toBe(1);
    expect(c.clipped).toBe(1);
    expect(c.clipCount).toBe(-1);
    expect(c.numExamples).toBe(6);
    expect(c.maxNorm).toBeCloseTo(Math.sqrt(25.01), 5);
    expect(norm64(c.delta)).toBeLessThanOrEqual(2);
    const k = 2 / Math.sqrt(25.01);
    [3 * k, 4 * k, 0.1 * k, 0].forEach((x, i) => expect(Math.abs(c.delta[i] - x)).toBeLessThan(1e-5));

    const under = await contribute(new FakeModel(vectors, initial), train, makeTask({ mode: 'central', clipNorm: 6, unit: 'client', reportClipCount: true }), deps);
    expect(under.clipCount).toBe(1);
    expect(under.clipped).toBe(0);
    expect(under.weight).toBe(1);
    expectClippedSum(under.delta, Object.values(vectors), null, 1e-6);
  });

  it("mode 'none': weighted by examples, unclipped when clipNorm is null, no clipCount unless asked", async () => {
    const model = new FakeModel(vectors, initial);
    const c = await contribute(model, train, makeTask({ mode: 'none', clipNorm: null, unit: 'client' }), deps);
    expect(c.weight).toBe(6);
    expect(c.numExamples).toBe(6);
    expect(c.clipped).toBe(0);
    expect(c.units).toBe(1);
    expect(c.clipCount).toBeUndefined();
    // delta = Σ vectors exactly (integers and 0.1 in float32 around small weights)
    expectClippedSum(c.delta, Object.values(vectors), null, 1e-6);
    expect(c.maxNorm).toBeCloseTo(Math.sqrt(25.01), 5);

    // mode 'none' ignores unit 'user' (no sampling): still one delta over everything
    const m2 = new FakeModel(vectors, initial);
    const c2 = await contribute(m2, train, makeTask({ mode: 'none', clipNorm: 1, unit: 'user' }), deps);
    expect(m2.calls.length).toBe(1);
    expect(c2.weight).toBe(6);
    expect(norm64(c2.delta)).toBeLessThanOrEqual(1);
    expect(c2.clipped).toBe(1);
  });
});

// ------------------------------------------- the requirement, real MF

describe('contribute: per-user clipping with a real matrix factorisation', () => {
  beforeAll(async () => {
    await initBackend('cpu');
  });

  const cfg = { numItems: 30, dim: 8, negatives: 2 };
  const C = 0.05;

  function users(): { D: UserSequence[]; heavy: UserSequence; light: UserSequence } {
    const rng = new Rng(31);
    const draw = (n: number) => Array.from({ length: n }, () => rng.int(cfg.numItems));
    const D = [0, 1, 2, 3].map((u) => seq(`user-${u}`, draw(8 + 2 * u)));
    return { D, heavy: seq('heavy', draw(1000)), light: seq('light', draw(5)) };
  }

  it('a user with 1,000 events moves the update no more than the clip, like a user with 5', async () => {
    const { D, heavy, light } = users();
    const task = makeTask({ mode: 'central', clipNorm: C, unit: 'user', sampleRate: 1, reportClipCount: true });
    task.train = { epochs: 1, lr: 0.05, batchSize: 32, proxMu: 0, optimizer: 'adam' };
    const deps: ContributionDeps = { clientId: 'merchant-1', random: always };
    const initial = createModel('mf', cfg, 7).getWeights();

    // A fresh model per run: MF keeps each user's (private, unshared) embedding in the
    // model object between fits, so reusing one object would start D's users elsewhere.
    const run = async (train: UserSequence[]) => {
      const model = new RecordingModel(createModel('mf', cfg, 7));
      model.setWeights(initial);
      const c = await contribute(model, train, task, deps);
      expect(Array.from(model.getWeights())).toEqual(Array.from(initial));
      model.dispose();
      return { c, fits: model.fits };
    };
    const base = await run(D);
    const withHeavy = await run([...D, heavy]);
    const withLight = await run([...D, light]);

    // D's users get the same seeds and bit-identical deltas in all three runs (in whatever order they trained)
    const byUser = (fits: typeof base.fits) => new Map(fits.map((f) => [f.user, f]));
    for (const other of [withHeavy, withLight]) {
      expect(other.fits.length).toBe(D.length + 1);
      const mine = byUser(other.fits);
      for (const f of base.fits) {
        expect(mine.get(f.user)!.seed).toBe(f.seed);
        expect(Array.from(mine.get(f.user)!.delta)).toEqual(Array.from(f.delta));
      }
    }
    const heavyFit = byUser(withHeavy.fits).get('heavy')!;
    const lightFit = byUser(withLight.fits).get('light')!;
    expect(heavyFit.user).toBe('heavy');
    expect(lightFit.user).toBe('light');
    // the clip binds for the heavy user: trained alone it would move the weights by far more than C
    const heavyRaw = norm64(heavyFit.delta);
    expect(heavyRaw).toBeGreaterThan(4 * C);
    expect(heavyRaw).toBeGreaterThan(norm64(lightFit.delta));

    const dHeavy = norm64(diff(withHeavy.c.delta, base.c.delta));
    const dLight = norm64(diff(withLight.c.delta, base.c.delta));
    expect(dHeavy).toBeLessThanOrEqual(C * (1 + 1e-5));
    expect(dLight).toBeLessThanOrEqual(C * (1 + 1e-5));
    expect(dHeavy).toBeGreaterThan(C * 0.99);
    expect(dLight).toBeGreaterThan(0);

    // the payload is the sum of the clipped per-user deltas
    for (const r of [base, withHeavy, withLight]) {
      const sum = new Float64Array(r.c.delta.length);
      for (const f of r.fits) {
        const n = norm64(f.delta);
        const s = n > C ? C / n : 1;
        for (let i = 0; i < sum.length; i++) sum[i] += f.delta[i] * s;
      }
      for (let i = 0; i < sum.length; i++) expect(Math.abs(r.c.delta[i] - sum[i])).toBeLessThan(1e-6);
      // weight = users trained; clipCount = Σ(+1 under, −1 clipped) from the raw norms
      expect(r.c.weight).toBe(r.fits.length);
      const signs = r.fits.map((f) => (norm64(f.delta) <= C ? 1 : -1));
      expect(r.c.clipCount).toBe(signs.reduce((a: number, b) => a + b, 0));
      expect(r.c.clipped).toBe(signs.filter((s) => s < 0).length);
      expect(r.c.maxNorm).toBeCloseTo(Math.max(...r.fits.map((f) => norm64(f.delta))), 6);
      expect(norm64(r.c.delta)).toBeLessThanOrEqual(C * r.fits.length * (1 + 1e-5));
    }
    // MF trains one example per interaction: 8 + 10 + 12 + 14 = 44 for D
    expect(base.c.numExamples).toBe(44);
    expect(withHeavy.c.numExamples).toBe(44 + 1000);
    expect(withLight.c.numExamples).toBe(44 + 5);
    expect(base.c.weight).toBe(4);
    expect(withHeavy.c.weight).toBe(5);
    expect(withLight.c.weight).toBe(5);

    // without reportClipCount there is no clipCount
    const quiet = makeTask({ mode: 'central', clipNorm: C, unit: 'user', sampleRate: 1 });
    const m = createModel('mf', cfg, 7);
    m.setWeights(initial);
    const q = await contribute(m, D, quiet, deps);
    m.dispose();
    expect(q.clipCount).toBeUndefined();
    expect(q.weight).toBe(4);
  });
});
