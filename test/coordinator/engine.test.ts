// coordinator/engine: whole rounds through a real Store and FedAvg with fake
// clients — committed weights (hand-computed), the round log, published
// versions, streaming close at the target, disconnects, abandonment, and a
// restart on the reopened store.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { modelFileName, optimizerFileName } from '../../coordinator/store/index.ts';
import { parseMessage } from '../../protocol/index.ts';
import { LINEAGE, fill, makeEvalReport, makeHarness, makeUpdate, ramp, sleep, type Behaviour, type Harness } from './engineHarness.ts';

const open: Harness[] = [];
async function harness(...a: Parameters<typeof makeHarness>): Promise<Harness> {
  const h = await makeHarness(...a);
  open.push(h);
  return h;
}
afterEach(async () => {
  for (const h of open.splice(0)) await h.close();
});

/** Per-round (delta, weight, numExamples) of each client; numExamples deliberately differs from weight. */
function scripted(plan: Record<number, [Float32Array, number, number]>): Behaviour {
  return (task) => {
    const p = plan[task.round];
    return p ? { delta: p[0], weight: p[1], numExamples: p[2], loss: 0.5 } : undefined;
  };
}

// Round 1: weights 1, 2, 1 (total 4); round 2: 3, 1, 4 (total 8); round 3: 1, 1, 2 (total 4).
const PLAN = {
  alice: scripted({ 1: [fill(1), 1, 100], 2: [fill(-1), 3, 7], 3: [fill(0), 1, 50] }),
  bob: scripted({ 1: [ramp((i) => i / 2), 2, 5], 2: [fill(8), 1, 900], 3: [ramp((i) => (i % 2 === 0 ? 4 : 0)), 1, 2] }),
  carol: scripted({ 1: [ramp((i) => (i % 2 === 0 ? 2 : -2)), 1, 60], 2: [ramp((i) => -i / 2), 4, 4], 3: [fill(0.5), 2, 9] }),
};

// By hand. w0[i] = i/4.
// Round 1: sum = 1 + i + (±2) → avg = (3+i)/4 (i even), (i-1)/4 (i odd).
const W1 = [0.75, 0.25, 1.75, 1.25, 2.75, 2.25, 3.75, 3.25, 4.75, 4.25, 5.75, 5.25];
// Round 2: sum = -3 + 8 - 2i → avg = (5 - 2i)/8.
const W2 = [1.375, 0.625, 1.875, 1.125, 2.375, 1.625, 2.875, 2.125, 3.375, 2.625, 3.875, 3.125];
// Round 3: sum = 0 + (4 | 0) + 1 → avg = 1.25 (even), 0.25 (odd).
const W3 = [2.625, 0.875, 3.125, 1.375, 3.625, 1.875, 4.125, 2.375, 4.625, 2.875, 5.125, 3.375];

describe('rounds end to end', () => {
  it('three clients, three rounds: weighted averages committed, versions 1..3, records, published, stopped', async () => {
    const h = await harness({ config: { totalRounds: 3, minClients: 3, quorum: 2, deadlineMs: 3000 } });
    for (const [id, b] of Object.entries(PLAN)) h.behaviours.set(id, b);
    const snapshots = new Map<number, number[]>();
    h.engine.on('round', (r) => snapshots.set(r.round, [...h.store.latest().weights]));
    const states: string[] = [];
    h.engine.on('state', (s) => states.push(s));
    const t0 = Date.now();
    await h.start();
    // every round closed at its target, long before its 3 s deadline
    expect(Date.now() - t0).toBeLessThan(2500);

    expect(h.engine.state).toBe('stopped');
    expect(snapshots.get(1)).toEqual(W1);
    expect(snapshots.get(2)).toEqual(W2);
    expect(snapshots.get(3)).toEqual(W3);
    expect([...h.store.latest().weights]).toEqual(W3);
    expect(h.store.modelVersion).toBe(3);
    expect(h.store.round).toBe(3);
    expect(h.engine.stats.committed).toBe(3);
    expect(h.engine.stats.accepted).toBe(9);
    expect(h.engine.stats.refused.size).toBe(0);
    for (let v = 0; v <= 3; v++) {
      expect(existsSync(join(h.dir, 'models', modelFileName(v)))).toBe(true);
      expect(existsSync(join(h.dir, 'models', optimizerFileName(v)))).toBe(true);
    }
    expect(states.filter((s) => s === 'committed')).toHaveLength(3);
    expect(states).not.toContain('abandoned');

    const records = h.store.records();
    expect(records.map((r) => [r.round, r.outcome, r.fromVersion, r.modelVersion])).toEqual([
      [1, 'committed', 0, 1],
      [2, 'committed', 1, 2],
      [3, 'committed', 2, 3],
    ]);
    const weightsOf: Record<number, Record<string, [number, number]>> = {
      1: { alice: [1, 100], bob: [2, 5], carol: [1, 60] },
      2: { alice: [3, 7], bob: [1, 900], carol: [4, 4] },
      3: { alice: [1, 50], bob: [1, 2], carol: [2, 9] },
    };
    for (const r of records) {
      expect(r.lineage).toBe(LINEAGE);
      expect(r.strategy).toBe('fedavg');
      expect(r.selected).toEqual(['alice', 'bob', 'carol']);
      expect(r.refusals).toEqual([]);
      expect(r.metrics).toEqual({});
      const parts = [...r.participants].sort((a, b) => a.clientId.localeCompare(b.clientId));
      expect(parts).toEqual(
        ['alice', 'bob', 'carol'].map((id) => ({ clientId: id, weight: weightsOf[r.round][id][0], numExamples: weightsOf[r.round][id][1], loss: 0.5 })),
      );
      expect(r.timings.closedAt).toBeGreaterThanOrEqual(r.timings.startedAt);
      expect(r.timings.closedAt).toBeLessThanOrEqual(r.timings.deadline);
      expect(r.timings.deadline - r.timings.startedAt).toBe(3000);
    }

    // tasks: one per selected client per round, for the version the round trains from; all valid messages
    for (const round of [1, 2, 3]) {
      const tasks = h.transport.of('task').filter((s) => s.msg.round === round);
      expect(tasks.map((s) => s.clientId).sort()).toEqual(['alice', 'bob', 'carol']);
      for (const t of tasks) {
        const task = parseMessage('task', t.msg);
        expect(task).toMatchObject({ round, modelVersion: round - 1, lineage: LINEAGE, codec: 'f32', evaluate: false });
        expect(task.privacy).toEqual({ mode: 'none', clipNorm: null, unit: 'client' });
        expect(task.train).toEqual({ epochs: 1, lr: 0.01, batchSize: 32, proxMu: 0, optimizer: 'adam' });
        expect(task.deadline).toBe(records[round - 1].timings.deadline);
      }
    }
    // every accepted update acked once
    for (const id of ['alice', 'bob', 'carol']) {
      const acks = h.transport.of('updateAck', id).map((s) => parseMessage('updateAck', s.msg));
      expect(acks).toEqual([1, 2, 3].map((round) => ({ round, accepted: true })));
      expect(h.transport.of('updateRejected', id)).toEqual([]);
      // modelPublished to every connected client, once per committed version, in order
      const pubs = h.transport.of('modelPublished', id).map((s) => parseMessage('modelPublished', s.msg));
      expect(pubs).toEqual([1, 2, 3].map((v) => ({ modelVersion: v, round: v, lineage: LINEAGE })));
    }
  });

  it('streams: each update is folded when it arrives and the round closes as soon as the target is accepted', async () => {
    // 4 connected, overSelect 0.25 → ceil(3 · 1.25) = 4 selected, target 3; deadline 5 s.
    const h = await harness({
      clients: ['alice', 'bob', 'carol', 'dave'],
      config: { totalRounds: 1, minClients: 4, clientsPerRound: 3, overSelect: 0.25, quorum: 2, deadlineMs: 5000 },
    });
    const run = h.start();
    const task = (await h.transport.task(1)).msg;
    expect(h.transport.of('task').map((s) => s.clientId).sort()).toEqual(['alice', 'bob', 'carol', 'dave']);
    const c = (id: string) => h.clients.get(id)!;

    h.engine.receiveUpdate('bob', makeUpdate(c('bob'), task, fill(2), { weight: 1 }));
    // folded synchronously, acked at once
    expect(h.strategy.count).toBe(1);
    expect(h.transport.of('updateAck', 'bob')).toHaveLength(1);
    await sleep(50);
    expect(h.engine.state).toBe('training');
    h.engine.receiveUpdate('dave', makeUpdate(c('dave'), task, ramp((i) => i), { weight: 2 }));
    expect(h.strategy.count).toBe(2);
    await sleep(50);
    expect(h.engine.state).toBe('training');
    expect(h.rounds).toHaveLength(0);
    const sentAt = Date.now();
    h.engine.receiveUpdate('alice', makeUpdate(c('alice'), task, fill(-2), { weight: 1 }));
    const rec = await h.round(1, 3000);
    expect(Date.now() - sentAt).toBeLessThan(1000);
    expect(rec.outcome).toBe('committed');
    expect(rec.timings.closedAt).toBeLessThan(rec.timings.deadline - 3000);
    expect(rec.selected).toEqual(['alice', 'bob', 'carol', 'dave']);
    expect(rec.participants.map((p) => p.clientId)).toEqual(['bob', 'dave', 'alice']);
    // sum = 2 + 2i − 2 = 2i, total weight 4 → avg i/2; w1 = i/4 + i/2 = 3i/4
    expect([...h.store.latest().weights]).toEqual(Array.from({ length: 12 }, (_, i) => (3 * i) / 4));
    await run;
    // carol never answered and did not hold the round; her late update is refused
    h.engine.receiveUpdate('carol', makeUpdate(c('carol'), task, fill(1)));
    expect(h.transport.of('updateRejected', 'carol').map((s) => s.msg.code)).toEqual(['round-closed']);
    // published to every connected client, selected or not, answered or not
    for (const id of ['alice', 'bob', 'carol', 'dave']) {
      expect(h.transport.of('modelPublished', id).map((s) => s.msg)).toEqual([{ modelVersion: 1, round: 1, lineage: LINEAGE }]);
    }
  });
});

describe('disconnects and abandonment', () => {
  it('a client that leaves mid-round does not hold it: quorum met by the others → commits once they answered', async () => {
    const h = await harness({ config: { totalRounds: 1, minClients: 3, quorum: 2, deadlineMs: 4000 } });
    h.behaviours.set('alice', () => ({ delta: fill(1), weight: 1, delayMs: 10 }));
    h.behaviours.set('bob', () => ({ delta: fill(3), weight: 1, delayMs: 30 }));
    const off = h.transport.on((s) => {
      if (s.kind === 'task' && s.clientId === 'carol') setTimeout(() => h.engine.leave('carol'), 80);
    });
    const t0 = Date.now();
    await h.start();
    off();
    expect(Date.now() - t0).toBeLessThan(2000);
    const rec = h.store.record(1)!;
    expect(rec.outcome).toBe('committed');
    expect(rec.selected).toEqual(['alice', 'bob', 'carol']);
    expect(rec.participants.map((p) => p.clientId).sort()).toEqual(['alice', 'bob']);
    expect(rec.timings.closedAt).toBeLessThan(rec.timings.deadline - 2000);
    // avg = (1 + 3)/2 = 2; w1 = i/4 + 2
    expect([...h.store.latest().weights]).toEqual(Array.from({ length: 12 }, (_, i) => i / 4 + 2));
    // carol is gone: nothing published to her
    expect(h.transport.of('modelPublished', 'carol')).toEqual([]);
    expect(h.transport.of('modelPublished', 'alice')).toHaveLength(1);
  });

  it('quorum not met: abandoned at the deadline with a reason, version unchanged, and the next round runs', async () => {
    const h = await harness({ config: { totalRounds: 1, minClients: 2, quorum: 2, deadlineMs: 500 } });
    h.behaviours.set('alice', (task) => ({ delta: task.round === 1 ? fill(100) : fill(1), weight: 1 }));
    h.behaviours.set('carol', (task) => (task.round === 1 ? undefined : { delta: fill(3), weight: 1 }));
    const off = h.transport.on((s) => {
      if (s.kind === 'task' && s.clientId === 'bob') setTimeout(() => h.engine.leave('bob'), 20);
    });
    const t0 = Date.now();
    await h.start();
    off();
    const elapsed = Date.now() - t0;
    expect(elapsed).toBeGreaterThanOrEqual(480);
    expect(elapsed).toBeLessThan(2500);

    const [r1, r2] = h.store.records();
    expect(r1.outcome).toBe('abandoned');
    expect(r1.fromVersion).toBe(0);
    expect(r1.modelVersion).toBe(0);
    expect(r1.reason).toMatch(/1 accepted updates?, quorum is 2/);
    expect(r1.participants.map((p) => p.clientId)).toEqual(['alice']);
    // held until the deadline (carol was silent), not longer
    expect(r1.timings.closedAt).toBeGreaterThanOrEqual(r1.timings.deadline - 5);
    expect(r1.timings.closedAt).toBeLessThan(r1.timings.deadline + 1000);
    expect(h.engine.stats.abandoned).toBe(1);
    // no version was published for the abandoned round
    expect(h.transport.of('modelPublished').filter((s) => s.msg.round === 1)).toEqual([]);

    // round 2 trains from version 0 again, with the two still connected; alice's round-1 delta (100) is gone
    expect(r2.round).toBe(2);
    expect(r2.outcome).toBe('committed');
    expect(r2.fromVersion).toBe(0);
    expect(r2.modelVersion).toBe(1);
    expect(r2.selected).toEqual(['alice', 'carol']);
    expect(h.transport.of('task').filter((s) => s.msg.round === 2).map((s) => s.msg.modelVersion)).toEqual([0, 0]);
    expect([...h.store.latest().weights]).toEqual(Array.from({ length: 12 }, (_, i) => i / 4 + 2));
    expect(h.store.modelVersion).toBe(1);
  });

  it('stop() mid-round abandons the round with a reason and commits nothing', async () => {
    const h = await harness({ config: { totalRounds: 5, deadlineMs: 5000 } });
    h.behaviours.set('alice', () => ({ delta: fill(1) }));
    h.behaviours.set('bob', () => ({ delta: fill(1) }));
    const run = h.start();
    await h.transport.task(1);
    await sleep(60);
    h.engine.stop();
    await run;
    expect(h.engine.state).toBe('stopped');
    const r1 = h.store.record(1)!;
    expect(r1.outcome).toBe('abandoned');
    expect(r1.reason).toBe('coordinator stopping');
    expect(h.store.modelVersion).toBe(0);
    expect(h.store.recordCount).toBe(1);
  });
});

describe('start delay', () => {
  it('waits rounds.startDelaySeconds after enough clients connect before the first round only', async () => {
    const h = await harness({ join: false, config: { totalRounds: 2, minClients: 3, quorum: 3, deadlineMs: 3000, startDelayMs: 400 } });
    for (const [id, b] of Object.entries(PLAN)) h.behaviours.set(id, b);
    const run = h.start();
    const joined = Date.now();
    for (const id of ['alice', 'bob', 'carol']) h.engine.join(id);
    await run;
    const firstTask = h.transport.of('task')[0].at;
    expect(firstTask - joined).toBeGreaterThanOrEqual(390);
    // round 2 follows round 1 at once
    const r1 = h.store.record(1)!;
    const second = h.transport.of('task').find((t) => t.msg.round === 2)!.at;
    expect(second - r1.timings.closedAt).toBeLessThan(300);
  });
});

describe('restart', () => {
  it('an update or report signed for an interrupted run of a round is refused by the re-run (new random task id), even with the same round and version', async () => {
    const first = await makeHarness({ config: { totalRounds: 1, deadlineMs: 3000 } });
    const run1 = first.start();
    const t1 = (await first.transport.task(1, 'alice')).msg;
    const alice = first.clients.get('alice')!;
    const early = makeUpdate(alice, t1, fill(1));
    const earlyReport = makeEvalReport(alice, t1, 4, { hr10: 1 });
    first.engine.stop();
    await run1;
    await first.close();
    // the re-run: same lineage, round 1 from version 0, same identities
    const second = await makeHarness({ identities: first.clients, config: { totalRounds: 1, deadlineMs: 3000 } });
    const run2 = second.start();
    const t2 = (await second.transport.task(1, 'alice')).msg;
    expect([t2.round, t2.modelVersion, t2.lineage]).toEqual([t1.round, t1.modelVersion, t1.lineage]);
    expect(t2.taskId).not.toBe(t1.taskId);
    second.engine.receiveUpdate('alice', early);
    const rej = second.transport.of('updateRejected', 'alice')[0].msg;
    expect(rej.code).toBe('stale-round');
    expect(rej.message).toMatch(/another task of round 1/);
    second.engine.receiveEvalReport('alice', earlyReport);
    second.engine.stop();
    await run2;
    expect(second.store.record(1)!.refusals.map((r) => r.code)).toEqual(['stale-round', 'stale-round']);
    await second.close();
  });

  it('a second engine on the reopened store continues from the last committed version', async () => {
    const first = await makeHarness({ config: { totalRounds: 2, deadlineMs: 3000 } });
    for (const [id, b] of Object.entries(PLAN)) first.behaviours.set(id, b);
    await first.start();
    expect([...first.store.latest().weights]).toEqual(W2);
    const dir = first.dir;
    await first.close(false);

    const second = await harness({ dir, identities: first.clients, config: { totalRounds: 3, deadlineMs: 3000 } });
    expect(second.store.recovery.created).toBe(false);
    expect(second.engine.round).toBe(2);
    expect(second.engine.modelVersion).toBe(2);
    expect([...second.store.latest().weights]).toEqual(W2);
    for (const [id, b] of Object.entries(PLAN)) second.behaviours.set(id, b);
    await second.start();
    // only round 3 ran, from version 2, and produced exactly what an uninterrupted run does
    expect(second.transport.of('task').map((s) => [s.msg.round, s.msg.modelVersion])).toEqual([
      [3, 2],
      [3, 2],
      [3, 2],
    ]);
    expect(second.store.records().map((r) => [r.round, r.fromVersion, r.modelVersion])).toEqual([
      [1, 0, 1],
      [2, 1, 2],
      [3, 2, 3],
    ]);
    expect([...second.store.latest().weights]).toEqual(W3);
    expect(second.transport.of('modelPublished', 'alice').map((s) => s.msg)).toEqual([{ modelVersion: 3, round: 3, lineage: LINEAGE }]);
  });

  // The engine does not restore the strategy itself: EngineDeps.strategy must come restored from
  // store.latest().strategyState, as coordinator/coordinator.ts does (and the harness, by default).
  it('restart keeps the server optimizer state (FedAvgM momentum and step)', async () => {
    // FedAvgM β = 0.5, η = 1. One client each round (quorum 1), delta = 1 everywhere, weight 1.
    // Round 1: v = 1, w1 = w0 + 1. Round 2 (after the restart): v = 0.5·1 + 1 = 1.5, w2 = w1 + 1.5 = w0 + 2.5.
    const cfg = { clients: ['alice'], strategy: { name: 'fedavgm' as const, momentum: 0.5 }, config: { totalRounds: 1, minClients: 1, quorum: 1, clientsPerRound: 1, deadlineMs: 3000 } };
    const first = await makeHarness(cfg);
    first.behaviours.set('alice', () => ({ delta: fill(1) }));
    await first.start();
    expect([...first.store.latest().weights]).toEqual(Array.from({ length: 12 }, (_, i) => i / 4 + 1));
    await first.close(false);

    const second = await harness({ ...cfg, dir: first.dir, identities: first.clients, config: { ...cfg.config, totalRounds: 2 } });
    second.behaviours.set('alice', () => ({ delta: fill(1) }));
    await second.start();
    expect([...second.store.latest().weights]).toEqual(Array.from({ length: 12 }, (_, i) => i / 4 + 2.5));
    expect(second.store.latest().strategyState.step).toBe(2);
    expect([...second.store.latest().strategyState.vectors.momentum]).toEqual(new Array(12).fill(1.5));
  });
});
