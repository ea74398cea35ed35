// A load-generator process for bench/coordinator.bench.ts: hosts many virtual
// clients, one socket.io connection and one identity each, that authenticate
// like client/node/socketClient.ts and answer every 'task' at once with a
// precomputed random delta, uploaded as client/node/upload.ts does (POST
// /api/updates with the task's upload token, the body an update envelope). No
// training.
//
// The delta is encoded once per process; so is its SHA-512 (identical bytes
// give an identical hash, and hashing 4 MB per virtual client would only burn
// the CPU the coordinator shares with us). What differs per client is signed
// per client and per task: updateSigningBytes covers round, model version,
// clientId, payload hash, numExamples and weight. Each upload writes the
// client's envelope header and then the shared payload, so no per-client copy
// of the payload is made.
//
// Started by runCase.ts: `node bin/run-ts.mjs bench/coordinator/loadClient.ts`
// with an IPC channel. Messages in: start, stats, stop. Out: ready, stats,
// error.
import { createHash } from 'node:crypto';
import { Agent, request } from 'node:http';
import { io, type Socket } from 'socket.io-client';
import { PROTOCOL_VERSION, authMessage, encode, encodeEnvelopeHeader, toBase64, updateSigningBytes } from '../../protocol/index.ts';
import { privateKeyOf, publicKeyOf, selfCheck, signWith, type BenchIdentity } from './identities.ts';

export interface LoadStart {
  type: 'start';
  url: string;
  clients: BenchIdentity[];
  /** Values per update (the model's size). */
  size: number;
  seed: number;
  /** Connections opened at a time. */
  connectConcurrency: number;
  /** Most updates in flight (sent, not yet acked) in this process; 0 = no limit (every client answers at once). */
  window: number;
}

export interface LoadStats {
  type: 'stats';
  pid: number;
  clients: number;
  tasks: number;
  sent: number;
  acks: number;
  /** Uploads retried after a network error. */
  retries: number;
  rejected: Record<string, number>;
  disconnects: Record<string, number>;
  /** Epoch ms (fractional) of the first task received and the last update upload finished, per round. */
  rounds: Record<number, { firstTask: number; lastSend: number }>;
  rssPeakMB: number;
}

type Msg = LoadStart | { type: 'stats' } | { type: 'stop' };

const now = () => performance.timeOrigin + performance.now();

function randomDelta(size: number, seed: number): Float32Array {
  let s = seed >>> 0;
  const out = new Float32Array(size);
  for (let i = 0; i < size; i++) {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    out[i] = (((t ^ (t >>> 14)) >>> 0) / 4294967296 - 0.5) * 2e-3;
  }
  return out;
}

const send = (m: object) => process.send!(m);

const sockets: Socket[] = [];
const stats: LoadStats = { type: 'stats', pid: process.pid, clients: 0, tasks: 0, sent: 0, acks: 0, retries: 0, rejected: {}, disconnects: {}, rounds: {}, rssPeakMB: 0 };
let stopping = false;
const rssTimer = setInterval(() => (stats.rssPeakMB = Math.max(stats.rssPeakMB, process.memoryUsage.rss() / 2 ** 20)), 100);

// A fresh connection per upload: each virtual client uploads once a round, and a kept-alive socket
// the server closed while this process was busy would fail the next round's upload.
const agent = new Agent({ keepAlive: false, maxSockets: Infinity });

/** POSTs `head` then `payload` as one body; resolves with the HTTP status (0: network error). */
function post(url: URL, token: string, head: Uint8Array, payload: Uint8Array): Promise<number> {
  return new Promise((resolve) => {
    const req = request(
      {
        host: url.hostname,
        port: url.port,
        path: '/api/updates',
        method: 'POST',
        agent,
        headers: { authorization: `Bearer ${token}`, 'content-type': 'application/octet-stream', 'content-length': head.length + payload.length },
      },
      (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode ?? 0));
      },
    );
    req.on('error', () => resolve(0));
    req.write(head);
    req.end(payload);
  });
}

/** As client/node/upload.ts does: up to two retries after a network error. */
async function upload(url: URL, token: string, head: Uint8Array, payload: Uint8Array): Promise<number> {
  for (let attempt = 1; ; attempt++) {
    const status = await post(url, token, head, payload);
    if (status !== 0 || attempt === 3) return status;
    stats.retries++;
    await new Promise((r) => setTimeout(r, 100 * attempt));
  }
}

async function start(cfg: LoadStart): Promise<void> {
  selfCheck(cfg.clients[0].seedHex);
  const server = new URL(cfg.url);
  const payload = encode(randomDelta(cfg.size, cfg.seed), 'f32');
  const payloadHash = toBase64(new Uint8Array(createHash('sha512').update(payload).digest()));
  stats.clients = cfg.clients.length;

  // in-flight window (only when cfg.window > 0)
  let inFlight = 0;
  const waiting: Array<() => void> = [];
  const release = () => {
    inFlight--;
    waiting.shift()?.();
  };

  const connectOne = (c: BenchIdentity, index: number) =>
    new Promise<void>((resolve, reject) => {
      const key = privateKeyOf(c.seedHex);
      const publicKey = toBase64(publicKeyOf(c.seedHex));
      const numExamples = 1 + (index % 100);
      const s = io(cfg.url, { transports: ['websocket'], forceNew: true, reconnection: false, timeout: 60_000 });
      sockets.push(s);
      s.on('connect', () => s.emit('hello', { protocolVersion: PROTOCOL_VERSION, clientId: c.id, publicKey, kind: 'merchant', capabilities: { codecs: ['f32'] } }));
      s.on('challenge', (ch: { nonce: string }) => s.emit('auth', { clientId: c.id, signature: toBase64(signWith(key, authMessage(ch.nonce, c.id))) }));
      s.on('welcome', () => resolve());
      s.on('refusal', (r: { code?: string; message?: string }) => reject(new Error(`${c.id} refused: ${r?.code}: ${r?.message}`)));
      s.on('connect_error', (e: Error) => reject(new Error(`${c.id}: connect_error: ${e.message}`)));
      s.on('disconnect', (reason: string) => {
        if (!stopping) stats.disconnects[reason] = (stats.disconnects[reason] ?? 0) + 1;
      });
      s.on('task', async (task: { round: number; modelVersion: number; codec: string; taskId: string; lineage: string; upload?: { token: string } }) => {
        const t = now();
        stats.tasks++;
        const r = (stats.rounds[task.round] ??= { firstTask: t, lastSend: 0 });
        if (task.codec !== 'f32') {
          stats.rejected[`task-codec-${task.codec}`] = (stats.rejected[`task-codec-${task.codec}`] ?? 0) + 1;
          return;
        }
        if (cfg.window > 0) {
          if (inFlight >= cfg.window) await new Promise<void>((w) => waiting.push(w));
          inFlight++;
        }
        const fields = { round: task.round, modelVersion: task.modelVersion, taskId: task.taskId, clientId: c.id, payloadHash, numExamples, weight: numExamples };
        const signature = signWith(key, updateSigningBytes({ protocolVersion: PROTOCOL_VERSION, lineage: task.lineage, ...fields, metrics: {} }));
        const head = encodeEnvelopeHeader({ ...fields, codec: 'f32', signature: toBase64(signature), metrics: {} });
        const status = task.upload ? await upload(server, task.upload.token, head, payload) : -1;
        stats.sent++;
        r.lastSend = now();
        if (status !== 202) {
          // refused (or lost) before the engine saw it: no verdict will come over the socket
          const why = status === -1 ? 'task-without-upload-token' : status === 0 ? 'upload-network-error' : `upload-http-${status}`;
          stats.rejected[why] = (stats.rejected[why] ?? 0) + 1;
          if (cfg.window > 0) release();
        }
      });
      s.on('updateAck', () => {
        stats.acks++;
        if (cfg.window > 0) release();
      });
      s.on('updateRejected', (m: { code?: string }) => {
        const code = String(m?.code);
        stats.rejected[code] = (stats.rejected[code] ?? 0) + 1;
        if (cfg.window > 0) release();
      });
    });

  const t0 = now();
  let next = 0;
  const worker = async () => {
    while (next < cfg.clients.length) {
      const i = next++;
      await connectOne(cfg.clients[i], i);
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, cfg.connectConcurrency) }, worker));
  send({ type: 'ready', connected: cfg.clients.length, ms: now() - t0 });
}

process.on('message', (m: Msg) => {
  if (m.type === 'start') {
    start(m).catch((err: Error) => send({ type: 'error', message: err.message }));
  } else if (m.type === 'stats') {
    send(stats);
  } else if (m.type === 'stop') {
    stopping = true;
    clearInterval(rssTimer);
    for (const s of sockets) s.disconnect();
    process.disconnect?.();
    setTimeout(() => process.exit(0), 200).unref();
  }
});
process.on('disconnect', () => {
  // the parent went away: leave
  stopping = true;
  for (const s of sockets) s.disconnect();
  setTimeout(() => process.exit(0), 200).unref();
});
