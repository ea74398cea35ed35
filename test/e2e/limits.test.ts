// What one peer may hold or send on the socket transport: a handshake
// deadline, connection caps (in total and per remote address), and a
// per-connection message rate with a bounded queue. Every refusal says why
// and is counted; none of them can stall a round. Traffic: 127.0.0.1 only,
// a few dozen connections at most.
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { RunningCoordinator } from '../../coordinator/coordinator.ts';
import { initBackend } from '../../recommender/index.ts';
import { getJson, makeConfig, makeIdentity, metricValue, rawHttp, removeTempDirs, sleep, startClient, tempDir, testRun, waitFor } from './helpers.ts';

const { clients, start, peer, stopAll } = testRun();

beforeAll(async () => {
  await initBackend('wasm');
});

afterEach(async () => {
  await stopAll();
});

afterAll(() => removeTempDirs());

const data = 'synthetic:merchants=2,users=100';
const ids = ['m0', 'm1'].map(makeIdentity);
const config = (limits: Record<string, unknown>, rounds: Record<string, number> = {}) => ({
  ...makeConfig({ dataDir: join(tempDir(), 'data'), data, clients: ids, model: { name: 'mf', dim: 4 }, evaluate: false, rounds: { total: 1, minClients: 2, clientsPerRound: 2, quorum: 2, deadlineSeconds: 30, ...rounds } }),
  limits,
});

async function metrics(c: RunningCoordinator): Promise<string> {
  return await (await fetch(`${c.operatorUrl}/metrics`)).text();
}

describe('handshake deadline', () => {
  it('tells a connection that has not authenticated in time why, and closes it (silent, or stuck after hello)', async () => {
    const c = await start(config({ handshakeTimeoutSeconds: 0.5 }));
    const silent = peer(c.url);
    await silent.connect();
    const halfway = peer(c.url);
    await halfway.connect();
    halfway.hello(ids[0]);
    await halfway.next('challenge');
    const t0 = Date.now();
    for (const p of [silent, halfway]) {
      const r = await p.next('refusal', { timeoutMs: 3000 });
      expect(r.code).toBe('handshake-timeout');
      expect(r.message).toMatch(/authenticate within 0\.5 s/);
      await p.next('disconnect', { timeoutMs: 3000 });
    }
    expect(Date.now() - t0).toBeLessThan(2500);
    // an authenticated connection is not affected
    const ok = peer(c.url);
    await ok.connect();
    await ok.authenticate(ids[1]);
    await sleep(800);
    expect(ok.disconnected).toBe(false);
    expect(metricValue(await metrics(c), 'fedrec_auth_refused_total{reason="handshake-timeout"}')).toBe(2);
  });
});

describe('connection caps', () => {
  it('refuses the connection over the per-address cap with a reason, counts it, and takes one again once a slot is free', async () => {
    const c = await start(config({ maxConnectionsPerAddress: 3 }));
    const open = [peer(c.url), peer(c.url), peer(c.url)];
    for (const p of open) await p.connect();
    await expect(peer(c.url).connect()).rejects.toThrow();
    // what a polling client (a browser) gets: a 403 that names the cap
    const { host } = new URL(c.url);
    const polled = await rawHttp(c.url, `GET /socket.io/?EIO=4&transport=polling HTTP/1.1\r\nHost: ${host}\r\nConnection: close\r\n\r\n`);
    expect(polled.text).toMatch(/^HTTP\/1\.1 403 /);
    expect(polled.text).toMatch(/too-many-connections: 3 connections from 127\.0\.0\.1 are open, the limit per address \(limits\.maxConnectionsPerAddress\)/);
    expect(metricValue(await metrics(c), 'fedrec_transport_refused_total{channel="connection",reason="too-many-connections"}')).toBe(2);
    expect((await getJson(`${c.operatorUrl}/api/status`)).body.transport.connections).toMatchObject({ open: 3, addresses: 1 });
    open[0].close();
    await waitFor(async () => (await getJson(`${c.operatorUrl}/api/status`)).body.transport.connections.open === 2, 5000, 'the slot to free');
    const again = peer(c.url);
    await again.connect();
    await again.authenticate(ids[0]);
  });

  it('caps connections in total', async () => {
    const c = await start(config({ maxConnections: 2 }));
    await peer(c.url).connect();
    await peer(c.url).connect();
    const { host } = new URL(c.url);
    const polled = await rawHttp(c.url, `GET /socket.io/?EIO=4&transport=polling HTTP/1.1\r\nHost: ${host}\r\nConnection: close\r\n\r\n`);
    expect(polled.text).toMatch(/too-many-connections: the coordinator has 2 connections open, its limit \(limits\.maxConnections\)/);
  });

  it('50 unauthenticated connections from one address cost nothing past the handshake deadline, and a round still runs', async () => {
    const c = await start(config({ handshakeTimeoutSeconds: 1, maxConnectionsPerAddress: 60 }, { deadlineSeconds: 20 }));
    const idle = Array.from({ length: 50 }, () => peer(c.url));
    await Promise.all(idle.map((p) => p.connect()));
    await waitFor(() => idle.every((p) => p.disconnected), 5000, 'the idle connections to be closed');
    expect((await getJson(`${c.operatorUrl}/api/status`)).body.transport.connections.open).toBe(0);
    clients.push(...ids.map((id, i) => startClient(c.url, id, data, `m${i}`)));
    await waitFor(() => c.engine.state === 'stopped', 30_000, 'the round');
    expect(c.store.record(1)?.outcome).toBe('committed');
  });
});

describe('message rate', () => {
  it('refuses a flood of evaluation reports beyond a few pending, counted, without a backlog, and closes a connection that keeps flooding', async () => {
    const c = await start(config({ messagesPerSecond: 2 }, { minClients: 2, deadlineSeconds: 20 }));
    const flooder = peer(c.url);
    await flooder.connect();
    await flooder.authenticate(ids[0]);
    let maxQueue = 0;
    const sampler = setInterval(() => (maxQueue = Math.max(maxQueue, c.transport.work.length)), 1);
    const report = { round: 0, modelVersion: 0, clientId: ids[0].id, count: 1, sums: {}, signature: 'x' };
    for (let i = 0; i < 60; i++) flooder.emit('evalReport', report);
    const notice = await flooder.next('refusal', { timeoutMs: 5000 });
    expect(notice.code).toBe('rate-limited');
    expect(flooder.disconnected).toBe(false);
    await sleep(300);
    clearInterval(sampler);
    expect(maxQueue).toBeLessThanOrEqual(2);
    const m = await metrics(c);
    // of 60: at most the burst got through the rate, at most the pending cap of those were queued at once
    expect(metricValue(m, 'fedrec_transport_refused_total{channel="message",reason="rate-limited"}')).toBeGreaterThanOrEqual(40);
    // it keeps going: closed once 100 messages were refused
    for (let i = 0; i < 120; i++) flooder.emit('noise', i);
    await flooder.next('disconnect', { timeoutMs: 5000 });
    expect(flooder.events.filter((e) => e.kind === 'refusal').at(-1)!.msg.message).toMatch(/closed after 100 refused messages/);
    // the engine saw none of the noise, and a round runs normally afterwards
    clients.push(...ids.map((id, i) => startClient(c.url, id, data, `m${i}`)));
    await waitFor(() => c.engine.state === 'stopped', 30_000, 'the round');
    expect(c.store.record(1)?.outcome).toBe('committed');
  });
});
