// coordinator/engine: federated evaluation. Selected clients' signed
// evalReports on the round's fromVersion are merged (sums / total count) into
// the round record's metrics; bad reports are refused and not counted.
import { afterEach, describe, expect, it } from 'vitest';
import { parseMessage } from '../../protocol/index.ts';
import { fill, makeClient, makeEvalReport, makeHarness, makeUpdate, type Harness } from './engineHarness.ts';

const open: Harness[] = [];
afterEach(async () => {
  for (const h of open.splice(0)) await h.close();
});

describe('federated evaluation', () => {
  it('merges valid reports into the record, refuses forged, inconsistent, unselected, replayed and stale ones', async () => {
    const h = await makeHarness({ extraRegistered: ['outsider'], config: { totalRounds: 2, evaluate: true, deadlineMs: 3000 } });
    open.push(h);
    const [A, B, C, O] = ['alice', 'bob', 'carol', 'outsider'].map((id) => h.clients.get(id)!);
    const run = h.start();
    const t1 = (await h.transport.task(1)).msg;
    expect(parseMessage('task', t1).evaluate).toBe(true);
    const sentBefore = h.transport.sent.length;

    h.engine.receiveEvalReport('alice', makeEvalReport(A, t1, 10, { hr10: 4, ndcg10: 2.5 }));
    h.engine.receiveEvalReport('bob', makeEvalReport(B, t1, 30, { hr10: 6, ndcg10: 3.5 }));
    // refused, each for its reason:
    h.engine.receiveEvalReport('carol', makeEvalReport(C, t1, 100, { hr10: 100, ndcg10: 100 }, { secretKey: A.secretKey })); // bad-signature
    h.engine.receiveEvalReport('carol', { ...makeEvalReport(C, t1, 5, { hr10: 1, ndcg10: 1 }), count: 500 }); // bad-signature (count changed after signing)
    h.engine.receiveEvalReport('carol', makeEvalReport(C, t1, 5, { hr10: 6, ndcg10: 1 })); // schema: sum > count
    h.engine.receiveEvalReport('carol', makeEvalReport(C, t1, 5, { hr10: -1, ndcg10: 1 })); // schema: sum < 0
    h.engine.receiveEvalReport('outsider', makeEvalReport(O, t1, 50, { hr10: 50, ndcg10: 50 })); // not-selected
    h.engine.receiveEvalReport('alice', makeEvalReport(A, t1, 10, { hr10: 10, ndcg10: 10 })); // replay
    h.engine.receiveEvalReport('bob', makeEvalReport(B, { ...t1, round: 1, modelVersion: 1 }, 10, { hr10: 10, ndcg10: 10 })); // stale-model
    h.engine.receiveEvalReport('bob', makeEvalReport(A, t1, 10, { hr10: 10, ndcg10: 10 })); // auth-failed: names alice
    const mallory = makeClient('mallory');
    h.engine.receiveEvalReport('mallory', makeEvalReport(mallory, t1, 10, { hr10: 10, ndcg10: 10 })); // unknown-identity
    h.engine.receiveEvalReport('carol', null); // schema
    h.engine.receiveEvalReport('carol', { ...makeEvalReport(C, t1, 5, { hr10: 1 }), sums: { 'bad name': 1 } }); // schema
    // carol's valid report still counts after her refused ones
    h.engine.receiveEvalReport('carol', makeEvalReport(C, t1, 20, { hr10: 2, ndcg10: 2 }));
    // evaluation reports get no reply
    expect(h.transport.sent.length).toBe(sentBefore);

    for (const c of [A, B, C]) h.engine.receiveUpdate(c.id, makeUpdate(c, t1, fill(1)));
    const r1 = await h.round(1);
    expect(r1.outcome).toBe('committed');
    // hr10 = (4 + 6 + 2) / 60 = 0.2; ndcg10 = (2.5 + 3.5 + 2) / 60 = 2/15
    expect(Object.keys(r1.metrics).sort()).toEqual(['evalClients', 'evalUsers', 'evaluatedVersion', 'hr10', 'ndcg10']);
    expect(r1.metrics.evaluatedVersion).toBe(0);
    expect(r1.metrics.evalUsers).toBe(60);
    expect(r1.metrics.evalClients).toBe(3);
    expect(r1.metrics.hr10).toBe(0.2);
    expect(r1.metrics.ndcg10).toBeCloseTo(2 / 15, 14);
    const evalRefusals = r1.refusals.map((r) => [r.clientId, r.code]);
    expect(evalRefusals).toEqual([
      ['carol', 'bad-signature'],
      ['carol', 'bad-signature'],
      ['carol', 'schema'],
      ['carol', 'schema'],
      ['outsider', 'not-selected'],
      ['alice', 'replay'],
      ['bob', 'stale-model'],
      ['bob', 'auth-failed'],
      ['mallory', 'unknown-identity'],
      ['carol', 'schema'],
      ['carol', 'schema'],
    ]);
    for (const r of r1.refusals) expect(r.message).toMatch(/^evaluation: /);
    expect(Object.fromEntries(h.engine.stats.refused)).toEqual({
      'bad-signature': 2,
      schema: 4,
      'not-selected': 1,
      replay: 1,
      'stale-model': 1,
      'auth-failed': 1,
      'unknown-identity': 1,
    });

    // round 2 evaluates version 1; a late round-1 report is stale
    const t2 = (await h.transport.task(2)).msg;
    expect(t2.modelVersion).toBe(1);
    h.engine.receiveEvalReport('alice', makeEvalReport(A, t1, 10, { hr10: 4, ndcg10: 2.5 })); // stale-round
    h.engine.receiveEvalReport('carol', makeEvalReport(C, t2, 4, { hr10: 1, mrr: 0.5 }));
    for (const c of [A, B, C]) h.engine.receiveUpdate(c.id, makeUpdate(c, t2, fill(1)));
    await run;
    const r2 = h.store.record(2)!;
    expect(r2.metrics).toEqual({ evaluatedVersion: 1, evalUsers: 4, evalClients: 1, hr10: 0.25, mrr: 0.125 });
    expect(r2.refusals.map((r) => [r.clientId, r.code])).toEqual([['alice', 'stale-round']]);
  });

  it('a report cannot overwrite the bookkeeping keys of the record metrics', async () => {
    const h = await makeHarness({ config: { totalRounds: 1, evaluate: true, deadlineMs: 3000 } });
    open.push(h);
    const [A, B, C] = ['alice', 'bob', 'carol'].map((id) => h.clients.get(id)!);
    const run = h.start();
    const t1 = (await h.transport.task(1)).msg;
    h.engine.receiveEvalReport('alice', makeEvalReport(A, t1, 10, { hr10: 5 }));
    h.engine.receiveEvalReport('bob', makeEvalReport(B, t1, 10, { hr10: 5, evalUsers: 1, evaluatedVersion: 7 }));
    for (const c of [A, B, C]) h.engine.receiveUpdate(c.id, makeUpdate(c, t1, fill(1)));
    await run;
    const m = h.store.record(1)!.metrics;
    expect(m.evalUsers).toBe(20);
    expect(m.evaluatedVersion).toBe(0);
    expect(m.evalClients).toBe(2);
  });

  it('a metric only some clients report is averaged over the cases it was measured on', async () => {
    const h = await makeHarness({ config: { totalRounds: 1, evaluate: true, deadlineMs: 3000 } });
    open.push(h);
    const [A, B, C] = ['alice', 'bob', 'carol'].map((id) => h.clients.get(id)!);
    const run = h.start();
    const t1 = (await h.transport.task(1)).msg;
    h.engine.receiveEvalReport('alice', makeEvalReport(A, t1, 10, { hr10: 5, ndcg10: 1 }));
    h.engine.receiveEvalReport('bob', makeEvalReport(B, t1, 30, { ndcg10: 3 }));
    for (const c of [A, B, C]) h.engine.receiveUpdate(c.id, makeUpdate(c, t1, fill(1)));
    await run;
    const m = h.store.record(1)!.metrics;
    expect(m.ndcg10).toBe(0.1); // (1 + 3) / 40
    expect(m.hr10).toBe(0.5); // 5 / 10
  });

  it('no reports: the record has no metrics', async () => {
    const h = await makeHarness({ config: { totalRounds: 1, evaluate: true, deadlineMs: 3000 } });
    open.push(h);
    for (const id of ['alice', 'bob', 'carol']) h.behaviours.set(id, () => ({ delta: fill(1) }));
    await h.start();
    expect(h.store.record(1)!.metrics).toEqual({});
  });
});

describe('server-side evaluation', () => {
  it("records the coordinator's evaluation of each round's starting model under server_ keys", async () => {
    const seen: Array<[number, number]> = [];
    const h = await makeHarness({
      clients: ['alice'],
      config: { totalRounds: 2, minClients: 1, clientsPerRound: 1, quorum: 1, deadlineMs: 2000 },
      // a stand-in metric: the first weight of the version it was given
      serverEval: async (w: Float32Array, version: number) => {
        seen.push([version, w[0]]);
        return { first: w[0] };
      },
    });
    open.push(h);
    h.behaviours.set('alice', () => ({ delta: fill(1), weight: 1 }));
    await h.start();
    expect(seen.map(([v]) => v)).toEqual([0, 1]);
    // version 0's first weight is the harness's initial value; version 1 adds the delta 1
    const w0 = seen[0][1];
    expect(h.store.record(1)!.metrics.server_first).toBe(w0);
    expect(h.store.record(2)!.metrics.server_first).toBe(w0 + 1);
  });
});
