// The participant, transport-agnostic and browser-safe: on a task it checks
// the coordinator's signature and its own privacy policy, gets the model
// version (checked against the hash in the signed task), evaluates it on its
// own held-out items (federated evaluation), fine-tunes it on its own data,
// and sends back the clipped, encoded and signed delta. Raw behaviour data
// never leaves this object.
import {
  ProtocolError,
  bytesEqual,
  cryptoRandom,
  encode,
  fromBase64,
  naclVerifier,
  sha512 as naclSha512,
  signedEvalReport,
  signedUpdate,
  verifyTask,
  type MessageInputs,
  type SignatureVerifier,
  type Task,
} from '../protocol/index.ts';
import { contribute, trainingStopsAt } from './contribution.ts';
import { PolicyError, policyViolation, unsafeTask, type PrivacyPolicy } from './policy.ts';
import { accumulateRanking, loadModel, readCheckpoint, type EvalCase, type Model, type UserSequence } from '../recommender/index.ts';

/** A client's own data, already mapped onto the federation's catalog. */
export interface LocalData {
  train: UserSequence[];
  /** Held-out next items for federated evaluation. */
  valid: EvalCase[];
  /** Held-out last items (never used in training or federated evaluation). */
  test: EvalCase[];
  users: number;
  /** Events on items outside the federation's catalog (skipped). */
  unknownItemEvents: number;
}

/**
 * Where a client's behaviour data comes from (files on a merchant's server,
 * IndexedDB in a browser, a generator in simulations): called once the first
 * checkpoint names the federation's catalog.
 */
export type DataSource = (itemIds: readonly string[]) => Promise<LocalData>;

export interface ClientIdentity {
  publicKey: Uint8Array;
  secretKey: Uint8Array;
}

/** How a client's messages leave it: typed by the protocol's message map. */
export type ClientSend = <K extends 'update' | 'evalReport'>(kind: K, msg: MessageInputs[K]) => void;

export interface ClientCoreDeps {
  clientId: string;
  identity: ClientIdentity;
  /** Loads the local data once the catalog (the checkpoint's item ids) is known. */
  loadData: DataSource;
  /** The safetensors checkpoint of a model version. */
  fetchModel: (version: number) => Promise<Uint8Array>;
  send: ClientSend;
  /**
   * The coordinator's Ed25519 public key (pinned, or learned at connect):
   * every task must carry its signature. null: not known yet (tasks are refused).
   */
  coordinatorKey: () => Uint8Array | null;
  /** Verifies the task signature (default tweetnacl; Node passes its native verifier). */
  verifier?: SignatureVerifier;
  /** SHA-512 for payload and model hashes (default tweetnacl's; Node passes its native one). */
  sha512?: (bytes: Uint8Array) => Uint8Array;
  /** The least protection this client trains under (default: any task). */
  policy?: PrivacyPolicy;
  /** Now in ms (default Date.now). Deadlines are timed from a task's receipt (its durationMs), not read off this clock. */
  now?: () => number;
  /**
   * Under DP, hold each update until the training cutoff before sending it,
   * so its arrival time says nothing about how many users were trained (the
   * socket client does; simulations, which have no timing channel, do not).
   */
  holdUntilCutoff?: boolean;
  /** Uniform [0,1) for int8 stochastic rounding and user sampling; a CSPRNG unless a simulation seeds it. */
  random?: () => number;
  /**
   * A model object to train in, owned by the caller (simulations share one
   * among many virtual clients); its weights are overwritten at every sync and
   * dispose() leaves it alone. Default: the core loads its own model from the
   * first checkpoint.
   */
  model?: Model;
  log?: (line: string) => void;
}

export interface TaskReport {
  round: number;
  loss: number;
  trainSeconds: number;
  /** Largest pre-clip norm among the contributions. */
  norm: number;
  clipped: boolean;
  /** Contributions in the update (users trained, or 1). */
  contributions: number;
  /** Contributions whose delta was not finite and was sent as zero. */
  nonFinite: number;
  /** Sampled users not trained before the time budget ended (user-level DP). */
  skipped: number;
  /** Whether the sum was projected onto the W·C ball (more users sampled than the task's maxContributions allows at full norm). */
  projected: boolean;
  /** How many users fit before the cutoff at the probe's pace (Infinity when no probe was needed). */
  fits: number;
  /** The task's W (user-level DP), for the operator's warnings. */
  maxContributions?: number;
  /** Seconds from the task's receipt to the training cutoff. */
  budgetSeconds: number;
  evaluated?: Record<string, number>;
}

export class ClientCore {
  private model: Model | null = null;
  private lineage: string | null = null;
  private version = -1;
  /** SHA-512 of the checkpoint the model was loaded from. */
  private loadedHash: Uint8Array | null = null;
  private data: LocalData | null = null;
  private readonly random: () => number;
  private readonly log: (line: string) => void;
  private readonly hash: (bytes: Uint8Array) => Uint8Array;
  private readonly now: () => number;
  /** Task ids already run, and the last round run, per lineage: a replayed task is refused. */
  private readonly ran = new Map<string, { round: number; taskIds: Set<string> }>();
  busy = false;

  constructor(private readonly deps: ClientCoreDeps) {
    this.random = deps.random ?? cryptoRandom();
    this.log = deps.log ?? (() => {});
    this.hash = deps.sha512 ?? naclSha512;
    this.now = deps.now ?? Date.now;
  }

  get localData(): LocalData | null {
    return this.data;
  }

  get currentModel(): Model | null {
    return this.model;
  }

  /** Makes the model hold the task's version (downloading it unless it is already loaded), checked against the task's hash. */
  async sync(task: Pick<Task, 'modelVersion' | 'lineage' | 'modelHash'>): Promise<Model> {
    const { modelVersion: version, lineage } = task;
    const expected = fromBase64(task.modelHash);
    // a version loaded ahead (prepare) or kept from the last task is used only if its bytes had the hash the signed task names
    if (this.model && this.version === version && this.lineage === lineage && this.loadedHash && bytesEqual(this.loadedHash, expected)) return this.model;
    const bytes = await this.deps.fetchModel(version);
    const hash = this.hash(bytes);
    if (!bytesEqual(hash, expected)) {
      throw new ProtocolError('bad-signature', `model version ${version} as downloaded does not match the hash in the signed task: refusing to train on it`);
    }
    await this.load(bytes, version, lineage);
    this.loadedHash = hash;
    return this.model!;
  }

  /**
   * Loads a model version ahead of its first task: the download, the local
   * data, and one warm-up training step on a synthetic user (the first step
   * compiles kernels), so a round's time goes to training and its probe times
   * a warm model. The version's hash is checked when a signed task names it.
   */
  async prepare(version: number, lineage: string): Promise<void> {
    if (this.model && this.version === version && this.lineage === lineage) return;
    const bytes = await this.deps.fetchModel(version);
    await this.load(bytes, version, lineage);
    this.loadedHash = this.hash(bytes);
    const model = this.model!;
    const weights = model.getWeights();
    const items = Int32Array.from({ length: 200 }, (_, i) => (i * 7919) % model.spec.config.numItems);
    await model.fitLocal([{ user: '\u0000fedrec-probe', items, types: new Uint8Array(items.length), ts: Float64Array.from(items, (_, i) => i) }], { epochs: 1, batchSize: 8, lr: 0.01, optimizer: 'sgd', seed: 1 });
    model.setWeights(weights);
  }

  /** Holds the checkpoint's weights in the model (loading the model and the local data the first time, or for a new lineage). */
  private async load(bytes: Uint8Array, version: number, lineage: string): Promise<void> {
    if (!this.model || this.lineage !== lineage) {
      if (!this.deps.model) this.model?.dispose();
      let checkpoint;
      if (this.deps.model) {
        checkpoint = readCheckpoint(bytes);
        this.model = this.deps.model;
        this.model.setWeights(checkpoint.weights);
      } else {
        const loaded = loadModel(bytes);
        this.model = loaded.model;
        checkpoint = loaded.checkpoint;
      }
      if (!checkpoint.itemIds) throw new Error(`model version ${version} does not carry its catalog`);
      this.data = await this.deps.loadData(checkpoint.itemIds);
      this.log(`data: ${this.data.users} users, ${this.data.train.length} training sequences, ${this.data.unknownItemEvents} events on items outside the catalog skipped`);
    } else {
      this.model.setWeights(readCheckpoint(bytes).weights);
    }
    this.version = version;
    this.lineage = lineage;
  }

  /** Federated evaluation: metric sums of the received model on this client's validation items. */
  private async evaluate(task: Task, model: Model): Promise<Record<string, number>> {
    const acc = await accumulateRanking((h) => model.scoreBatch(h), this.data!.valid, model.spec.config.numItems);
    const { lineage, taskId, round, modelVersion } = task;
    this.deps.send('evalReport', signedEvalReport({ lineage, taskId, round, modelVersion, clientId: this.deps.clientId, count: acc.count, sums: acc.sums }, this.deps.identity.secretKey));
    return acc.result();
  }

  /** Refuses a task the coordinator did not sign or this client's policy does not allow (throws, sends nothing). */
  private checkTask(task: Task): void {
    const key = this.deps.coordinatorKey();
    if (!key) throw new ProtocolError('not-authenticated', `task of round ${task.round}: the coordinator's key is not known yet`);
    if (!verifyTask(task, key, this.deps.verifier ?? naclVerifier)) {
      throw new ProtocolError('bad-signature', `task of round ${task.round} does not carry a valid signature of the coordinator's key: ignored`);
    }
    const unsafe = unsafeTask(task);
    if (unsafe) throw new PolicyError(`round ${task.round}: task refused: ${unsafe}`);
    const why = policyViolation(task, this.deps.policy ?? {});
    if (why) throw new PolicyError(`round ${task.round}: task refused by this client's privacy policy: ${why}`);
    // a signed task delivered again (by a relay, or a coordinator) would let whoever sees the updates difference several samples of one round
    const seen = this.ran.get(task.lineage);
    if (seen && (seen.taskIds.has(task.taskId) || task.round < seen.round)) {
      throw new ProtocolError('replay', `task ${task.taskId} of round ${task.round} was already run, or is older than round ${seen.round}: ignored`);
    }
  }

  private remember(task: Task): void {
    const seen = this.ran.get(task.lineage) ?? { round: 0, taskIds: new Set<string>() };
    seen.round = Math.max(seen.round, task.round);
    seen.taskIds.add(task.taskId);
    this.ran.set(task.lineage, seen);
  }

  /**
   * Runs one task to completion and sends the update. `receivedAt` (on the
   * `now` clock) is when the task arrived: the round's duration is counted
   * from it, so the client's clock need not agree with the coordinator's.
   */
  async handleTask(task: Task, receivedAt = this.now()): Promise<TaskReport> {
    this.busy = true;
    try {
      this.checkTask(task);
      this.remember(task);
      const deadline = task.durationMs !== undefined ? receivedAt + task.durationMs : task.deadline;
      const cutoff = trainingStopsAt(deadline, receivedAt);
      const model = await this.sync(task);
      const data = this.data!;
      const evaluate = task.evaluate && !this.deps.policy?.noEvaluation && data.valid.length > 0;
      const evaluated = evaluate ? await this.evaluate(task, model) : undefined;
      const c = await contribute(model, data.train, task, { clientId: this.deps.clientId, random: this.random, now: this.now, cutoff });
      // The model now holds local weights; the next task re-syncs from the coordinator.
      this.version = -1;
      const { lineage, taskId, round, modelVersion, codec } = task;
      const update = signedUpdate(
        {
          lineage,
          taskId,
          round,
          modelVersion,
          clientId: this.deps.clientId,
          codec,
          payload: encode(c.delta, codec, { random: this.random }),
          numExamples: c.numExamples,
          weight: c.weight,
          ...(c.clipCount !== undefined ? { clipCount: c.clipCount } : {}),
          metrics: { loss: Number.isFinite(c.loss) ? c.loss : undefined, trainSeconds: c.trainSeconds, users: data.users },
        },
        this.deps.identity.secretKey,
        this.hash,
      );
      if (task.privacy.mode === 'central' && this.deps.holdUntilCutoff) {
        const wait = cutoff - this.now();
        if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
      }
      this.deps.send('update', update);
      return {
        round,
        loss: c.loss,
        trainSeconds: c.trainSeconds,
        norm: c.maxNorm,
        clipped: c.clipped > 0,
        contributions: c.units,
        nonFinite: c.nonFinite,
        skipped: c.skipped,
        projected: c.projected,
        fits: c.fits,
        ...(task.privacy.maxContributions !== undefined ? { maxContributions: task.privacy.maxContributions } : {}),
        budgetSeconds: (cutoff - receivedAt) / 1000,
        evaluated,
      };
    } finally {
      this.busy = false;
    }
  }

  dispose(): void {
    if (!this.deps.model) this.model?.dispose();
    this.model = null;
  }
}
