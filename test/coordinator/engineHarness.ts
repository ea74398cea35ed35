// Test harness for the RoundEngine: a temp-dir Store over a tiny hand-written
// MF spec (4 items × dim 2 + 4 biases = 12 values), a FedAvg strategy, a fake
// transport that records every message the engine sends and lets fake
// clients react to their tasks, Ed25519 identities, the native verifier, and
// a clock whose skew a test can move (to get past a deadline without waiting).
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  PlainPlanner,
  RoundEngine,
  Store,
  createStrategy,
  systemClock,
  type Clock,
  type EngineConfig,
  type EngineDeps,
  type EngineTransport,
  type PrivacyController,
  type ReleasePlanner,
  type RoundRecord,
  type Strategy,
  type StrategyConfig,
  type Uniform,
} from '../../coordinator/index.ts';
import {
  PROTOCOL_VERSION,
  encode,
  evalSigningBytes,
  generateIdentity,
  sign,
  toBase64,
  updateSigningBytes,
  verifyTask,
  type Codec,
} from '../../protocol/index.ts';
import { Ed25519Verifier, sha512Native } from '../../protocol/node/index.ts';
import type { ModelSpec } from '../../recommender/models/index.ts';

export const LINEAGE = 'engine-test';
export const SIZE = 12;

export const SPEC: ModelSpec = {
  model: 'mf',
  config: { numItems: 4, dim: 2, negatives: 1 },
  weights: [
    { name: 'item_emb', shape: [4, 2] },
    { name: 'item_bias', shape: [4] },
  ],
  size: SIZE,
};

export const ITEM_IDS = ['sku-a', 'sku-b', 'sku-c', 'sku-d'];

/** Version 0: w0[i] = i / 4 (exact in float32). */
export function initialWeights(): Float32Array {
  return Float32Array.from({ length: SIZE }, (_, i) => i / 4);
}

export function baseConfig(over: Partial<EngineConfig> = {}): EngineConfig {
  return {
    clientsPerRound: 3,
    overSelect: 0,
    maxClients: 1000,
    totalRounds: 3,
    minClients: 3,
    quorum: 2,
    deadlineMs: 800,
    pauseMs: 0,
    train: { epochs: 1, lr: 0.01, batchSize: 32, optimizer: 'adam' },
    proxMu: 0,
    codec: 'f32',
    maxUpdateBytes: 16 + 4 * SIZE,
    evaluate: false,
    ...over,
  };
}

// ------------------------------------------------------------ identities

export interface TestClient {
  id: string;
  publicKey: Uint8Array;
  secretKey: Uint8Array;
}

export function makeClient(id: string): TestClient {
  return { id, ...generateIdentity() };
}

export interface TaskLike {
  round: number;
  modelVersion: number;
  taskId: string;
  lineage?: string;
  codec?: Codec;
}

export interface UpdateOptions {
  weight?: number;
  numExamples?: number;
  codec?: Codec;
  /** Use these bytes as the payload instead of encoding the delta. */
  payload?: Uint8Array;
  /** Sign as this client id / round / model version (defaults: the client's and the task's). */
  clientId?: string;
  loss?: number;
  /** Sign with this secret key instead of the client's own. */
  secretKey?: Uint8Array;
  /** Adaptive clipping's signed count. */
  clipCount?: number;
}

/** A correctly hashed and signed update message (a plain object, as a transport delivers it). */
export function makeUpdate(client: TestClient, task: TaskLike, delta: Float32Array, o: UpdateOptions = {}): Record<string, unknown> {
  const codec = o.codec ?? task.codec ?? 'f32';
  const payload = o.payload ?? encode(delta, codec);
  const payloadHash = toBase64(sha512Native(payload));
  const weight = o.weight ?? 1;
  const numExamples = o.numExamples ?? 10;
  const clientId = o.clientId ?? client.id;
  const signed = updateSigningBytes({
    protocolVersion: PROTOCOL_VERSION,
    lineage: task.lineage ?? LINEAGE,
    taskId: task.taskId,
    round: task.round,
    modelVersion: task.modelVersion,
    clientId,
    payloadHash,
    numExamples,
    weight,
    ...(o.clipCount !== undefined ? { clipCount: o.clipCount } : {}),
    metrics: o.loss === undefined ? {} : { loss: o.loss },
  });
  return {
    round: task.round,
    modelVersion: task.modelVersion,
    taskId: task.taskId,
    clientId,
    codec,
    payload,
    payloadHash,
    numExamples,
    weight,
    signature: toBase64(sign(signed, o.secretKey ?? client.secretKey)),
    metrics: o.loss === undefined ? {} : { loss: o.loss },
    ...(o.clipCount !== undefined ? { clipCount: o.clipCount } : {}),
  };
}

export function makeEvalReport(
  client: TestClient,
  task: TaskLike,
  count: number,
  sums: Record<string, number>,
  o: { secretKey?: Uint8Array } = {},
): Record<string, unknown> {
  const signed = evalSigningBytes({ protocolVersion: PROTOCOL_VERSION, lineage: task.lineage ?? LINEAGE, taskId: task.taskId, round: task.round, modelVersion: task.modelVersion, clientId: client.id, count, sums });
  return {
    round: task.round,
    modelVersion: task.modelVersion,
    taskId: task.taskId,
    clientId: client.id,
    count,
    sums,
    signature: toBase64(sign(signed, o.secretKey ?? client.secretKey)),
  };
}

// ------------------------------------------------------------- transport

export type SentKind = Parameters<EngineTransport['send']>[1];

export interface Sent {
  clientId: string;
  kind: SentKind;
  msg: any;
  at: number;
}

type Listener = (s: Sent) => void;

/** Records every message; `gone` clients make send() return false; `queued` jobs run at flush() (a transport's queue). */
export class FakeTransport implements EngineTransport {
  readonly sent: Sent[] = [];
  readonly gone = new Set<string>();
  readonly queued: Array<() => void> = [];
  flushes = 0;
  private listeners: Listener[] = [];

  async flush(): Promise<void> {
    this.flushes++;
    for (const job of this.queued.splice(0)) job();
  }

  send(clientId: string, kind: SentKind, msg: unknown): boolean {
    const s: Sent = { clientId, kind, msg, at: Date.now() };
    this.sent.push(s);
    for (const l of [...this.listeners]) l(s);
    return !this.gone.has(clientId);
  }

  on(l: Listener): () => void {
    this.listeners.push(l);
    return () => {
      this.listeners = this.listeners.filter((x) => x !== l);
    };
  }

  of(kind: SentKind, clientId?: string): Sent[] {
    return this.sent.filter((s) => s.kind === kind && (clientId === undefined || s.clientId === clientId));
  }

  /** Resolves with the first message (already sent or future) matching `pred`. */
  waitFor(pred: (s: Sent) => boolean, timeoutMs = 5000, what = 'message'): Promise<Sent> {
    const hit = this.sent.find(pred);
    if (hit) return Promise.resolve(hit);
    return new Promise((resolve, reject) => {
      const t = setTimeout(() => {
        off();
        reject(new Error(`timed out after ${timeoutMs} ms waiting for ${what}`));
      }, timeoutMs);
      const off = this.on((s) => {
        if (!pred(s)) return;
        clearTimeout(t);
        off();
        resolve(s);
      });
    });
  }

  task(round: number, clientId?: string, timeoutMs = 5000): Promise<Sent> {
    return this.waitFor((s) => s.kind === 'task' && s.msg.round === round && (clientId === undefined || s.clientId === clientId), timeoutMs, `task of round ${round}`);
  }
}

// ------------------------------------------------------------- the setup

/** What a fake client does with a task: undefined = nothing (silent). */
export type Behaviour = (
  task: any,
  client: TestClient,
) => { delta: Float32Array; weight?: number; numExamples?: number; delayMs?: number; loss?: number; clipCount?: number } | undefined;

export interface HarnessOptions {
  config?: Partial<EngineConfig>;
  clients?: string[];
  /** Registered identities that do not join (e.g. to send as a non-selected client). */
  extraRegistered?: string[];
  strategy?: Partial<StrategyConfig>;
  uniform?: Uniform;
  /** Joined at start (default: all clients). */
  join?: boolean;
  dir?: string;
  /** Restore the strategy from the store's latest state before building the engine (default true, as the coordinator does). */
  restoreStrategy?: boolean;
  /** Reuse identities (restart). */
  identities?: Map<string, TestClient>;
  serverEval?: EngineDeps['serverEval'];
  /** Central DP: builds the controller from the opened store (as assembleEngine does). */
  privacy?: (store: Store) => PrivacyController;
  /** The round releases without DP (default: no norm bound, weights up to 2^32 by examples). */
  releases?: (store: Store) => ReleasePlanner;
}

export interface Harness {
  dir: string;
  store: Store;
  strategy: Strategy;
  transport: FakeTransport;
  engine: RoundEngine;
  clients: Map<string, TestClient>;
  rounds: RoundRecord[];
  behaviours: Map<string, Behaviour>;
  clock: Clock & { skew: number };
  /** Starts engine.run(); resolves when it returns. */
  start(): Promise<void>;
  run: Promise<void> | null;
  /** Resolves with round `n`'s record once the engine emitted it. */
  round(n: number, timeoutMs?: number): Promise<RoundRecord>;
  /** Stops the engine and closes the store (keeps the directory unless `remove`). */
  close(remove?: boolean): Promise<void>;
}

export async function makeHarness(o: HarnessOptions = {}): Promise<Harness> {
  const dir = o.dir ?? join(mkdtempSync(join(tmpdir(), 'fedrec-engine-')), 'data');
  const strategy = createStrategy({ name: 'fedavg', size: SIZE, ...o.strategy } as StrategyConfig);
  const store = await Store.open(dir, {
    init: { lineage: LINEAGE, spec: SPEC, itemIds: ITEM_IDS, initialWeights: initialWeights(), strategyState: strategy.state() },
  });
  // as coordinator/coordinator.ts does: the engine takes the strategy already restored to the store's latest state
  if (o.restoreStrategy !== false) strategy.restore(store.latest().strategyState);
  const ids = o.clients ?? ['alice', 'bob', 'carol'];
  const clients = o.identities ?? new Map<string, TestClient>();
  for (const id of [...ids, ...(o.extraRegistered ?? [])]) if (!clients.has(id)) clients.set(id, makeClient(id));
  const transport = new FakeTransport();
  const clock = {
    skew: 0,
    now(): number {
      return Date.now() + clock.skew;
    },
    sleep: systemClock.sleep,
  };
  const releases = o.privacy?.(store) ?? o.releases?.(store) ?? new PlainPlanner({ maxUpdateNorm: null, maxWeight: 2 ** 32, weighting: (strategy as { weighting?: 'examples' | 'uniform' }).weighting ?? 'examples' });
  const engine = new RoundEngine({
    config: baseConfig(o.config),
    store,
    strategy,
    releases,
    transport,
    verifier: new Ed25519Verifier(),
    sha512: sha512Native,
    publicKeyOf: (id) => clients.get(id)?.publicKey,
    signingKey: store.key.secretKey,
    clock,
    uniform: o.uniform,
    serverEval: o.serverEval,
  });
  const rounds: RoundRecord[] = [];
  engine.on('round', (r: RoundRecord) => rounds.push(r));
  const behaviours = new Map<string, Behaviour>();
  const timers = new Set<NodeJS.Timeout>();
  transport.on((s) => {
    if (s.kind !== 'task') return;
    const b = behaviours.get(s.clientId);
    const c = clients.get(s.clientId);
    if (!b || !c) return;
    if (!verifyTask(s.msg, store.key.publicKey, new Ed25519Verifier())) throw new Error(`round ${s.msg.round}: the engine sent a task its key does not sign`);
    const act = b(s.msg, c);
    if (!act) return;
    const t = setTimeout(() => {
      timers.delete(t);
      engine.receiveUpdate(c.id, makeUpdate(c, s.msg, act.delta, { weight: act.weight, numExamples: act.numExamples, loss: act.loss, clipCount: act.clipCount }));
    }, act.delayMs ?? 5);
    timers.add(t);
  });
  if (o.join !== false) for (const id of ids) engine.join(id);

  const h: Harness = {
    dir,
    store,
    strategy,
    transport,
    engine,
    clients,
    rounds,
    behaviours,
    clock,
    run: null,
    start() {
      h.run = engine.run();
      return h.run;
    },
    round(n, timeoutMs = 5000) {
      const hit = rounds.find((r) => r.round === n);
      if (hit) return Promise.resolve(hit);
      return new Promise((resolve, reject) => {
        const t = setTimeout(() => {
          engine.off('round', on);
          reject(new Error(`timed out after ${timeoutMs} ms waiting for round ${n} (have ${rounds.map((r) => r.round).join(', ') || 'none'}; state ${engine.state})`));
        }, timeoutMs);
        const on = (r: RoundRecord) => {
          if (r.round !== n) return;
          clearTimeout(t);
          engine.off('round', on);
          resolve(r);
        };
        engine.on('round', on);
      });
    },
    async close(remove = true) {
      for (const t of timers) clearTimeout(t);
      engine.stop();
      if (h.run) await h.run.catch(() => {});
      await store.close();
      if (remove) rmSync(join(dir, '..'), { recursive: true, force: true });
    },
  };
  return h;
}

/** Seeded uniform [0, 1) (mulberry32). */
export function seededUniform(seed: number): Uniform {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export const f32 = (xs: number[]) => Float32Array.from(xs);
export const fill = (v: number) => new Float32Array(SIZE).fill(v);
export const ramp = (f: (i: number) => number) => Float32Array.from({ length: SIZE }, (_, i) => f(i));

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}
