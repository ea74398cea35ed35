// Helpers for the end-to-end federation tests: temp dirs, identities, configs,
// in-process socket clients, CLI child processes, and small HTTP/poll utilities.
import { spawn, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadLocalData } from '../../client/node/data.ts';
import { parseCoordinatorConfig } from '../../coordinator/config.ts';
import { startCoordinator, type RunningCoordinator } from '../../coordinator/coordinator.ts';
import { SocketClient } from '../../client/node/socketClient.ts';
import type { TaskReport } from '../../client/core.ts';
import { io as ioClient, type Socket as ClientSocket } from 'socket.io-client';
import {
  PROTOCOL_VERSION,
  authMessage,
  encode,
  encodeUpdateEnvelope,
  generateIdentity,
  identityToJSON,
  sign,
  signedUpdate as protocolSignedUpdate,
  toBase64,
  type UpdateEnvelopeFields,
} from '../../protocol/index.ts';

export const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
export const FEDREC_BIN = join(ROOT, 'bin/fedrec.mjs');

// ------------------------------------------------------------ temp dirs

const tempDirs: string[] = [];

export function tempDir(prefix = 'fedrec-e2e-'): string {
  const d = mkdtempSync(join(tmpdir(), prefix));
  tempDirs.push(d);
  return d;
}

export function removeTempDirs(): void {
  for (const d of tempDirs.splice(0)) rmSync(d, { recursive: true, force: true });
}

// ------------------------------------------------------------ identities

export interface TestIdentity {
  id: string;
  publicKey: Uint8Array;
  secretKey: Uint8Array;
}

export function makeIdentity(id: string): TestIdentity {
  return { id, ...generateIdentity() };
}

export function allowEntry(c: TestIdentity): { id: string; publicKey: string } {
  return { id: c.id, publicKey: toBase64(c.publicKey) };
}

/** Writes an identity file as `fedrec keygen` does; returns its path. */
export function writeIdentityFile(dir: string, c: TestIdentity): string {
  const path = join(dir, `${c.id}.json`);
  writeFileSync(path, `${JSON.stringify({ ...identityToJSON({ publicKey: c.publicKey, secretKey: c.secretKey }), clientId: c.id }, null, 2)}\n`, { mode: 0o600 });
  return path;
}

// ------------------------------------------------------------ config

export interface ConfigOptions {
  dataDir: string;
  data: string;
  clients: TestIdentity[];
  rounds?: Partial<{ total: number; clientsPerRound: number; minClients: number; quorum: number; deadlineSeconds: number; pauseSeconds: number }>;
  train?: Partial<{ epochs: number; lr: number; batchSize: number }>;
  model?: Record<string, unknown>;
  evaluate?: boolean;
}

export function makeConfig(o: ConfigOptions): Record<string, unknown> {
  return {
    dataDir: o.dataDir,
    port: 0,
    model: o.model ?? { name: 'mf', dim: 16 },
    catalog: { fromData: o.data },
    rounds: { total: 3, clientsPerRound: o.clients.length, minClients: o.clients.length, quorum: 2, deadlineSeconds: 60, ...o.rounds },
    train: { epochs: 1, lr: 0.01, batchSize: 256, ...o.train },
    clients: { allow: o.clients.map(allowEntry) },
    evaluation: { federated: o.evaluate ?? true },
  };
}

// ------------------------------------------------------------ in-process clients

export interface InProcessClient {
  client: SocketClient;
  reports: TaskReport[];
  refusals: string[];
  logs: string[];
  stop(): Promise<void>;
}

export function startClient(server: string, who: TestIdentity, data: string, merchant: string): InProcessClient {
  const reports: TaskReport[] = [];
  const refusals: string[] = [];
  const logs: string[] = [];
  const client = new SocketClient({
    server,
    clientId: who.id,
    identity: { publicKey: who.publicKey, secretKey: who.secretKey },
    loadData: (itemIds) => loadLocalData(data, itemIds, { merchant }),
    log: (line) => logs.push(line),
    onTaskDone: (r) => reports.push(r),
    onRefusal: (code) => refusals.push(code),
  });
  void client.start();
  let stopped = false;
  return {
    client,
    reports,
    refusals,
    logs,
    async stop() {
      if (stopped) return;
      stopped = true;
      await client.stop();
    },
  };
}

// ------------------------------------------------------------ what one test file starts

/**
 * The in-process coordinators, clients and hand-driven peers a test file
 * starts, so that its afterEach can stop them all (`stopAll`).
 */
export function testRun() {
  const coordinators: RunningCoordinator[] = [];
  const clients: InProcessClient[] = [];
  const peers: RawPeer[] = [];
  return {
    clients,
    async start(cfg: Record<string, unknown>): Promise<RunningCoordinator> {
      const c = await startCoordinator(parseCoordinatorConfig(cfg));
      coordinators.push(c);
      return c;
    },
    peer(url: string, transports: 'websocket' | 'default' = 'websocket'): RawPeer {
      const p = new RawPeer(url, { transports });
      peers.push(p);
      return p;
    },
    async stopAll(): Promise<void> {
      for (const p of peers.splice(0)) p.close();
      await Promise.all(clients.splice(0).map((c) => c.stop().catch(() => {})));
      await Promise.all(coordinators.splice(0).map((c) => c.close().catch(() => {})));
    },
  };
}

// ------------------------------------------------------------ child processes

export interface Child {
  proc: ChildProcess;
  stderr: () => string;
  /** Resolves with the exit code (or signal name). */
  exited: Promise<number | string>;
}

const children = new Set<ChildProcess>();

export function spawnFedrec(args: string[], opts: { cwd?: string } = {}): Child {
  const proc = spawn(process.execPath, [FEDREC_BIN, ...args], { cwd: opts.cwd ?? ROOT, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, NODE_ENV: 'test' } });
  children.add(proc);
  let err = '';
  proc.stderr!.setEncoding('utf8').on('data', (s: string) => (err += s));
  proc.stdout!.resume();
  const exited = new Promise<number | string>((res) => {
    proc.once('exit', (code, signal) => {
      children.delete(proc);
      res(code ?? signal ?? -1);
    });
  });
  return { proc, stderr: () => err, exited };
}

/** Kills every child this module spawned and still running (each by its own pid). */
export async function killChildren(): Promise<void> {
  const waits: Promise<unknown>[] = [];
  for (const p of [...children]) {
    if (p.exitCode === null && p.signalCode === null) {
      waits.push(new Promise((res) => p.once('exit', res)));
      p.kill('SIGKILL');
    }
  }
  await Promise.all(waits);
  children.clear();
}

/** Waits until the child's stderr has printed `listening on URL`; returns the URL. */
export async function waitForListening(c: Child, timeoutMs = 30_000): Promise<string> {
  const m = await waitFor(() => /listening on (http:\/\/[^\s]+)/.exec(c.stderr()), timeoutMs, 'coordinator to listen', () => c.stderr());
  return m[1];
}

// ------------------------------------------------------------ polling and HTTP

export async function sleep(ms: number): Promise<void> {
  await new Promise((r) => setTimeout(r, ms));
}

/** Polls `probe` (every 50 ms) until it returns a truthy value. */
export async function waitFor<T>(probe: () => T | Promise<T>, timeoutMs: number, what: string, detail?: () => string): Promise<NonNullable<T>> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    let v: T | undefined;
    try {
      v = await probe();
    } catch {
      v = undefined;
    }
    if (v) return v as NonNullable<T>;
    if (Date.now() > until) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${detail ? `\n${detail()}` : ''}`);
    await sleep(50);
  }
}

export async function getJson<T = any>(url: string): Promise<{ status: number; body: T; headers: Headers }> {
  const res = await fetch(url);
  const text = await res.text();
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    body = text;
  }
  return { status: res.status, body: body as T, headers: res.headers };
}

export async function getBytes(url: string, headers: Record<string, string> = {}): Promise<{ status: number; bytes: Uint8Array; headers: Headers }> {
  const res = await fetch(url, { headers });
  return { status: res.status, bytes: new Uint8Array(await res.arrayBuffer()), headers: res.headers };
}

export function sha256(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}

export function sha256File(path: string): string {
  return sha256(readFileSync(path));
}

/**
 * Sends `request` (raw bytes: request line, headers, body) on a fresh TCP connection and collects what comes back
 * until the server closes the connection, `waitMs` pass or `until` settles (then we close it). `end: false` leaves
 * our side open (a body still "to come").
 */
export async function rawHttp(
  url: string,
  request: string | Uint8Array,
  opts: { waitMs?: number; end?: boolean; until?: Promise<unknown> } = {},
): Promise<{ text: string; closed: boolean }> {
  const { hostname, port } = new URL(url);
  return await new Promise((resolve, reject) => {
    const sock = connect(Number(port), hostname);
    const chunks: Buffer[] = [];
    let closed = false;
    const done = () => {
      clearTimeout(timer);
      sock.destroy();
      resolve({ text: Buffer.concat(chunks).toString('latin1'), closed });
    };
    const timer = setTimeout(done, opts.waitMs ?? 5000);
    void opts.until?.then(done, done);
    sock.on('data', (d: Buffer) => chunks.push(d));
    sock.on('error', (e: NodeJS.ErrnoException) => (e.code === 'ECONNRESET' ? ((closed = true), done()) : reject(e)));
    sock.on('end', () => {
      closed = true;
      done();
    });
    sock.write(request);
    if (opts.end !== false) sock.end();
  });
}

/** The value of a Prometheus sample `name{labels}` (labels exactly as printed), or undefined. */
export function metricValue(text: string, sample: string): number | undefined {
  for (const line of text.split('\n')) {
    if (line.startsWith('#')) continue;
    const i = line.lastIndexOf(' ');
    if (i > 0 && line.slice(0, i) === sample) return Number(line.slice(i + 1));
  }
  return undefined;
}

/** The safetensors header (JSON) of a file's bytes. */
export function safetensorsHeader(bytes: Uint8Array): Record<string, unknown> {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const n = Number(view.getBigUint64(0, true));
  return JSON.parse(new TextDecoder().decode(bytes.subarray(8, 8 + n))) as Record<string, unknown>;
}

// ------------------------------------------------------------ hand-driven peers

/** A raw socket.io-client connection driven by hand: every server message is recorded in order. */
export class RawPeer {
  readonly socket: ClientSocket;
  readonly events: Array<{ kind: string; msg: any; at: number }> = [];
  private readonly waiters = new Set<() => void>();
  disconnected = false;

  /** `transports: 'default'` connects as an unconfigured socket.io client does (long-polling first, then an upgrade). */
  constructor(server: string, opts: { transports?: 'websocket' | 'default' } = {}) {
    const transports = opts.transports === 'default' ? {} : { transports: ['websocket'] };
    this.socket = ioClient(server, { ...transports, reconnection: false, autoConnect: false, forceNew: true });
    this.socket.onAny((kind: string, msg: unknown) => this.push(kind, msg));
    this.socket.on('disconnect', () => {
      this.disconnected = true;
      this.push('disconnect', null);
    });
  }

  private push(kind: string, msg: unknown): void {
    this.events.push({ kind, msg, at: Date.now() });
    for (const w of [...this.waiters]) w();
  }

  async connect(): Promise<void> {
    await new Promise<void>((res, rej) => {
      this.socket.once('connect', () => res());
      this.socket.once('connect_error', rej);
      this.socket.connect();
    });
  }

  emit(kind: string, msg: unknown): void {
    this.socket.emit(kind, msg);
  }

  /** The first recorded event of `kind` (after index `from`) matching `pred`; waits for it. */
  async next(kind: string, opts: { from?: number; pred?: (msg: any) => boolean; timeoutMs?: number } = {}): Promise<any> {
    const from = opts.from ?? 0;
    const find = () => this.events.slice(from).find((e) => e.kind === kind && (!opts.pred || opts.pred(e.msg)));
    const hit = find();
    if (hit) return hit.msg;
    return await new Promise((res, rej) => {
      const timer = setTimeout(() => {
        this.waiters.delete(check);
        rej(new Error(`timed out waiting for ${kind}; got ${this.events.map((e) => e.kind).join(', ')}`));
      }, opts.timeoutMs ?? 15_000);
      const check = () => {
        const e = find();
        if (!e) return;
        clearTimeout(timer);
        this.waiters.delete(check);
        res(e.msg);
      };
      this.waiters.add(check);
    });
  }

  hello(who: { id: string; publicKey: Uint8Array }): void {
    this.emit('hello', { protocolVersion: PROTOCOL_VERSION, clientId: who.id, publicKey: toBase64(who.publicKey), kind: 'merchant', capabilities: { codecs: ['f32'] } });
  }

  /** hello → challenge → signed auth → welcome. */
  async authenticate(who: TestIdentity): Promise<any> {
    this.hello(who);
    const ch = await this.next('challenge');
    this.emit('auth', { clientId: who.id, signature: toBase64(sign(authMessage(ch.nonce, who.id), who.secretKey)) });
    return await this.next('welcome');
  }

  /**
   * Uploads `update` (an update message, or raw body bytes) with the upload token of `task` and waits for the
   * engine's verdict over the socket: 'ACCEPTED' or the refusal's code. An upload the HTTP layer refuses returns
   * `http <status> <code>`.
   */
  async submit(url: string, task: { upload: { token: string } }, update: Record<string, unknown> | Uint8Array): Promise<string> {
    const from = this.events.length;
    const r = await postUpdate(url, task.upload.token, update);
    if (r.status !== 202) return `http ${r.status} ${r.body.code}`;
    const ev = await Promise.race([this.next('updateRejected', { from }), this.next('updateAck', { from }).then(() => ({ code: 'ACCEPTED' }))]);
    return ev.code as string;
  }

  close(): void {
    this.socket.disconnect();
  }
}

/** POST /api/updates with `token` (as a bearer token, unless `headers` say otherwise); the body is `update` as an envelope, or raw bytes. */
export async function postUpdate(
  url: string,
  token: string,
  update: Record<string, unknown> | Uint8Array,
  headers: Record<string, string> = {},
): Promise<{ status: number; body: { error?: string; code?: string; queued?: boolean; round?: number }; headers: Headers }> {
  const body = update instanceof Uint8Array ? update : encodeUpdateEnvelope(update as UpdateEnvelopeFields & { payload: Uint8Array });
  const res = await fetch(`${url}/api/updates`, { method: 'POST', headers: { authorization: `Bearer ${token}`, ...headers }, body: body as Uint8Array<ArrayBuffer> });
  return { status: res.status, body: (await res.json().catch(() => ({}))) as never, headers: res.headers };
}

/** A correctly signed update message for `task` carrying `values` (f32), through the protocol's own helper. */
export function signedUpdate(
  who: TestIdentity,
  task: { round: number; modelVersion: number; taskId: string; lineage: string },
  values: Float32Array,
  over: { payload?: Uint8Array; weight?: number } = {},
): Record<string, unknown> {
  const payload = over.payload ?? encode(values, 'f32');
  const weight = over.weight ?? 1;
  const { round, modelVersion, taskId, lineage } = task;
  return { ...protocolSignedUpdate({ lineage, taskId, round, modelVersion, clientId: who.id, codec: 'f32', payload, numExamples: 1, weight, metrics: {} }, who.secretKey) };
}
