// The coordinator's transports under unauthenticated, browser-like and hostile
// traffic on 127.0.0.1: the HTTP API and socket.io share one server, and no
// single request or connection can crash the coordinator or stall its rounds.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
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

const clients: InProcessClient[] = [];
const peers: RawPeer[] = [];

function peer(url: string, transports: 'websocket' | 'default' = 'websocket'): RawPeer {
  const p = new RawPeer(url, { transports });
  peers.push(p);
  return p;
}

async function stopAll(): Promise<void> {
  for (const p of peers.splice(0)) p.close();
  await Promise.all(clients.splice(0).map((c) => c.stop().catch(() => {})));
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
