// End-to-end federation over real socket.io on 127.0.0.1: an in-process (or
// CLI-spawned) coordinator, merchant clients training on synthetic data,
// hand-driven hostile peers, a kill -9 and restart, and a lineage mismatch.
import { readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { parseCoordinatorConfig } from '../../coordinator/config.ts';
import { startCoordinator } from '../../coordinator/coordinator.ts';
import { modelFileName, optimizerFileName } from '../../coordinator/store/index.ts';
import type { RoundRecord } from '../../coordinator/types.ts';
import { authMessage, generateIdentity, sign, toBase64 } from '../../protocol/index.ts';
import { initBackend, readCheckpoint } from '../../recommender/index.ts';
import {
  getBytes,
  getJson,
  killChildren,
  makeConfig,
  makeIdentity,
  metricValue,
  removeTempDirs,
  safetensorsHeader,
  sha256,
  sha256File,
  signedUpdate,
  sleep,
  spawnFedrec,
  startClient,
  tempDir,
  testRun,
  waitFor,
  waitForListening,
  type Child,
  type TestIdentity,
} from './helpers.ts';

const { clients, start, peer, stopAll } = testRun();

function readRoundsLog(dataDir: string): RoundRecord[] {
  const text = readFileSync(join(dataDir, 'rounds.jsonl'), 'utf8');
  return text
    .split('\n')
    .filter((l) => l.trim() !== '')
    .map((l) => JSON.parse(l) as RoundRecord);
}

async function freePort(): Promise<number> {
  return await new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

/**
 * Spawns the coordinator CLI with two in-process clients, SIGKILLs it after two committed rounds
 * (between rounds, or while the clients train), restarts it on the same data directory and port,
 * and checks that it resumes from the last committed version and finishes the run.
 */
async function killAndRestart(when: 'between-rounds' | 'mid-training'): Promise<void> {
  const data = 'synthetic:merchants=2,users=400';
  const ids = ['m0', 'm1'].map(makeIdentity);
  const dir = tempDir();
  const dataDir = join(dir, 'data');
  const port = await freePort();
  const total = 5;
  const cfg = {
    ...makeConfig({
      dataDir,
      data,
      clients: ids,
      evaluate: false,
      rounds: { total, clientsPerRound: 2, minClients: 2, quorum: 2, deadlineSeconds: 20, pauseSeconds: 0.5 },
    }),
    port,
    operator: { port: 0 },
  };
  const cfgPath = join(dir, 'fedrec.json');
  writeFileSync(cfgPath, JSON.stringify(cfg, null, 2));

  const spawned: Child[] = [];
  try {
    await killAndRestartIn(when, { dataDir, cfgPath, data, ids, total, port, spawned });
  } finally {
    for (const c of spawned) if (c.proc.exitCode === null && c.proc.signalCode === null) c.proc.kill('SIGKILL');
    await Promise.all(spawned.map((c) => c.exited));
  }
}

async function killAndRestartIn(
  when: 'between-rounds' | 'mid-training',
  o: { dataDir: string; cfgPath: string; data: string; ids: TestIdentity[]; total: number; port: number; spawned: Child[] },
): Promise<void> {
  const { dataDir, cfgPath, data, ids, total, port } = o;
  const first = spawnFedrec(['coordinator', '--config', cfgPath]);
  o.spawned.push(first);
  const url = await waitForListening(first);
  expect(url).toBe(`http://127.0.0.1:${port}`);
  const cl = ids.map((id, i) => startClient(url, id, data, `m${i}`));
  clients.push(...cl);
  if (when === 'between-rounds') {
    // idle clients: the last round committed and the next has not started (pause)
    await waitFor(
      async () => {
        const s = (await getJson<{ modelVersion: number; state: string }>(`${url}/api/status`)).body;
        return s.modelVersion >= 2 && s.state === 'committed';
      },
      40_000,
      'two committed rounds',
      first.stderr,
    );
    first.proc.kill('SIGKILL');
  } else {
    // the moment a client has downloaded version >= 2 for its task, the coordinator dies: the
    // client then trains with its socket down and sends its update into socket.io's buffer
    const realFetch = globalThis.fetch;
    const killed = new Promise<void>((resolve) => {
      globalThis.fetch = async (input: string | URL | Request, init?: RequestInit): Promise<Response> => {
        const res = await realFetch(input, init);
        const m = /\/api\/models\/(\d+)$/.exec(String(input instanceof Request ? input.url : input));
        if (!m || Number(m[1]) < 2 || !res.ok) return res;
        const body = await res.arrayBuffer();
        first.proc.kill('SIGKILL');
        globalThis.fetch = realFetch;
        resolve();
        return new Response(body, { status: res.status, headers: res.headers });
      };
    });
    try {
      await Promise.race([killed, sleep(40_000).then(() => Promise.reject(new Error(`no task from version 2 within 40 s\n${first.stderr()}`)))]);
    } finally {
      globalThis.fetch = realFetch;
    }
  }
  expect(await first.exited).toBe('SIGKILL');

  const before = readRoundsLog(dataDir);
  const committed = before.filter((r) => r.outcome === 'committed');
  const n = committed[committed.length - 1].modelVersion;
  const lastRound = before[before.length - 1].round;
  expect(n).toBeGreaterThanOrEqual(2);
  expect(n).toBeLessThan(total);
  const modelPath = join(dataDir, 'models', modelFileName(n));
  const optimizerPath = join(dataDir, 'models', optimizerFileName(n));
  const modelSha = sha256File(modelPath);
  const optimizerSha = sha256File(optimizerPath);

  const second = spawnFedrec(['coordinator', '--config', cfgPath]);
  o.spawned.push(second);
  expect(await waitForListening(second)).toBe(url);
  expect(second.stderr()).toMatch(new RegExp(`resumed .* at model version ${n} after round ${lastRound}`));
  const status = await getJson<{ modelVersion: number; round: number }>(`${url}/api/status`);
  expect(status.status).toBe(200);
  expect(status.body.modelVersion).toBeGreaterThanOrEqual(n);
  expect(status.body.round).toBeGreaterThanOrEqual(lastRound);
  expect(sha256File(modelPath)).toBe(modelSha);
  expect(sha256File(optimizerPath)).toBe(optimizerSha);
  const served = await getBytes(`${url}/api/models/${n}`);
  expect(served.status).toBe(200);
  expect(sha256(served.bytes)).toBe(modelSha);

  // the clients reconnect on their own and the run finishes
  // (a refused client never comes back: stop waiting as soon as one is refused)
  await waitFor(() => new RegExp(`finished: model version ${total}`).test(second.stderr()) || cl.some((x) => x.refusals.length > 0), 45_000, 'the resumed run to finish', () =>
    [second.stderr(), ...cl.map((x) => x.logs.join('\n'))].join('\n---\n'),
  );
  expect(cl.map((x) => x.refusals), cl.map((x) => x.logs.join('\n')).join('\n---\n')).toEqual([[], []]);
  if (second.proc.exitCode === null) second.proc.kill('SIGTERM'); // it serves the final model until stopped
  expect(await second.exited, second.stderr()).toBe(0);
  const after = readRoundsLog(dataDir);
  expect(after.map((r) => r.round)).toEqual(after.map((_, i) => i + 1));
  expect(after.slice(0, before.length)).toEqual(before);
  const versions = after.filter((r) => r.outcome === 'committed').map((r) => r.modelVersion);
  expect(versions).toEqual(Array.from({ length: total }, (_, i) => i + 1));
  const resumed = after.slice(before.length);
  expect(resumed.length).toBeGreaterThan(0);
  expect(resumed[0].round).toBe(lastRound + 1);
  expect(resumed[0].fromVersion).toBe(n);
  for (const r of resumed.filter((x) => x.outcome === 'committed')) expect(r.participants.map((x) => x.clientId).sort()).toEqual(['m0', 'm1']);
  expect(sha256File(modelPath)).toBe(modelSha);
  await stopAll();
}

beforeAll(async () => {
  await initBackend('wasm');
});

afterEach(async () => {
  await stopAll();
});

afterAll(async () => {
  await stopAll();
  await killChildren();
  removeTempDirs();
});

describe('federation over real sockets', () => {
  it('three merchants train three committed rounds, the model improves, and the HTTP API answers', async () => {
    const data = 'synthetic:merchants=3,users=600';
    const ids = ['m0', 'm1', 'm2'].map(makeIdentity);
    const dataDir = join(tempDir(), 'data');
    const c = await start(makeConfig({ dataDir, data, clients: ids, rounds: { total: 3, clientsPerRound: 3, minClients: 3, quorum: 2, deadlineSeconds: 60 } }));
    const cl = ids.map((id, i) => startClient(c.url, id, data, `m${i}`));
    clients.push(...cl);
    await waitFor(() => c.engine.state === 'stopped', 60_000, 'three rounds', () => cl.map((x) => x.logs.join('\n')).join('\n---\n'));

    const records = c.store.records();
    expect(records.map((r) => [r.round, r.outcome, r.fromVersion, r.modelVersion])).toEqual([
      [1, 'committed', 0, 1],
      [2, 'committed', 1, 2],
      [3, 'committed', 2, 3],
    ]);
    for (const r of records) {
      expect(r.participants.map((p) => p.clientId).sort()).toEqual(['m0', 'm1', 'm2']);
      expect(r.refusals).toEqual([]);
      expect(r.metrics.evaluatedVersion).toBe(r.fromVersion);
      expect(r.metrics.evalClients).toBe(3);
    }
    const ndcg1 = records[0].metrics['ndcg@10'];
    const ndcg3 = records[2].metrics['ndcg@10'];
    expect(ndcg1).toBeGreaterThanOrEqual(0);
    // version 2 (two federated rounds) clearly beats the random init
    expect(ndcg3).toBeGreaterThan(ndcg1 * 2);
    expect(ndcg3).toBeGreaterThan(0.02);
    for (const x of cl) {
      expect(x.client.status.accepted).toBe(3);
      expect(x.client.status.rejected).toBe(0);
      expect(x.reports.map((r) => r.round)).toEqual([1, 2, 3]);
    }

    const base = c.url;
    const status = await getJson(`${base}/api/status`);
    expect(status.status).toBe(200);
    expect(status.body).toMatchObject({ round: 3, modelVersion: 3, clients: 3, lineage: c.store.lineage });

    const rounds = await getJson<RoundRecord[]>(`${base}/api/rounds`);
    expect(rounds.status).toBe(200);
    expect(rounds.body.map((r) => r.round)).toEqual([1, 2, 3]);
    expect(rounds.body[2].metrics['ndcg@10']).toBeCloseTo(ndcg3, 12);
    const r1 = await getJson<RoundRecord>(`${base}/api/rounds/1`);
    expect(r1.status).toBe(200);
    expect(r1.body).toMatchObject({ round: 1, outcome: 'committed', modelVersion: 1, fromVersion: 0 });
    const page = await getJson<RoundRecord[]>(`${base}/api/rounds?from=2&limit=1`);
    expect(page.body.map((r) => r.round)).toEqual([2]);
    const badPage = await getJson(`${base}/api/rounds?from=0`);
    expect(badPage.status).toBe(400);
    expect(badPage.body).toHaveProperty('error');
    const r9 = await getJson(`${base}/api/rounds/9`);
    expect(r9.status).toBe(404);
    expect(r9.body).toHaveProperty('error');

    const latest = await getBytes(`${base}/api/models/latest`);
    expect(latest.status).toBe(200);
    expect(latest.headers.get('x-fedrec-model-version')).toBe('3');
    expect(safetensorsHeader(latest.bytes)).toHaveProperty('item_emb');
    expect(sha256(latest.bytes)).toBe(sha256File(join(dataDir, 'models', modelFileName(3))));

    const v1 = await getBytes(`${base}/api/models/1`);
    expect(v1.status).toBe(200);
    expect(v1.headers.get('x-fedrec-model-version')).toBe('1');
    expect(v1.headers.get('cache-control')).toMatch(/immutable/);
    const etag = v1.headers.get('etag');
    expect(etag).toBeTruthy();
    expect(sha256(v1.bytes)).toBe(sha256File(join(dataDir, 'models', modelFileName(1))));
    expect(safetensorsHeader(v1.bytes)).toHaveProperty('item_emb');
    const notModified = await getBytes(`${base}/api/models/1`, { 'if-none-match': etag! });
    expect(notModified.status).toBe(304);
    expect(notModified.bytes.length).toBe(0);
    const v1Weights = readCheckpoint(v1.bytes).weights;
    const v3Weights = readCheckpoint(latest.bytes).weights;
    expect(v1Weights.length).toBe(c.store.spec.size);
    expect(v1Weights.some((w, i) => w !== v3Weights[i])).toBe(true);
    const v99 = await getJson(`${base}/api/models/99`);
    expect(v99.status).toBe(404);
    expect(v99.body).toHaveProperty('error');

    const catalog = await getJson<{ lineage: string; items: Array<{ id: string }> }>(`${base}/api/catalog`);
    expect(catalog.status).toBe(200);
    expect(catalog.body.lineage).toBe(c.store.lineage);
    expect(catalog.body.items.map((i) => i.id)).toEqual([...c.store.itemIds]);

    const health = await getJson(`${base}/healthz`);
    expect(health.status).toBe(200);
    expect(health.body).toEqual({ ok: true });

    // /metrics is the operator's (it leaks round timings): not on the public port
    const publicMetrics = await getJson(`${base}/metrics`);
    expect(publicMetrics.status).toBe(404);
    const metricsRes = await fetch(`${c.operatorUrl}/metrics`);
    expect(metricsRes.status).toBe(200);
    expect(metricsRes.headers.get('content-type')).toMatch(/text\/plain/);
    const metrics = await metricsRes.text();
    expect(metricValue(metrics, 'fedrec_updates_accepted_total')).toBe(9);
    expect(metricValue(metrics, 'fedrec_rounds_total{outcome="committed"}')).toBe(3);
    expect(metricValue(metrics, 'fedrec_rounds_total{outcome="abandoned"}')).toBe(0);
    expect(metricValue(metrics, 'fedrec_model_version')).toBe(3);
    // without DP there is no ε to report (0 would claim perfect privacy)
    expect(metricValue(metrics, 'fedrec_privacy_epsilon')).toBeUndefined();
    const privacy = await getJson(`${base}/api/privacy`);
    expect(privacy.body).toMatchObject({ mode: 'none', epsilon: null, rounds: 0 });
    // and the round records are not redacted
    expect(rounds.body[0].participants).toHaveLength(3);

    const unknown = await getJson(`${base}/api/nope`);
    expect(unknown.status).toBe(404);
    expect(unknown.headers.get('content-type')).toMatch(/application\/json/);
    expect(unknown.body).toHaveProperty('error');
    await stopAll();
  }, 90_000);

  it('a client that disconnects mid-round does not hold the round; a silent one holds it only until the deadline', async () => {
    const data = 'synthetic:merchants=2,users=200';
    const [a, b, dropper] = ['m0', 'm1', 'm2'].map(makeIdentity);
    const dataDir = join(tempDir(), 'data');
    const deadlineSeconds = 5;
    const c = await start(
      makeConfig({ dataDir, data, clients: [a, b, dropper], evaluate: false, rounds: { total: 2, clientsPerRound: 3, minClients: 3, quorum: 2, deadlineSeconds } }),
    );
    clients.push(startClient(c.url, a, data, 'm0'), startClient(c.url, b, data, 'm1'));
    // The third participant: a hand-driven socket that leaves as soon as it has its task.
    const p = peer(c.url);
    await p.connect();
    await p.authenticate(dropper);
    const task = await p.next('task', { timeoutMs: 20_000 });
    expect(task.round).toBe(1);
    p.close();

    const first = await waitFor(() => c.store.record(1), 20_000, 'round 1 to close');
    expect(first.outcome).toBe('committed');
    expect(first.selected).toEqual(['m0', 'm1', 'm2']);
    expect(first.participants.map((x) => x.clientId).sort()).toEqual(['m0', 'm1']);
    const t1 = first.timings as { startedAt: number; deadline: number; closedAt: number };
    // closed as soon as the two that stayed had answered, not at the deadline
    expect(t1.closedAt).toBeLessThan(t1.deadline - 200);
    expect(c.engine.stats.lastCommitMs).toBeLessThan(1000);

    // Round 2 needs three connected: the dropper comes back and then stays silent.
    const p2 = peer(c.url);
    await p2.connect();
    await p2.authenticate(dropper);
    const task2 = await p2.next('task', { timeoutMs: 20_000 });
    expect(task2.round).toBe(2);
    const second = await waitFor(() => c.store.record(2), 20_000, 'round 2 to close');
    expect(second.outcome).toBe('committed');
    expect(second.participants.map((x) => x.clientId).sort()).toEqual(['m0', 'm1']);
    const t2 = second.timings as { startedAt: number; deadline: number; closedAt: number };
    expect(t2.closedAt).toBeGreaterThanOrEqual(t2.deadline);
    expect(t2.closedAt - t2.deadline).toBeLessThan(1500);
    await waitFor(() => c.engine.state === 'stopped', 10_000, 'the run to finish');
    expect(c.engine.modelVersion).toBe(2);
    await stopAll();
  }, 60_000);

  it('refuses hostile peers with the right reason, counts them, and keeps serving', async () => {
    const data = 'synthetic:users=60,items=100';
    const [h, h2, h3] = ['h0', 'h1', 'h2'].map(makeIdentity);
    const other = generateIdentity();
    const dataDir = join(tempDir(), 'data');
    const c = await start(
      makeConfig({ dataDir, data, clients: [h, h2, h3], model: { name: 'mf', dim: 4 }, evaluate: false, rounds: { total: 1, clientsPerRound: 3, minClients: 3, quorum: 2, deadlineSeconds: 30 } }),
    );
    const size = c.store.spec.size;
    const url = c.url;

    // unknown client id
    const p1 = peer(url);
    await p1.connect();
    p1.hello({ id: 'stranger', publicKey: other.publicKey });
    const unknownId = await p1.next('refusal');
    expect(unknownId.code).toBe('unknown-identity');
    await p1.next('disconnect');

    // registered id, wrong key: refused exactly as an unknown id, so the ids registered cannot be enumerated
    const p2 = peer(url);
    await p2.connect();
    p2.hello({ id: h.id, publicKey: other.publicKey });
    expect(await p2.next('refusal')).toEqual(unknownId);
    await p2.next('disconnect');

    // right key presented, challenge signed with another key
    const p3 = peer(url);
    await p3.connect();
    p3.hello(h);
    const ch = await p3.next('challenge');
    p3.emit('auth', { clientId: h.id, signature: toBase64(sign(authMessage(ch.nonce, h.id), other.secretKey)) });
    expect((await p3.next('refusal')).code).toBe('auth-failed');
    await p3.next('disconnect');

    // an update before authenticating
    const p4 = peer(url);
    await p4.connect();
    p4.emit('update', signedUpdate(h, { round: 1, modelVersion: 0, taskId: 'AAAAAAAAAAAAAAAAAAAAAA==', lineage: c.engine.lineage }, new Float32Array(size)));
    expect((await p4.next('refusal')).code).toBe('not-authenticated');
    await p4.next('disconnect');
    expect(c.engine.clients).toBe(0);
    expect(c.engine.state).toBe('waiting');

    // three authenticated hand-driven clients start round 1
    const [ph, ph2, ph3] = [peer(url), peer(url), peer(url)];
    for (const [p, who] of [[ph, h], [ph2, h2], [ph3, h3]] as const) {
      await p.connect();
      await p.authenticate(who);
    }
    const [task, task2, task3] = await Promise.all([ph, ph2, ph3].map((p) => p.next('task')));
    expect(task).toMatchObject({ round: 1, modelVersion: 0, codec: 'f32' });
    expect(task.upload.token).toMatch(/^[A-Za-z0-9+/]{43}=$/);
    expect(new Set([task, task2, task3].map((t) => t.upload.token)).size).toBe(3);

    // each upload token allows three attempts: each client spends its three on the engine's checks
    const zeros = new Float32Array(size);
    // forged: signed by a key that is not h's
    expect(await ph.submit(url, task, signedUpdate({ ...h, ...other }, task, zeros))).toBe('bad-signature');
    // payload swapped after signing
    const tampered = signedUpdate(h, task, zeros);
    tampered.payload = signedUpdate(h, task, Float32Array.from(zeros, () => 1)).payload;
    expect(await ph.submit(url, task, tampered)).toBe('bad-signature');
    expect(await ph.submit(url, task, signedUpdate(h, task, zeros))).toBe('ACCEPTED');
    // a fourth attempt is refused over HTTP, before the body is read
    expect(await ph.submit(url, task, signedUpdate(h, task, zeros))).toBe('http 403 rate-limited');
    // an envelope whose header lacks the update's fields reaches the engine and is refused there
    expect(await ph3.submit(url, task3, { round: 1, payload: new Uint8Array(8) })).toBe('schema');
    expect(await ph3.submit(url, task3, signedUpdate(h3, task3, zeros))).toBe('ACCEPTED');
    expect(await ph3.submit(url, task3, signedUpdate(h3, task3, zeros))).toBe('replay');
    expect(await ph2.submit(url, task2, signedUpdate(h2, task2, new Float32Array(size - 1)))).toBe('shape');
    const nan = new Float32Array(size);
    nan[size >> 1] = Number.NaN;
    expect(await ph2.submit(url, task2, signedUpdate(h2, task2, nan))).toBe('non-finite');
    // an update over socket.io is refused with where to send it instead
    ph2.emit('update', signedUpdate(h2, task2, zeros));
    const wrong = await ph2.next('updateRejected', { pred: (m) => m.code === 'wrong-channel' });
    expect(wrong).toMatchObject({ round: 1, code: 'wrong-channel' });
    expect(wrong.message).toMatch(/POST .*\/api\/updates/);
    expect([ph, ph2, ph3].some((p) => p.disconnected)).toBe(false);
    // the last valid update completes the round
    expect(await ph2.submit(url, task2, signedUpdate(h2, task2, zeros))).toBe('ACCEPTED');
    const rec = await waitFor(() => c.store.record(1), 10_000, 'round 1 to close');
    expect(rec.outcome).toBe('committed');
    expect(rec.participants.map((x) => x.clientId).sort()).toEqual(['h0', 'h1', 'h2']);
    expect(rec.refusals.map((x) => x.code)).toEqual(['bad-signature', 'bad-signature', 'schema', 'replay', 'shape', 'non-finite']);
    // its tokens died with it
    await waitFor(() => c.engine.state === 'stopped', 10_000, 'the run to end');
    expect(await ph2.submit(url, task2, signedUpdate(h2, task2, zeros))).toBe('http 403 round-closed');
    // nothing hostile reached the model: zero deltas leave version 1 equal to version 0
    const v0 = readCheckpoint((await getBytes(`${url}/api/models/0`)).bytes).weights;
    const v1 = readCheckpoint((await getBytes(`${url}/api/models/1`)).bytes).weights;
    expect(v1.every((w) => Number.isFinite(w))).toBe(true);
    expect(Array.from(v1)).toEqual(Array.from(v0));

    const metrics = await (await fetch(`${c.operatorUrl}/metrics`)).text();
    const refused = (reason: string) => metricValue(metrics, `fedrec_updates_refused_total{reason="${reason}"}`);
    const authRefused = (reason: string) => metricValue(metrics, `fedrec_auth_refused_total{reason="${reason}"}`);
    expect(refused('bad-signature')).toBe(2);
    expect(refused('shape')).toBe(1);
    expect(refused('non-finite')).toBe(1);
    expect(refused('schema')).toBe(1);
    expect(refused('replay')).toBe(1);
    expect(authRefused('unknown-identity')).toBe(2);
    expect(authRefused('auth-failed')).toBe(1);
    expect(authRefused('not-authenticated')).toBe(1);
    expect(metricValue(metrics, 'fedrec_transport_refused_total{channel="upload",reason="rate-limited"}')).toBe(1);
    expect(metricValue(metrics, 'fedrec_transport_refused_total{channel="upload",reason="round-closed"}')).toBe(1);
    expect(metricValue(metrics, 'fedrec_transport_refused_total{channel="message",reason="wrong-channel"}')).toBe(1);
    expect(metricValue(metrics, 'fedrec_updates_accepted_total')).toBe(3);
    expect(metricValue(metrics, 'fedrec_rounds_total{outcome="committed"}')).toBe(1);

    const status = await getJson(`${url}/api/status`);
    expect(status.status).toBe(200);
    expect(status.body).toMatchObject({ modelVersion: 1 });
    expect((await getJson(`${url}/healthz`)).status).toBe(200);
    await stopAll();
  }, 60_000);

  it('survives kill -9 between rounds: the restarted coordinator resumes at the last committed version with identical files, and the clients rejoin', async () => {
    await killAndRestart('between-rounds');
  }, 120_000);

  // An update finished while the coordinator is down must not be flushed before hello on reconnect.
  it('survives kill -9 while the clients are training (their updates are lost, not their sessions)', async () => {
    await killAndRestart('mid-training');
  }, 120_000);

  it('refuses to start on a data directory of another catalog, saying why', async () => {
    const ids = ['m0', 'm1'].map(makeIdentity);
    const dir = tempDir();
    const dataDir = join(dir, 'data');
    const small = 'synthetic:merchants=2,users=60,items=200';
    const c = await start(makeConfig({ dataDir, data: small, clients: ids }));
    const lineage = c.store.lineage;
    await stopAll();

    const changed = makeConfig({ dataDir, data: 'synthetic:merchants=2,users=60,items=150', clients: ids });
    await expect(startCoordinator(parseCoordinatorConfig(changed))).rejects.toThrow(/lineage.*catalog 200 items.*vs 150 items/s);

    // and from the CLI: a clear message on stderr, a non-zero exit, the store untouched
    const cfgPath = join(dir, 'changed.json');
    writeFileSync(cfgPath, JSON.stringify(changed));
    const cli = spawnFedrec(['coordinator', '--config', cfgPath]);
    const code = await cli.exited;
    expect(code).not.toBe(0);
    expect(cli.stderr()).toMatch(/lineage/);
    expect(cli.stderr()).toMatch(/catalog 200 items .* vs 150 items/);
    expect(cli.stderr()).not.toMatch(/listening on/);
    const again = await start(makeConfig({ dataDir, data: small, clients: ids }));
    expect(again.store.lineage).toBe(lineage);
    expect(again.store.recovery.created).toBe(false);
    await stopAll();
  }, 60_000);
});
