// coordinator/engine: client selection — fixed count (uniform without
// replacement), over-selection, Poisson sampling — and the engine closing an
// over-selected round at its target.
import { afterEach, describe, expect, it } from 'vitest';
import { selectClients, type SelectionConfig } from '../../coordinator/engine/index.ts';
import { fill, makeHarness, makeUpdate, seededUniform, SIZE, type Harness } from './engineHarness.ts';

const ids = (n: number) => Array.from({ length: n }, (_, i) => `c${String(i).padStart(3, '0')}`);
const cfg = (o: Partial<SelectionConfig>): SelectionConfig => ({ clientsPerRound: 3, overSelect: 0, maxClients: 1000, ...o });

function expectDistinctSubset(sel: string[], pool: string[]): void {
  expect(new Set(sel).size).toBe(sel.length);
  for (const id of sel) expect(pool).toContain(id);
}

describe('selectClients: fixed count', () => {
  it('picks min(clientsPerRound, maxClients, eligible) distinct eligible clients', () => {
    const pool = ids(10);
    const u = seededUniform(1);
    const a = selectClients(pool, cfg({ clientsPerRound: 4 }), u);
    expect(a.mode).toBe('fixed');
    expect(a.target).toBe(4);
    expect(a.selected).toHaveLength(4);
    expectDistinctSubset(a.selected, pool);

    const b = selectClients(pool, cfg({ clientsPerRound: 20 }), u);
    expect(b.target).toBe(10);
    expect([...b.selected].sort()).toEqual(pool);

    const c = selectClients(pool, cfg({ clientsPerRound: 4, maxClients: 3 }), u);
    expect(c.target).toBe(3);
    expect(c.selected).toHaveLength(3);
    expectDistinctSubset(c.selected, pool);

    expect(selectClients([], cfg({ clientsPerRound: 4 }), u)).toEqual({ selected: [], target: 0, mode: 'fixed' });
    // does not reorder the caller's array
    const mine = ['z', 'y', 'x'];
    selectClients(mine, cfg({ clientsPerRound: 2 }), u);
    expect(mine).toEqual(['z', 'y', 'x']);
  });

  it('is reproducible with a seeded uniform and independent of the eligible list order', () => {
    const pool = ids(30);
    const a = selectClients(pool, cfg({ clientsPerRound: 5 }), seededUniform(7));
    const b = selectClients([...pool].reverse(), cfg({ clientsPerRound: 5 }), seededUniform(7));
    expect(b).toEqual(a);
  });

  it('is uniform: each of N clients is picked in ≈ k/N of the rounds', () => {
    const pool = ids(10);
    const u = seededUniform(42);
    const T = 2000;
    const hits = new Map(pool.map((id) => [id, 0]));
    for (let t = 0; t < T; t++) for (const id of selectClients(pool, cfg({ clientsPerRound: 4 }), u).selected) hits.set(id, hits.get(id)! + 1);
    // Binomial(2000, 0.4): mean 800, sd ≈ 21.9; 5 sd
    for (const [id, n] of hits) expect(Math.abs(n - 800), id).toBeLessThan(110);
  });

  it('over-selection picks ceil(target · (1 + overSelect)), keeping the target', () => {
    const pool = ids(20);
    const u = seededUniform(3);
    const cases: Array<[number, number, number, number]> = [
      // clientsPerRound, overSelect, selected, target
      [4, 0.5, 6, 4],
      [3, 0.25, 4, 3],
      [3, 0.3, 4, 3], // 3.9 → 4
      [5, 0.01, 6, 5], // 5.05 → 6
      [10, 1, 20, 10],
      [10, 5, 20, 10], // capped by the pool
      [30, 0.5, 20, 20], // target capped by the pool too
    ];
    for (const [k, o, want, target] of cases) {
      const s = selectClients(pool, cfg({ clientsPerRound: k, overSelect: o }), u);
      expect([k, o, s.selected.length, s.target]).toEqual([k, o, want, target]);
      expectDistinctSubset(s.selected, pool);
    }
    const capped = selectClients(pool, cfg({ clientsPerRound: 4, overSelect: 1, maxClients: 6 }), u);
    expect([capped.selected.length, capped.target]).toEqual([6, 4]);
  });

  it('over-selection of 50 clients by 10% picks 55', () => {
    const s = selectClients(ids(100), cfg({ clientsPerRound: 50, overSelect: 0.1 }), seededUniform(5));
    expect(s.target).toBe(50);
    expect(s.selected).toHaveLength(55);
  });
});

describe('selectClients: Poisson', () => {
  it('each client independently with probability q: mean count ≈ q·N (CLT bound), variance ≈ N·q·(1−q)', () => {
    const N = 200;
    const q = 0.1;
    const T = 400;
    const pool = ids(N);
    const u = seededUniform(2024);
    const counts: number[] = [];
    const hits = new Map(pool.map((id) => [id, 0]));
    for (let t = 0; t < T; t++) {
      const s = selectClients(pool, cfg({ sampleRate: q, clientsPerRound: 5 }), u);
      expect(s.mode).toBe('poisson');
      expect(s.target).toBe(s.selected.length);
      expectDistinctSubset(s.selected, pool);
      counts.push(s.selected.length);
      for (const id of s.selected) hits.set(id, hits.get(id)! + 1);
    }
    const mean = counts.reduce((a, b) => a + b, 0) / T;
    const variance = counts.reduce((a, b) => a + (b - mean) ** 2, 0) / (T - 1);
    // E = 20, Var = 18; the mean of 400 has sd √(18/400) ≈ 0.212: 4 sd
    expect(Math.abs(mean - q * N)).toBeLessThan(4 * Math.sqrt((N * q * (1 - q)) / T));
    // sample variance of 400 draws: sd ≈ 18·√(2/399) ≈ 1.27
    expect(variance).toBeGreaterThan(12);
    expect(variance).toBeLessThan(24);
    // per client: Binomial(400, 0.1), mean 40, sd 6: within 5 sd
    for (const [id, n] of hits) expect(Math.abs(n - T * q), id).toBeLessThan(30);
  });

  it('q = 0 selects nobody, q = 1 everybody', () => {
    const pool = ids(7);
    expect(selectClients(pool, cfg({ sampleRate: 0 }), seededUniform(1))).toEqual({ selected: [], target: 0, mode: 'poisson' });
    expect(selectClients(pool, cfg({ sampleRate: 1 }), seededUniform(1)).selected).toEqual(pool);
  });

  it('Poisson with a binding maxClients cap still gives every client the same chance', () => {
    const pool = ids(100);
    const u = seededUniform(9);
    const T = 200;
    const hits = new Map(pool.map((id) => [id, 0]));
    for (let t = 0; t < T; t++) {
      for (const id of selectClients(pool, cfg({ sampleRate: 0.5, maxClients: 20 }), u).selected) hits.set(id, hits.get(id)! + 1);
    }
    // every round selects 20 of 100: each client ≈ 0.2·200 = 40 times (sd ≈ 5.7)
    for (const [id, n] of hits) expect(Math.abs(n - 40), id).toBeLessThan(30);
  });
});

describe('selection in the engine', () => {
  const open: Harness[] = [];
  afterEach(async () => {
    for (const h of open.splice(0)) await h.close();
  });

  it('tasks go to the selected only; an over-selected round closes at its target and the straggler is refused', async () => {
    const clients = ['a1', 'a2', 'a3', 'a4', 'a5'];
    // clientsPerRound 2, overSelect 0.5 → 3 selected of 5, target 2
    const h = await makeHarness({ clients, uniform: seededUniform(11), config: { totalRounds: 1, minClients: 5, clientsPerRound: 2, overSelect: 0.5, quorum: 2, deadlineMs: 4000 } });
    open.push(h);
    const run = h.start();
    const task = (await h.transport.task(1)).msg;
    const selected = h.transport.of('task').map((s) => s.clientId).sort();
    expect(selected).toHaveLength(3);
    const others = clients.filter((c) => !selected.includes(c));
    const c = (id: string) => h.clients.get(id)!;
    // a non-selected client is refused
    h.engine.receiveUpdate(others[0], makeUpdate(c(others[0]), task, fill(9)));
    expect(h.transport.of('updateRejected', others[0]).map((s) => s.msg.code)).toEqual(['not-selected']);
    h.engine.receiveUpdate(selected[0], makeUpdate(c(selected[0]), task, fill(1), { weight: 1 }));
    h.engine.receiveUpdate(selected[1], makeUpdate(c(selected[1]), task, fill(3), { weight: 1 }));
    const t0 = Date.now();
    const rec = await h.round(1);
    expect(Date.now() - t0).toBeLessThan(1000);
    expect(rec.selected).toEqual(selected);
    expect(rec.participants.map((p) => p.clientId)).toEqual(selected.slice(0, 2));
    await run;
    h.engine.receiveUpdate(selected[2], makeUpdate(c(selected[2]), task, fill(100)));
    expect(h.transport.of('updateRejected', selected[2]).map((s) => s.msg.code)).toEqual(['round-closed']);
    expect([...h.store.latest().weights]).toEqual(Array.from({ length: SIZE }, (_, i) => i / 4 + 2));
    // published to all five connected
    for (const id of clients) expect(h.transport.of('modelPublished', id)).toHaveLength(1);
  });

  it('Poisson in the engine: q = 1 selects every connected client and waits for all of them', async () => {
    const h = await makeHarness({ config: { totalRounds: 1, sampleRate: 1, quorum: 3, deadlineMs: 3000 } });
    open.push(h);
    h.behaviours.set('alice', () => ({ delta: fill(1), delayMs: 5 }));
    h.behaviours.set('bob', () => ({ delta: fill(2), delayMs: 20 }));
    h.behaviours.set('carol', () => ({ delta: fill(3), delayMs: 150 }));
    await h.start();
    const rec = h.store.record(1)!;
    expect(rec.selected).toEqual(['alice', 'bob', 'carol']);
    expect(rec.participants).toHaveLength(3);
    expect([...h.store.latest().weights]).toEqual(Array.from({ length: SIZE }, (_, i) => i / 4 + 2));
  });
});
