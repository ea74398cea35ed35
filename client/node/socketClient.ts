// The Node client's socket.io transport: authenticates (signs the server's
// nonce), runs tasks through ClientCore, reconnects with backoff after a
// coordinator restart, downloads model versions and uploads updates over HTTP
// (with the upload token each task carries).
import { io, type Socket } from 'socket.io-client';
import { PROTOCOL_VERSION, authMessage, bytesEqual, fromBase64, parseMessage, publicKeyFingerprint, sign, toBase64, type MessageInputs, type Task } from '../../protocol/index.ts';
import { Ed25519Verifier, sha512Native } from '../../protocol/node/index.ts';
import { ClientCore, type ClientIdentity, type DataSource, type TaskReport } from '../core.ts';
import type { PrivacyPolicy } from '../policy.ts';
import { uploadUpdate } from './upload.ts';

export interface SocketClientOptions {
  server: string;
  clientId: string;
  name?: string;
  identity: ClientIdentity;
  loadData: DataSource;
  log?: (line: string) => void;
  onTaskDone?: (r: TaskReport) => void;
  /** Called when the coordinator refuses this client (fatal: wrong key, not registered, ...). */
  onRefusal?: (code: string, message: string) => void;
  /**
   * The coordinator's public key, pinned: a coordinator presenting another is
   * refused. Unset: the key of the first coordinator this process connects to
   * is trusted from then on (and its fingerprint logged to pin it).
   */
  coordinatorKey?: Uint8Array;
  /** The least protection this client trains under. */
  policy?: PrivacyPolicy;
}

/** Refusals reconnecting cannot fix. */
const FATAL_REFUSALS = ['unknown-identity', 'bad-version', 'version-too-new', 'version-too-old'];

export async function fetchModel(server: string, version: number): Promise<Uint8Array> {
  const res = await fetch(`${server}/api/models/${version}`);
  if (!res.ok) throw new Error(`GET /api/models/${version}: HTTP ${res.status}`);
  return new Uint8Array(await res.arrayBuffer());
}

/** What a merchant's operator must hear about a DP task's update: zeroed users, a truncated or projected sum, a deadline too short for the worst case. */
export function taskWarnings(task: Task, r: TaskReport): string[] {
  const out: string[] = [];
  if (r.nonFinite > 0) out.push(`${r.nonFinite} contribution(s) had non-finite values (training diverged) and were sent as zero`);
  if (r.skipped > 0) {
    out.push(
      `${r.skipped} sampled users were not trained (${Number.isFinite(r.fits) ? `${r.fits} fit before the cutoff` : 'the cutoff came first'}): ` +
        'with more users sampled than fit, one user can displace another, which the accountant does not cover; raise rounds.deadlineSeconds (the coordinator) so W users fit',
    );
  }
  if (r.projected) out.push(`the sum was shortened to ${task.privacy.maxContributions} × the clip (more users sampled than privacy.maxUsersPerClient allows at full norm)`);
  const w = r.maxContributions;
  if (task.privacy.mode === 'central' && w !== undefined && r.fits < w) {
    out.push(`only ${r.fits} users of the largest size fit in this round's ${r.budgetSeconds.toFixed(0)}s (W = ${w}): raise rounds.deadlineSeconds so a sample of W fits`);
  }
  return out;
}

export class SocketClient {
  readonly core: ClientCore;
  private readonly socket: Socket;
  private readonly log: (line: string) => void;
  private queue: Promise<void> = Promise.resolve();
  /** Upload tokens of the tasks received, by round (tasks run one at a time, so this holds one or two). */
  private readonly uploads = new Map<number, { token: string; deadline: number }>();
  /** The upload of the task running now. */
  private upload: Promise<void> | null = null;
  status = { connected: false, tasks: 0, accepted: 0, rejected: 0, lastRejection: '' };
  /** Set by a refusal that reconnecting cannot fix (unregistered key, unsupported protocol). */
  private fatal: string | null = null;
  private stopping = false;
  /** The coordinator key tasks must be signed with: pinned, or the first one seen. */
  private coordinatorKey: Uint8Array | null;

  constructor(private readonly o: SocketClientOptions) {
    this.log = o.log ?? (() => {});
    this.coordinatorKey = o.coordinatorKey ?? null;
    this.socket = io(o.server, {
      transports: ['websocket'],
      reconnection: true,
      reconnectionDelay: 500,
      reconnectionDelayMax: 10_000,
      randomizationFactor: 0.5,
      autoConnect: false,
    });
    this.core = new ClientCore({
      clientId: o.clientId,
      identity: o.identity,
      loadData: o.loadData,
      fetchModel: (v) => fetchModel(o.server, v),
      coordinatorKey: () => this.coordinatorKey,
      verifier: new Ed25519Verifier(),
      sha512: sha512Native,
      policy: o.policy,
      holdUntilCutoff: true,
      send: (kind, msg) => {
        if (kind === 'update') {
          this.upload = this.sendUpdate(msg as MessageInputs['update']);
          return;
        }
        // Only while authenticated: socket.io would buffer it across a reconnect and
        // deliver it before hello, which the coordinator refuses (and disconnects).
        if (this.status.connected) this.socket.emit(kind, msg);
        else this.log(`${kind} for a task dropped: not connected (the coordinator may have restarted)`);
      },
      log: this.log,
    });
    this.wire();
  }

  private wire(): void {
    const s = this.socket;
    s.on('connect', () => {
      s.emit('hello', {
        protocolVersion: PROTOCOL_VERSION,
        clientId: this.o.clientId,
        publicKey: toBase64(this.o.identity.publicKey),
        name: this.o.name,
        kind: 'merchant',
        capabilities: { codecs: ['f32', 'f16', 'int8'] },
      });
    });
    s.on('challenge', (raw: unknown) => {
      try {
        const c = parseMessage('challenge', raw);
        const signature = sign(authMessage(c.nonce, this.o.clientId), this.o.identity.secretKey);
        s.emit('auth', { clientId: this.o.clientId, signature: toBase64(signature) });
      } catch (err) {
        this.log(`bad challenge from the coordinator: ${(err as Error).message}`);
        s.disconnect();
      }
    });
    s.on('welcome', (raw: unknown) => {
      const w = parseMessage('welcome', raw);
      const key = fromBase64(w.coordinatorKey);
      if (this.coordinatorKey && !bytesEqual(key, this.coordinatorKey)) {
        this.fatal = 'coordinator-key';
        this.log(
          `the coordinator presents key ${publicKeyFingerprint(key)}, not the ${this.o.coordinatorKey ? 'pinned' : 'first seen'} ${publicKeyFingerprint(this.coordinatorKey)}: ` +
            'refusing its tasks and disconnecting (a different coordinator, or a tampered connection)',
        );
        s.disconnect();
        return;
      }
      if (!this.coordinatorKey) {
        this.coordinatorKey = key;
        this.log(`trusting coordinator key ${w.coordinatorKey} (not pinned: pass --coordinator-key to refuse any other)`);
      }
      this.status.connected = true;
      // load the current version and the local data now, so the first task's time goes to training
      if (w.modelVersion >= 0) {
        this.queue = this.queue.then(() =>
          this.core.prepare(w.modelVersion, w.catalogId).catch((err: Error) => this.log(`could not load model version ${w.modelVersion} ahead of the first task: ${err.message}`)),
        );
      }
      this.log(`connected as ${w.clientId}: round ${w.round} (${w.state}), model version ${w.modelVersion}`);
    });
    s.on('refusal', (raw: { code?: string; message?: string }) => {
      const code = String(raw?.code);
      if (FATAL_REFUSALS.includes(code)) this.fatal = code;
      this.o.onRefusal?.(code, String(raw?.message));
      this.log(`refused by the coordinator: ${code}: ${raw?.message}${this.fatal ? ' (not retrying)' : ''}`);
    });
    s.on('task', (raw: unknown) => {
      let task: Task;
      try {
        task = parseMessage('task', raw);
      } catch (err) {
        this.log(`ignoring a malformed task: ${(err as Error).message}`);
        return;
      }
      // one task at a time, in arrival order; its time runs from now (durationMs), whatever the two clocks say
      const receivedAt = Date.now();
      const deadline = task.durationMs !== undefined ? receivedAt + task.durationMs : task.deadline;
      if (task.upload) this.uploads.set(task.round, { token: task.upload.token, deadline });
      this.queue = this.queue.then(() => this.runTask(task, receivedAt, deadline));
    });
    s.on('updateAck', () => {
      this.status.accepted++;
    });
    s.on('updateRejected', (raw: { round?: number; code?: string; message?: string }) => {
      this.status.rejected++;
      this.status.lastRejection = `${raw?.code}: ${raw?.message}`;
      this.log(`round ${raw?.round}: update rejected: ${raw?.code}: ${raw?.message}`);
    });
    s.on('disconnect', (reason) => {
      this.status.connected = false;
      if (this.stopping) return;
      if (this.fatal) {
        this.log(`disconnected (${reason}); not reconnecting after refusal ${this.fatal}`);
        return;
      }
      this.log(`disconnected (${reason}); reconnecting with backoff`);
      // socket.io-client reconnects by itself except after a server-side disconnect
      if (reason === 'io server disconnect') setTimeout(() => !this.stopping && s.connect(), 1000);
    });
  }

  /** POSTs the update with its task's upload token; the engine's verdict comes back over the socket. */
  private async sendUpdate(msg: MessageInputs['update']): Promise<void> {
    const round = msg.round;
    const grant = this.uploads.get(round);
    this.uploads.delete(round);
    if (!grant) {
      this.log(`round ${round}: the task carried no upload token (a coordinator older than this client?): update not sent`);
      return;
    }
    const r = await uploadUpdate(msg as Parameters<typeof uploadUpdate>[0], { server: this.o.server, token: grant.token, deadline: grant.deadline });
    if (r.ok) return;
    this.status.rejected++;
    this.status.lastRejection = `${r.code ?? r.status ?? 'network'}: ${r.message}`;
    this.log(`round ${round}: upload refused after ${r.attempts} attempt(s): ${r.status ? `HTTP ${r.status} ` : ''}${r.code ? `${r.code}: ` : ''}${r.message}`);
  }

  private async runTask(task: Task, receivedAt: number, deadline: number): Promise<void> {
    if (Date.now() > deadline) {
      this.uploads.delete(task.round);
      this.log(`round ${task.round}: task dropped: its deadline passed while the previous task ran`);
      return;
    }
    try {
      this.status.tasks++;
      this.upload = null;
      const r = await this.core.handleTask(task, receivedAt);
      await this.upload;
      this.o.onTaskDone?.(r);
      const what = task.privacy.mode === 'central' && task.privacy.unit === 'user' ? `${r.contributions} users trained, largest user update norm` : 'update norm';
      this.log(`round ${r.round}: trained in ${r.trainSeconds.toFixed(1)}s, loss ${r.loss.toFixed(4)}, ${what} ${r.norm.toFixed(3)}${r.clipped ? ` (clipped to ${task.privacy.clipNorm})` : ''}`);
      for (const warning of taskWarnings(task, r)) this.log(`round ${r.round}: warning: ${warning}`);
    } catch (err) {
      this.log(`round ${task.round}: task failed: ${(err as Error).message}`);
    }
  }

  /**
   * Loads the coordinator's current model version and the local data, then
   * connects: the coordinator counts this client (and may start a round) only
   * once it is ready to train, so a first round's time goes to training. A
   * coordinator that cannot be reached yet is simply joined later (the welcome
   * loads the version then).
   */
  async start(): Promise<void> {
    try {
      const res = await fetch(`${this.o.server}/api/status`);
      if (res.ok) {
        const st = (await res.json()) as { modelVersion?: unknown; lineage?: unknown };
        if (typeof st.modelVersion === 'number' && typeof st.lineage === 'string') await this.core.prepare(st.modelVersion, st.lineage);
      }
    } catch (err) {
      this.log(`could not load the current model before connecting (${(err as Error).message}); connecting anyway`);
    }
    if (!this.stopping) this.socket.connect();
  }

  async stop(): Promise<void> {
    this.stopping = true;
    this.socket.disconnect();
    await this.queue.catch(() => {});
    this.core.dispose();
  }
}
