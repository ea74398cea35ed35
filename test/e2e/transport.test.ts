// The coordinator's transports under unauthenticated, browser-like and hostile
// traffic on 127.0.0.1: the HTTP API and socket.io share one server, and no
// single request or connection can crash the coordinator or stall its rounds.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { parseCoordinatorConfig } from '../../coordinator/config.ts';
import { startCoordinator, type RunningCoordinator } from '../../coordinator/coordinator.ts';
import { authMessage, sign, toBase64 } from '../../protocol/index.ts';
import { initBackend, readCheckpoint } from '../../recommender/index.ts';
import {
  RawPeer,
  getBytes,
  getJson,
  killChildren,
  makeConfig,
  makeIdentity,
  rawHttp,
  removeTempDirs,
  signedUpdate,
  spawnFedrec,
  startClient,
  tempDir,
  waitFor,
  waitForListening,
  type InProcessClient,
} from './helpers.ts';

const coordinators: RunningCoordinator[] = [];
const clients: InProcessClient[] = [];
const peers: RawPeer[] = [];

async function start(cfg: Record<string, unknown>): Promise<RunningCoordinator> {
  const c = await startCoordinator(parseCoordinatorConfig(cfg));
  coordinators.push(c);
  return c;
}

function peer(url: string, transports: 'websocket' | 'default' = 'websocket'): RawPeer {
  const p = new RawPeer(url, { transports });
  peers.push(p);
  return p;
}

async function stopAll(): Promise<void> {
  for (const p of peers.splice(0)) p.close();
  await Promise.all(clients.splice(0).map((c) => c.stop().catch(() => {})));
  await Promise.all(coordinators.splice(0).map((c) => c.close().catch(() => {})));
}

beforeAll(async () => {
  await initBackend('wasm');
});

afterEach(async () => {
  await stopAll();
  await killChildren();
});

afterAll(() => removeTempDirs());

describe('one server for the HTTP API and socket.io', () => {
  it("survives the raw first request of every default socket.io client, answers it as engine.io's handshake, and a long-polling client takes part in a round", async () => {
    const data = 'synthetic:merchants=2,users=100';
    const [poller, merchant] = ['p0', 'm1'].map(makeIdentity);
    const dir = tempDir();
    const cfgPath = join(dir, 'fedrec.json');
    const cfg = makeConfig({ dataDir: join(dir, 'data'), data, clients: [poller, merchant], evaluate: false, rounds: { total: 1, clientsPerRound: 2, minClients: 2, quorum: 2, deadlineSeconds: 30 } });
    writeFileSync(cfgPath, JSON.stringify(cfg));
    const coordinator = spawnFedrec(['coordinator', '--config', cfgPath]);
    const url = await waitForListening(coordinator);

    // exactly what a browser's socket.io client sends first, unauthenticated
    const { host } = new URL(url);
    const first = await rawHttp(url, `GET /socket.io/?EIO=4&transport=polling HTTP/1.1\r\nHost: ${host}\r\nConnection: close\r\n\r\n`);
    expect(first.text).toMatch(/^HTTP\/1\.1 200 /);
    expect(first.text).toMatch(/\r\n\r\n0\{"sid":"[^"]+","upgrades":\["websocket"\]/);
    await new Promise((r) => setTimeout(r, 300));
    expect(coordinator.proc.exitCode, coordinator.stderr()).toBeNull();
    expect((await getJson(`${url}/healthz`)).body).toEqual({ ok: true });

    // a hand-driven client on socket.io's default transports (long-polling first) and a merchant's client train round 1
    const p = peer(url, 'default');
    const manager = p.socket.io as unknown as { once(ev: 'open', f: () => void): void; engine: { transport: { name: string } } };
    let firstTransport = '';
    manager.once('open', () => (firstTransport = manager.engine.transport.name));
    await p.connect();
    expect(firstTransport).toBe('polling');
    await p.authenticate(poller);
    clients.push(startClient(url, merchant, data, 'm1'));
    const task = await p.next('task', { timeoutMs: 20_000 });
    const size = readCheckpoint((await getBytes(`${url}/api/models/${task.modelVersion}`)).bytes).weights.length;
    p.emit('update', signedUpdate(poller, task, new Float32Array(size)));
    expect(await p.next('updateAck')).toMatchObject({ round: 1, accepted: true });
    await waitFor(() => /finished: model version 1/.test(coordinator.stderr()), 30_000, 'the round to commit', coordinator.stderr);
    const rounds = await getJson(`${url}/api/rounds`);
    expect(rounds.body[0].participants.map((x: { clientId: string }) => x.clientId).sort()).toEqual(['m1', 'p0']);
    expect(coordinator.proc.exitCode).toBeNull();
  }, 60_000);
});

describe('one connection, one session', () => {
  const data = 'synthetic:users=60,items=100';
  const ids = ['a0', 'b0', 'c0'].map(makeIdentity);
  const [a, b] = ids;
  // three must be connected before a round starts: these tests only authenticate
  const config = () => makeConfig({ dataDir: join(tempDir(), 'data'), data, clients: ids, model: { name: 'mf', dim: 4 }, evaluate: false, rounds: { total: 1, minClients: 3, clientsPerRound: 3 } });

  it('refuses a second identity on an authenticated connection and ends the first session cleanly: no ghost stays joined', async () => {
    const c = await start(config());
    const p = peer(c.url);
    await p.connect();
    await p.authenticate(a);
    await waitFor(() => c.engine.clients === 1, 5000, 'a0 to join');
    // the same socket now says hello (and, if challenged, signs) as b0
    const from = p.events.length;
    p.hello(b);
    const answer = await Promise.race([
      p.next('refusal', { from }),
      p.next('challenge', { from }).then(async (ch) => {
        p.emit('auth', { clientId: b.id, signature: toBase64(sign(authMessage(ch.nonce, b.id), b.secretKey)) });
        await p.next('welcome', { from, pred: (w) => w.clientId === b.id });
        return { code: 'welcomed as b0', message: '' };
      }),
    ]);
    expect(answer.code).toBe('auth-failed');
    expect(answer.message).toMatch(/already authenticated as a0/);
    await p.next('disconnect');
    p.close();
    // a0's session ended with its connection: the engine does not keep it (it would be selected, and stall every round)
    await waitFor(() => c.engine.clients === 0, 5000, 'no client to be joined', () => `engine.clients = ${c.engine.clients}`);
    expect((await getJson(`${c.url}/api/status`)).body.clients).toBe(0);
    // and both identities can connect again, each on its own connection
    const pa = peer(c.url);
    await pa.connect();
    await pa.authenticate(a);
    const pb = peer(c.url);
    await pb.connect();
    await pb.authenticate(b);
    await waitFor(() => c.engine.clients === 2, 5000, 'a0 and b0 to join');
  });

  it('refuses a second hello before authentication and an auth after it', async () => {
    const c = await start(config());
    const p1 = peer(c.url);
    await p1.connect();
    p1.hello(a);
    await p1.next('challenge');
    p1.hello(a);
    const r1 = await p1.next('refusal');
    expect(r1.code).toBe('auth-failed');
    expect(r1.message).toMatch(/one handshake per connection/);
    await p1.next('disconnect');

    const p2 = peer(c.url);
    await p2.connect();
    await p2.authenticate(a);
    p2.emit('auth', { clientId: a.id, signature: toBase64(new Uint8Array(64)) });
    expect((await p2.next('refusal')).code).toBe('auth-failed');
    await p2.next('disconnect');
    await waitFor(() => c.engine.clients === 0, 5000, 'no client to be joined');
  });
});

describe('the operator listener', () => {
  const data = 'synthetic:users=60,items=100';
  const ids = ['a0', 'b0'].map(makeIdentity);
  const config = (extra: Record<string, unknown> = {}) => ({
    ...makeConfig({ dataDir: join(tempDir(), 'data'), data, clients: ids, model: { name: 'mf', dim: 4 }, evaluate: false, rounds: { total: 1, minClients: 2 } }),
    ...extra,
  });

  it('serves /metrics, the full status and round records on its own loopback port; the public port has no /metrics', async () => {
    const c = await start(config());
    expect(c.operatorUrl).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect(c.operatorPort).not.toBe(c.port);
    const pub = await getJson(`${c.url}/metrics`);
    expect(pub.status).toBe(404);
    const m = await fetch(`${c.operatorUrl}/metrics`);
    expect(m.status).toBe(200);
    expect(m.headers.get('content-type')).toMatch(/text\/plain/);
    expect(await m.text()).toMatch(/^fedrec_round_duration_seconds /m);
    const status = await getJson(`${c.operatorUrl}/api/status`);
    expect(status.body).toMatchObject({ state: 'waiting', clients: 0, modelVersion: 0, url: c.url, privacy: { mode: 'none' } });
    expect((await getJson(`${c.operatorUrl}/api/rounds`)).body).toEqual([]);
    // it is not a second public API
    const model = await getJson(`${c.operatorUrl}/api/models/0`);
    expect(model.status).toBe(404);
    expect(model.body).toEqual({ error: 'not found' });
  });

  it('with operator.token, refuses every request without that bearer token (health checks excepted)', async () => {
    const token = 'op-token-0123456789abcdef';
    const c = await start(config({ operator: { token } }));
    for (const headers of [{}, { authorization: 'Bearer wrong-token-0123456789' }, { authorization: token }] as Array<Record<string, string>>) {
      const r = await fetch(`${c.operatorUrl}/metrics`, { headers });
      expect(r.status).toBe(401);
      expect(r.headers.get('www-authenticate')).toBe('Bearer');
      expect((await r.json()).error).toMatch(/Bearer/);
    }
    const ok = await fetch(`${c.operatorUrl}/metrics`, { headers: { authorization: `Bearer ${token}` } });
    expect(ok.status).toBe(200);
    expect((await getJson(`${c.operatorUrl}/healthz`)).status).toBe(200);
    // the public port does not take the token as a way in
    expect((await fetch(`${c.url}/metrics`, { headers: { authorization: `Bearer ${token}` } })).status).toBe(404);
  });
});
