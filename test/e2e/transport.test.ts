// The coordinator's transports under unauthenticated, browser-like and hostile
// traffic on 127.0.0.1: the HTTP API and socket.io share one server, and no
// single request or connection can crash the coordinator or stall its rounds.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { authMessage, sign, toBase64 } from '../../protocol/index.ts';
import { initBackend, readCheckpoint } from '../../recommender/index.ts';
import { getBytes, getJson, killChildren, makeConfig, makeIdentity, postUpdate, rawHttp, removeTempDirs } from './helpers.ts';
import { signedUpdate, spawnFedrec, startClient, tempDir, testRun, waitFor, waitForListening } from './helpers.ts';

const { clients, start, peer, stopAll } = testRun();

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
    expect(await p.submit(url, task, signedUpdate(poller, task, new Float32Array(size)))).toBe('ACCEPTED');
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

describe('update uploads over HTTP', () => {
  const data = 'synthetic:users=60,items=100';
  const ids = ['u0', 'u1'].map(makeIdentity);
  const [u0, u1] = ids;

  /** A coordinator in round 1 with two hand-driven clients holding their tasks (and upload tokens). */
  async function inRound(limits: Record<string, unknown> = {}) {
    const cfg = makeConfig({ dataDir: join(tempDir(), 'data'), data, clients: ids, model: { name: 'mf', dim: 4 }, evaluate: false, rounds: { total: 1, clientsPerRound: 2, minClients: 2, quorum: 2, deadlineSeconds: 30 } });
    const c = await start({ ...cfg, limits });
    const [p0, p1] = [peer(c.url), peer(c.url)];
    await p0.connect();
    await p0.authenticate(u0);
    await p1.connect();
    await p1.authenticate(u1);
    const [t0, t1] = await Promise.all([p0.next('task'), p1.next('task')]);
    const size = readCheckpoint((await getBytes(`${c.url}/api/models/0`)).bytes).weights.length;
    const { host } = new URL(c.url);
    const post = (headers: string, body = '') => `POST /api/updates HTTP/1.1\r\nHost: ${host}\r\n${headers}\r\n${body}`;
    return { c, p0, p1, t0, t1, size, post };
  }

  it('checks the token before reading the body: an unknown or missing token gets a JSON 401 and the connection closes, the body unread', async () => {
    const { c, post } = await inRound();
    const body = 'x'.repeat(100);
    // 100 of the 1,000,000 bytes announced are sent; the answer comes anyway, and the server hangs up
    const unknown = await rawHttp(c.url, post(`Authorization: Bearer ${toBase64(new Uint8Array(32).fill(9))}\r\nContent-Length: 1000000\r\n`, body), { end: false, waitMs: 4000 });
    expect(unknown.text).toMatch(/^HTTP\/1\.1 401 /);
    expect(unknown.text).toMatch(/connection: close/i);
    expect(JSON.parse(unknown.text.slice(unknown.text.indexOf('\r\n\r\n') + 4))).toMatchObject({ code: 'not-authenticated', error: expect.stringMatching(/unknown upload token/) });
    expect(unknown.closed).toBe(true);
    const missing = await rawHttp(c.url, post('Content-Length: 1000000\r\n', body), { end: false, waitMs: 4000 });
    expect(missing.text).toMatch(/^HTTP\/1\.1 401 /);
    expect(missing.text).toMatch(/"code":"not-authenticated"/);
    expect(missing.closed).toBe(true);
    const stats = (await getJson(`${c.operatorUrl}/api/status`)).body.transport;
    expect(stats.refused.upload).toEqual({ 'not-authenticated': 2 });
    expect(stats.uploads.queued).toBe(0);
  });

  it('needs a content-length no larger than the largest update envelope (411, 413: the body unread), and refuses a malformed envelope with a 400 that says why', async () => {
    const { c, p0, p1, t0, t1, size, post } = await inRound();
    const auth = `Authorization: Bearer ${t0.upload.token}\r\n`;
    const chunked = await rawHttp(c.url, post(`${auth}Transfer-Encoding: chunked\r\n`, '5\r\nhello\r\n'), { end: false, waitMs: 4000 });
    expect(chunked.text).toMatch(/^HTTP\/1\.1 411 /);
    expect(chunked.text).toMatch(/content-length/);
    const huge = await rawHttp(c.url, post(`${auth}Content-Length: 999999999\r\n`, 'x'.repeat(100)), { end: false, waitMs: 4000 });
    expect(huge.text).toMatch(/^HTTP\/1\.1 413 /);
    expect(huge.text).toMatch(/largest update envelope.*"code":"too-large"/);
    expect(huge.closed).toBe(true);
    // refused headers count no attempt; a body that was read does
    const bad = await postUpdate(c.url, t0.upload.token, new Uint8Array([200, 0, 0, 0, 1, 2]));
    expect(bad.status).toBe(400);
    expect(bad.body).toMatchObject({ code: 'schema', error: expect.stringMatching(/^update envelope: the header length is 200 bytes but only 2 follow/) });
    expect(await p0.submit(c.url, t0, signedUpdate(u0, t0, new Float32Array(size)))).toBe('ACCEPTED');
    // the verdict comes over the socket; the HTTP answer only says queued
    const queued = await postUpdate(c.url, t1.upload.token, signedUpdate(u1, t1, new Float32Array(size)));
    expect(queued).toMatchObject({ status: 202, body: { queued: true, round: 1 } });
    expect((await p1.next('updateAck')).round).toBe(1);
    await waitFor(() => c.store.record(1)?.outcome === 'committed', 10_000, 'round 1 to commit');
  });

  it('refuses a token for another client\'s update: the engine checks the signature against the client the token was issued to', async () => {
    const { c, p0, t0, size } = await inRound();
    // u1's correctly signed update uploaded with u0's token: the session is u0's
    expect(await p0.submit(c.url, t0, signedUpdate(u1, t0, new Float32Array(size)))).toBe('auth-failed');
  });

  it('holds an upload unread while the upload buffer is full, and reads it once there is room', async () => {
    // the smallest buffer: one largest envelope
    const { c, p1, t0, t1, size, post } = await inRound({ uploadBufferBytes: 1 });
    const limit = (await getJson(`${c.operatorUrl}/api/status`)).body.transport.uploads.bufferLimitBytes as number;
    // u0 announces the largest body and sends one byte of it (until we let go): its reservation fills the buffer
    let letGo = () => {};
    const released = new Promise<void>((r) => (letGo = r));
    const slow = rawHttp(c.url, post(`Authorization: Bearer ${t0.upload.token}\r\nContent-Length: ${limit}\r\n`, 'x'), { end: false, waitMs: 30_000, until: released });
    await waitFor(async () => (await getJson(`${c.operatorUrl}/api/status`)).body.transport.uploads.bufferBytes === limit, 5000, 'the first upload to be reading');
    let answered = false;
    const waiting = postUpdate(c.url, t1.upload.token, signedUpdate(u1, t1, new Float32Array(size))).then((r) => ((answered = true), r));
    await waitFor(async () => (await getJson(`${c.operatorUrl}/api/status`)).body.transport.uploads.waiting === 1, 5000, 'the second upload to wait');
    expect(answered).toBe(false);
    // the first sender gives up (its connection closes): the second is read and queued
    letGo();
    await slow;
    expect((await waiting).status).toBe(202);
    expect((await p1.next('updateAck')).round).toBe(1);
    const st = (await getJson(`${c.operatorUrl}/api/status`)).body.transport.uploads;
    expect(st).toMatchObject({ bufferBytes: 0, waiting: 0, bufferPeakBytes: limit });
  });

  it('caps every socket.io message, before authentication too, at limits.maxMessageBytes', async () => {
    const c = await start(makeConfig({ dataDir: join(tempDir(), 'data'), data, clients: ids, model: { name: 'mf', dim: 4 }, evaluate: false, rounds: { total: 1, minClients: 2 } }));
    const p = peer(c.url);
    await p.connect();
    // a well-formed hello padded past 16 KiB with a field the schema would strip: never parsed, the connection closes
    p.emit('hello', { protocolVersion: 1, clientId: u0.id, publicKey: toBase64(u0.publicKey), kind: 'merchant', padding: 'x'.repeat(40 * 1024) });
    await p.next('disconnect', { timeoutMs: 5000 });
    expect(p.events.map((e) => e.kind)).toEqual(['disconnect']);
    // the coordinator carries on, and an ordinary client still authenticates
    const q = peer(c.url);
    await q.connect();
    await q.authenticate(u0);
    expect((await getJson(`${c.url}/healthz`)).status).toBe(200);
  });
});
