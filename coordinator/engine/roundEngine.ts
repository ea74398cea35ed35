// The round engine: a transport-agnostic state machine
// (waiting → training → aggregating → committed | abandoned) that selects
// participants, hands out signed tasks, validates and folds updates as they
// arrive, and commits each round atomically through the store. What a round
// releases (plain average, or central DP noise and the ledger) is the round's
// RoundRelease, planned before it starts (coordinator/release). Transports
// (socket.io, in-memory) only deliver messages to it and carry its replies.
import { EventEmitter } from 'node:events';
import {
  PROTOCOL_VERSION,
  ProtocolError,
  TASK_ID_BYTES,
  evalSigningBytes,
  fromBase64,
  parseMessage,
  signTask,
  toBase64,
  type Codec,
  type MessageInputs,
  type RoundStateName,
  type SignatureVerifier,
  type Task,
} from '../../protocol/index.ts';
import type { PrivacyStatus, ReleasePlanner, RoundRelease } from '../release/index.ts';
import { ReleaseError } from '../release/index.ts';
import { ConfigError } from '../errors.ts';
import type { Store } from '../store/index.ts';
import type { RoundRecord, Strategy, Refusal } from '../types.ts';
import { systemClock, type Clock } from './clock.ts';
import { Notifier } from './notifier.ts';
import { cryptoUniform, selectClients, type SelectionConfig, type Uniform } from './selection.ts';
import { validateUpdate } from './validateUpdate.ts';

export interface EngineConfig extends SelectionConfig {
  totalRounds: number;
  minClients: number;
  quorum: number;
  deadlineMs: number;
  pauseMs: number;
  /** Wait this long after enough clients first connect before the first round (clients load their model and data meanwhile). */
  startDelayMs?: number;
  train: { epochs: number; lr: number; batchSize: number; optimizer: 'adam' | 'sgd' };
  proxMu: number;
  codec: Codec;
  maxUpdateBytes: number;
  evaluate: boolean;
}

/** The messages the engine sends. */
export type EngineMessageKind = 'task' | 'updateAck' | 'updateRejected' | 'roundState' | 'modelPublished';

/** How the engine reaches clients, typed by the protocol's message map; `send` returns false when the client is gone. */
export interface EngineTransport {
  send<K extends EngineMessageKind>(clientId: string, kind: K, msg: MessageInputs[K]): boolean;
  /** Resolves once everything received so far has been handed to the engine (a transport with a queue); the round waits for it before it closes. */
  flush?(): Promise<void>;
}

export interface EngineDeps {
  config: EngineConfig;
  store: Store;
  /** Already restored to the store's latest optimizer state (assembleEngine does it). */
  strategy: Strategy;
  /** Plans each round's release: PlainPlanner without DP, PrivacyController under central DP. */
  releases: ReleasePlanner;
  transport: EngineTransport;
  verifier: SignatureVerifier;
  sha512: (bytes: Uint8Array) => Uint8Array;
  /** The registered public key of a client id (undefined: unknown). */
  publicKeyOf: (clientId: string) => Uint8Array | undefined;
  /** The coordinator's Ed25519 secret key: every task carries its signature. */
  signingKey: Uint8Array;
  clock?: Clock;
  uniform?: Uniform;
  /** Random bytes for task ids (default: the platform CSPRNG). */
  randomBytes?: (n: number) => Uint8Array;
  log?: (line: string) => void;
  /**
   * Optional server-side evaluation of a model version on the coordinator's own
   * validation data; runs while clients train and lands in the round's metrics
   * with a `server_` prefix (like federated evaluation, of the round's fromVersion).
   */
  serverEval?: (weights: Float32Array, version: number) => Promise<Record<string, number>>;
}

function cryptoBytes(n: number): Uint8Array {
  const b = new Uint8Array(n);
  crypto.getRandomValues(b);
  return b;
}

interface ActiveRound {
  round: number;
  fromVersion: number;
  /** The round's random task id (base64): updates and reports must be signed over it. */
  taskId: string;
  selected: Set<string>;
  target: number;
  submitted: Set<string>;
  participants: RoundRecord['participants'];
  refusals: Refusal[];
  refusalsNotListed: number;
  refusalCounts: Record<string, number>;
  open: boolean;
  startedAt: number;
  deadline: number;
  lastUpdateAt: number;
  evalCount: number;
  /** Per metric: the sum of the reports that carried it and their case count. */
  evalSums: Map<string, { sum: number; count: number }>;
  evaluated: Set<string>;
  serverMetrics: Record<string, number>;
  /** What the round releases and how (plain average, or central DP). */
  release: RoundRelease;
}

export interface EngineStats {
  accepted: number;
  refused: Map<string, number>;
  /** Accepted updates the norm bound (or the DP projection) shortened. */
  bounded: number;
  committed: number;
  abandoned: number;
  bytesIn: number;
  lastRoundSeconds: number;
  lastCommitMs: number;
}

/** The round a raw message names, if it is a plausible one (for the reply only); 0 otherwise. */
function roundOf(raw: unknown): number {
  try {
    const v = (raw as { round?: unknown } | null)?.round;
    return typeof v === 'number' && Number.isSafeInteger(v) && v >= 0 ? v : 0;
  } catch {
    return 0;
  }
}

/** Keys the engine writes into a round's metrics; client-reported names cannot overwrite them. */
const EVAL_BOOKKEEPING = ['evaluatedVersion', 'evalUsers', 'evalClients'];

/** Refusals listed in one round record; the rest are only counted (by reason, always). */
export const MAX_LISTED_REFUSALS = 100;

export class RoundEngine extends EventEmitter {
  state: RoundStateName | 'stopped' = 'waiting';
  readonly stats: EngineStats = { accepted: 0, refused: new Map(), bounded: 0, committed: 0, abandoned: 0, bytesIn: 0, lastRoundSeconds: 0, lastCommitMs: 0 };
  private readonly connected = new Set<string>();
  private current: ActiveRound | null = null;
  private global: Float32Array;
  private readonly notifier = new Notifier();
  private stopped = false;
  /** Why run() returned early (budget exhausted, impossible privacy settings), if it did. */
  stopReason: string | null = null;
  private readonly clock: Clock;
  private readonly uniform: Uniform;
  private readonly randomBytes: (n: number) => Uint8Array;
  private readonly log: (line: string) => void;
  /** The SHA-512 (base64) of the latest model version's checkpoint, computed once per version. */
  private hashed: { version: number; hash: string } | null = null;

  constructor(private readonly deps: EngineDeps) {
    super();
    this.clock = deps.clock ?? systemClock;
    this.uniform = deps.uniform ?? cryptoUniform;
    this.randomBytes = deps.randomBytes ?? cryptoBytes;
    this.log = deps.log ?? (() => {});
    this.global = deps.store.latest().weights;
    const weighting = (deps.strategy as { weighting?: string }).weighting;
    if (deps.releases.mode === 'central' && weighting !== 'uniform') {
      throw new ConfigError(`central differential privacy needs a strategy with weighting 'uniform' (updates are sums of clipped contributions), got '${weighting}'`);
    }
  }

  /** ε spent so far and the budget (mode 'none' without DP). */
  privacyStatus(): PrivacyStatus {
    return this.deps.releases.status();
  }

  get round(): number {
    return this.current?.round ?? this.deps.store.round;
  }

  get modelVersion(): number {
    return this.deps.store.modelVersion;
  }

  get lineage(): string {
    return this.deps.store.lineage;
  }

  get clients(): number {
    return this.connected.size;
  }

  /** An authenticated client is connected and eligible. */
  join(clientId: string): void {
    this.connected.add(clientId);
    this.notifier.notify();
  }

  leave(clientId: string): void {
    this.connected.delete(clientId);
    this.notifier.notify();
  }

  stop(): void {
    this.stopped = true;
    this.notifier.notify();
  }

  private setState(s: RoundStateName): void {
    this.state = s;
    this.emit('state', s, this.round);
  }

  /** Runs rounds until `totalRounds` model versions exist or stop() is called. */
  async run(): Promise<void> {
    const releases = this.deps.releases;
    let first = true;
    while (!this.stopped && this.deps.store.modelVersion < this.deps.config.totalRounds) {
      // the budget is checked before waiting too, so a spent ledger shows at once after a restart
      if (releases.canPlanBeforeClients() && !this.planOrStop(Math.max(1, this.connected.size))) break;
      await this.waitForClients();
      if (this.stopped) break;
      const delay = this.deps.config.startDelayMs ?? 0;
      if (first && delay > 0) {
        this.log(`${this.connected.size} clients connected: the first round starts in ${delay / 1000}s (rounds.startDelaySeconds)`);
        await this.notifierWait(delay);
        if (this.stopped) break;
      }
      first = false;
      const release = this.planOrStop(this.connected.size);
      if (!release) break;
      await this.runRound(release);
      if (this.deps.config.pauseMs > 0) await this.notifierWait(this.deps.config.pauseMs);
    }
    if (this.state !== 'budget-exhausted') this.state = 'stopped';
    this.emit('stopped');
  }

  /** The next round's release, or null after stopping the engine with the reason. */
  private planOrStop(eligible: number): RoundRelease | null {
    const p = this.deps.releases.plan(eligible);
    if (p.ok) return p.release;
    this.log(`stopping before round ${this.deps.store.round + 1}: ${p.reason}`);
    if (p.exhausted) {
      this.setState('budget-exhausted');
      this.emit('budget-exhausted', p.reason);
    }
    this.stopReason = p.reason;
    return null;
  }

  private async notifierWait(ms: number): Promise<void> {
    const until = this.clock.now() + ms;
    while (!this.stopped && this.clock.now() < until) await this.notifier.wait(until - this.clock.now());
  }

  private async waitForClients(): Promise<void> {
    if (this.connected.size < this.deps.config.minClients) {
      this.setState('waiting');
      this.log(`waiting for clients: ${this.connected.size}/${this.deps.config.minClients} connected`);
    }
    while (!this.stopped && this.connected.size < this.deps.config.minClients) await this.notifier.wait(1000);
  }

  /** Base64 SHA-512 of a model version's checkpoint file (what clients check their download against). */
  private async modelHash(version: number): Promise<string> {
    if (this.hashed?.version === version) return this.hashed.hash;
    const bytes = await this.deps.store.modelBytes(version);
    if (!bytes) throw new Error(`model version ${version} is not in the store`);
    this.hashed = { version, hash: toBase64(this.deps.sha512(bytes)) };
    return this.hashed.hash;
  }

  private async makeTask(r: ActiveRound): Promise<Task> {
    const c = this.deps.config;
    return signTask(
      {
        round: r.round,
        modelVersion: r.fromVersion,
        lineage: this.deps.store.lineage,
        taskId: r.taskId,
        modelHash: await this.modelHash(r.fromVersion),
        deadline: r.deadline,
        // what is left of the round as the task leaves: clients time their work from its receipt
        durationMs: Math.max(1, Math.round(r.deadline - this.clock.now())),
        train: { ...c.train, proxMu: c.proxMu },
        privacy: r.release.taskPrivacy,
        codec: c.codec,
        evaluate: c.evaluate,
      },
      this.deps.signingKey,
    );
  }

  private async runRound(release: RoundRelease): Promise<void> {
    const c = this.deps.config;
    // User-level DP: every client is asked and samples its own users. Under DP the cap never drops a sampled client.
    const selection = release.askEveryone
      ? { clientsPerRound: Infinity, overSelect: 0, maxClients: Infinity }
      : release.capSelection
        ? c
        : { ...c, maxClients: Infinity };
    const sel = selectClients([...this.connected], selection, this.uniform);
    const now = this.clock.now();
    const r: ActiveRound = {
      round: this.deps.store.round + 1,
      fromVersion: this.deps.store.modelVersion,
      taskId: toBase64(this.randomBytes(TASK_ID_BYTES)),
      selected: new Set(sel.selected),
      target: Math.max(1, sel.target),
      submitted: new Set(),
      participants: [],
      refusals: [],
      refusalsNotListed: 0,
      refusalCounts: {},
      open: true,
      startedAt: now,
      deadline: now + c.deadlineMs,
      lastUpdateAt: now,
      evalCount: 0,
      evalSums: new Map(),
      evaluated: new Set(),
      serverMetrics: {},
      release,
    };
    this.current = r;
    this.deps.strategy.begin();
    this.setState('training');
    const closes = release.closeAtDeadline ? ', closes at the deadline' : '';
    this.log(`round ${r.round}: training from version ${r.fromVersion} with ${r.selected.size} of ${this.connected.size} clients (${release.askEveryone ? 'everyone' : sel.mode}), deadline ${c.deadlineMs / 1000}s${closes}`);
    const task = await this.makeTask(r);
    for (const id of r.selected) this.deps.transport.send(id, 'task', task);
    const serverEval = this.startServerEval(r);
    await this.waitForUpdates(r);
    // updates that reached the transport before the deadline count, however long they queued (they carry their arrival time)
    if (this.deps.transport.flush) await this.deps.transport.flush();
    r.open = false;
    r.serverMetrics = await serverEval;
    await this.close(r);
    this.current = null;
  }

  private async startServerEval(r: ActiveRound): Promise<Record<string, number>> {
    if (!this.deps.serverEval) return {};
    try {
      const m = await this.deps.serverEval(this.global, r.fromVersion);
      return Object.fromEntries(Object.entries(m).map(([k, v]) => [`server_${k}`, v]));
    } catch (err) {
      this.log(`round ${r.round}: server-side evaluation failed: ${(err as Error).message}`);
      return {};
    }
  }

  /**
   * Until the target is reached, every selected client has answered or left,
   * the deadline passes, or stop(); a release that closes at its deadline
   * (central DP) waits for the deadline whatever arrived, so when the model is
   * published says nothing about how many contributions there were.
   */
  private async waitForUpdates(r: ActiveRound): Promise<void> {
    for (;;) {
      if (this.stopped) return;
      const left = r.deadline - this.clock.now();
      if (left <= 0) return;
      if (!r.release.closeAtDeadline) {
        if (r.participants.length >= r.target) return;
        const outstanding = [...r.selected].filter((id) => !r.submitted.has(id) && this.connected.has(id));
        if (outstanding.length === 0) return;
      }
      await this.notifier.wait(left);
    }
  }

  private async close(r: ActiveRound): Promise<void> {
    const c = this.deps.config;
    const closedAt = this.clock.now();
    const base = {
      round: r.round,
      fromVersion: r.fromVersion,
      lineage: this.deps.store.lineage,
      strategy: this.deps.strategy.name,
      selected: [...r.selected].sort(),
      participants: r.participants,
      refusals: r.refusals,
      ...(r.refusalsNotListed > 0 ? { refusalsNotListed: r.refusalsNotListed } : {}),
      ...(Object.keys(r.refusalCounts).length > 0 ? { refusalCounts: r.refusalCounts } : {}),
      metrics: { ...r.serverMetrics, ...this.evalMetrics(r) },
    };
    // Under DP a started round always releases (noise alone if nobody contributed):
    // abandoning on a count of contributions would publish that count without noise.
    if (this.stopped || (r.release.needsQuorum && r.participants.length < c.quorum)) {
      const reason = this.stopped ? 'coordinator stopping' : `${r.participants.length} accepted updates, quorum is ${c.quorum}`;
      await this.abandon(r, base, closedAt, reason);
      return;
    }
    this.setState('aggregating');
    const t0 = performance.now();
    const out = this.aggregate(r);
    const entry = out.entry ?? undefined;
    if (typeof out.next === 'string') {
      await this.abandon(r, { ...base, ...(entry ? { privacy: entry } : {}) }, closedAt, out.next);
      if (entry) this.deps.releases.commit(entry); // its noise was drawn: charged although nothing was published
      return;
    }
    const next = out.next;
    const aggregateMs = performance.now() - t0;
    const record: RoundRecord = {
      ...base,
      ...(entry ? { privacy: entry } : {}),
      outcome: 'committed',
      modelVersion: r.fromVersion + 1,
      timings: { startedAt: r.startedAt, deadline: r.deadline, closedAt, aggregateMs },
    };
    const stored = await this.deps.store.commitRound(record, { weights: next, strategyState: this.deps.strategy.state() });
    if (entry) this.deps.releases.commit(entry);
    this.global = next;
    const committedAt = this.clock.now();
    this.stats.committed++;
    this.stats.lastRoundSeconds = (committedAt - r.startedAt) / 1000;
    this.stats.lastCommitMs = committedAt - r.lastUpdateAt;
    this.setState('committed');
    const eps = entry ? `; ε = ${entry.epsilon.toFixed(4)} of ${entry.targetEpsilon} (δ = ${entry.delta})` : '';
    this.log(`round ${r.round}: committed version ${record.modelVersion} from ${r.participants.length} updates in ${this.stats.lastRoundSeconds.toFixed(1)}s${eps}`);
    this.emit('round', stored);
    for (const id of this.connected) {
      this.deps.transport.send(id, 'modelPublished', { modelVersion: record.modelVersion, round: r.round, lineage: this.deps.store.lineage });
    }
  }

  /**
   * The next global weights (or why the round cannot produce them) and, under
   * DP, the round's ledger entry: once the noise is drawn the round counts as
   * released, even if the result is then abandoned.
   */
  private aggregate(r: ActiveRound): { next: Float32Array | string; entry: RoundRecord['privacy'] | null } {
    let entry: RoundRecord['privacy'] | null = null;
    try {
      const released = r.release.release(this.deps.strategy);
      entry = released.entry;
      const next = this.deps.strategy.apply(this.global, released.delta);
      for (let i = 0; i < next.length; i++) if (!Number.isFinite(next[i])) return { next: `aggregate has a non-finite value at ${i}`, entry };
      return { next, entry };
    } catch (err) {
      if (err instanceof ReleaseError) entry = err.entry;
      return { next: `aggregation failed: ${(err as Error).message}`, entry };
    }
  }

  private async abandon(r: ActiveRound, base: Omit<RoundRecord, 'outcome' | 'modelVersion' | 'timings' | 'reason'>, closedAt: number, reason: string): Promise<void> {
    const record: RoundRecord = { ...base, outcome: 'abandoned', modelVersion: r.fromVersion, reason, timings: { startedAt: r.startedAt, deadline: r.deadline, closedAt } };
    await this.deps.store.commitRound(record);
    this.stats.abandoned++;
    this.setState('abandoned');
    this.log(`round ${r.round}: abandoned (${reason})`);
    this.emit('round', record);
  }

  private evalMetrics(r: ActiveRound): Record<string, number> {
    if (r.evalCount === 0) return {};
    const out: Record<string, number> = {};
    for (const [k, { sum, count }] of r.evalSums) if (count > 0) out[k] = sum / count;
    // written last: a client's metric names cannot overwrite them
    Object.assign(out, { evaluatedVersion: r.fromVersion, evalUsers: r.evalCount, evalClients: r.evaluated.size });
    return out;
  }

  /** Counts a refusal in the engine's stats and the round's record (listed while there is room). */
  private countRefusal(r: ActiveRound | null, entry: Refusal): void {
    this.stats.refused.set(entry.code, (this.stats.refused.get(entry.code) ?? 0) + 1);
    if (!r) return;
    r.refusalCounts[entry.code] = (r.refusalCounts[entry.code] ?? 0) + 1;
    if (r.refusals.length < MAX_LISTED_REFUSALS) r.refusals.push({ ...entry, message: entry.message.slice(0, 300) });
    else r.refusalsNotListed++;
  }

  private refuse(clientId: string, round: number, err: ProtocolError, r: ActiveRound | null): void {
    this.countRefusal(r, { clientId, code: err.code, message: err.message, at: this.clock.now() });
    this.deps.transport.send(clientId, 'updateRejected', { round, code: err.code, message: err.message.slice(0, 500) });
    this.emit('refusal', clientId, err.code, err.message);
  }

  /**
   * Handles one submitted update from an authenticated client; `receivedAt`
   * (default now) is when the transport received it, judged against the
   * deadline. Never throws.
   */
  receiveUpdate(clientId: string, raw: unknown, receivedAt = this.clock.now()): void {
    const r = this.current;
    let round = 0;
    try {
      round = roundOf(raw);
      const key = this.deps.publicKeyOf(clientId);
      if (!key) throw new ProtocolError('unknown-identity', `client ${clientId} is not registered`);
      if (!r) throw new ProtocolError('round-closed', 'no round is accepting updates now');
      const c = this.deps.config;
      const { update, delta, norm } = validateUpdate(raw, {
        clientId,
        lineage: this.deps.store.lineage,
        round: r.round,
        taskId: r.taskId,
        open: r.open,
        fromVersion: r.fromVersion,
        selected: r.selected,
        submitted: r.submitted,
        deadline: r.deadline,
        now: receivedAt,
        size: this.global.length,
        maxBytes: c.maxUpdateBytes,
        check: (u) => r.release.check(u),
        publicKey: key,
        verifier: this.deps.verifier,
        sha512: this.deps.sha512,
      });
      const a = r.release.admit(update, norm);
      this.deps.strategy.add(delta, a.weight, a.scale);
      r.submitted.add(clientId);
      r.participants.push({ clientId, weight: update.weight, numExamples: update.numExamples, loss: update.metrics.loss, ...(a.bounded ? { bounded: true } : {}) });
      r.lastUpdateAt = this.clock.now();
      this.stats.accepted++;
      if (a.bounded) this.stats.bounded++;
      this.stats.bytesIn += update.payload.length;
      this.deps.transport.send(clientId, 'updateAck', { round: r.round, accepted: true });
      this.notifier.notify();
    } catch (err) {
      const pe = err instanceof ProtocolError ? err : new ProtocolError('internal', (err as Error).message);
      this.refuse(clientId, round, pe, r);
    }
  }

  /** Federated evaluation: a selected client's metric sums on the model it trained from. */
  receiveEvalReport(clientId: string, raw: unknown): void {
    const r = this.current;
    try {
      const rep = parseMessage('evalReport', raw);
      const key = this.deps.publicKeyOf(clientId);
      if (!key) throw new ProtocolError('unknown-identity', `client ${clientId} is not registered`);
      if (rep.clientId !== clientId) throw new ProtocolError('auth-failed', `report names ${rep.clientId}, the session is ${clientId}`);
      if (!r || rep.round !== r.round || rep.taskId !== r.taskId) throw new ProtocolError('stale-round', `evaluation report for round ${rep.round} is not for the current round's task`);
      if (rep.modelVersion !== r.fromVersion) throw new ProtocolError('stale-model', `evaluation of version ${rep.modelVersion}, round ${r.round} evaluates ${r.fromVersion}`);
      if (!r.selected.has(clientId)) throw new ProtocolError('not-selected', `client ${clientId} was not asked to evaluate`);
      if (r.evaluated.has(clientId)) throw new ProtocolError('replay', `client ${clientId} already reported an evaluation this round`);
      const signed = evalSigningBytes({
        protocolVersion: PROTOCOL_VERSION,
        lineage: this.deps.store.lineage,
        taskId: rep.taskId,
        round: rep.round,
        modelVersion: rep.modelVersion,
        clientId,
        count: rep.count,
        sums: rep.sums,
      });
      if (!this.deps.verifier.verify(signed, fromBase64(rep.signature), key)) throw new ProtocolError('bad-signature', 'evaluation report signature does not verify');
      for (const [k, v] of Object.entries(rep.sums)) {
        if (!Number.isFinite(v) || v < 0 || v > rep.count) throw new ProtocolError('schema', `sum ${k} = ${v} is outside [0, count]`);
      }
      r.evaluated.add(clientId);
      r.evalCount += rep.count;
      for (const [k, v] of Object.entries(rep.sums)) {
        if (EVAL_BOOKKEEPING.includes(k)) continue;
        const e = r.evalSums.get(k) ?? { sum: 0, count: 0 };
        e.sum += v;
        e.count += rep.count;
        r.evalSums.set(k, e);
      }
    } catch (err) {
      const pe = err instanceof ProtocolError ? err : new ProtocolError('internal', (err as Error).message);
      this.countRefusal(r, { clientId, code: pe.code, message: `evaluation: ${pe.message}`, at: this.clock.now() });
    }
  }
}
