// A load-generator process for bench/coordinator.bench.ts: hosts many virtual
// clients, one socket.io connection and one identity each, that authenticate
// like client/node/socketClient.ts and answer every 'task' at once with a
// precomputed random delta. No training.
//
// The delta is encoded once per process; so is its SHA-512 (identical bytes
// give an identical hash, and hashing 4 MB per virtual client would only burn
// the CPU the coordinator shares with us). What differs per client is signed
// per client and per task: updateSigningBytes covers round, model version,
// clientId, payload hash, numExamples and weight.
//
// Started by runCase.ts: `node bin/run-ts.mjs bench/coordinator/loadClient.ts`
// with an IPC channel. Messages in: start, stats, stop. Out: ready, stats,
// error.
import { createHash } from 'node:crypto';
import { io, type Socket } from 'socket.io-client';
import { PROTOCOL_VERSION, authMessage, encode, toBase64, updateSigningBytes } from '../../protocol/index.ts';
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
  rejected: Record<string, number>;
  disconnects: Record<string, number>;
  /** Epoch ms (fractional) of the first task received and the last update emitted, per round. */
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
const stats: LoadStats = { type: 'stats', pid: process.pid, clients: 0, tasks: 0, sent: 0, acks: 0, rejected: {}, disconnects: {}, rounds: {}, rssPeakMB: 0 };
let stopping = false;
const rssTimer = setInterval(() => (stats.rssPeakMB = Math.max(stats.rssPeakMB, process.memoryUsage.rss() / 2 ** 20)), 100);

async function start(cfg: LoadStart): Promise<void> {
  selfCheck(cfg.clients[0].seedHex);
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
      s.on('task', async (task: { round: number; modelVersion: number; codec: string; taskId: string; lineage: string }) => {
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
        const signature = signWith(key, updateSigningBytes({ protocolVersion: PROTOCOL_VERSION, lineage: task.lineage, ...fields }));
        s.emit('update', { ...fields, codec: 'f32', payload, signature: toBase64(signature), metrics: {} });
        stats.sent++;
        r.lastSend = now();
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
