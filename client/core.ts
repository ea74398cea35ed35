// The participant, transport-agnostic and browser-safe: on a task it gets the
// model version, evaluates it on its own held-out items (federated
// evaluation), fine-tunes it on its own data, and sends back the clipped,
// encoded and signed delta. Raw behaviour data never leaves this object.
import {
  PROTOCOL_VERSION,
  cryptoRandom,
  encode,
  evalSigningBytes,
  sha512,
  sign,
  toBase64,
  updateSigningBytes,
  type Task,
} from '../protocol/index.ts';
import { contribute } from './contribution.ts';
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

export type ClientSend = (kind: 'update' | 'evalReport', msg: Record<string, unknown>) => void;

export interface ClientCoreDeps {
  clientId: string;
  identity: ClientIdentity;
  /** Loads the local data once the catalog (the checkpoint's item ids) is known. */
  loadData: DataSource;
  /** The safetensors checkpoint of a model version. */
  fetchModel: (version: number) => Promise<Uint8Array>;
  send: ClientSend;
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
  /** Contributions in the update (users sampled, or 1). */
  contributions: number;
  evaluated?: Record<string, number>;
}

export class ClientCore {
  private model: Model | null = null;
  private lineage: string | null = null;
  private version = -1;
  private data: LocalData | null = null;
  private readonly random: () => number;
  private readonly log: (line: string) => void;
  busy = false;

  constructor(private readonly deps: ClientCoreDeps) {
    this.random = deps.random ?? cryptoRandom();
    this.log = deps.log ?? (() => {});
  }

  get localData(): LocalData | null {
    return this.data;
  }

  get currentModel(): Model | null {
    return this.model;
  }

  /** Makes the model hold `version` (downloading it unless it is already loaded). */
  async sync(version: number, lineage: string): Promise<Model> {
    if (this.model && this.version === version && this.lineage === lineage) return this.model;
    const bytes = await this.deps.fetchModel(version);
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
    return this.model;
  }

  /** Federated evaluation: metric sums of the received model on this client's validation items. */
  private async evaluate(task: Task, model: Model): Promise<Record<string, number>> {
    const acc = await accumulateRanking((h) => model.scoreBatch(h), this.data!.valid, model.spec.config.numItems);
    const msg = { round: task.round, modelVersion: task.modelVersion, clientId: this.deps.clientId, count: acc.count, sums: acc.sums };
    const signature = sign(evalSigningBytes({ protocolVersion: PROTOCOL_VERSION, ...msg }), this.deps.identity.secretKey);
    this.deps.send('evalReport', { ...msg, signature: toBase64(signature) });
    return acc.result();
  }

  /** Runs one task to completion and sends the update. */
  async handleTask(task: Task): Promise<TaskReport> {
    this.busy = true;
    try {
      const model = await this.sync(task.modelVersion, task.lineage);
      const data = this.data!;
      const evaluated = task.evaluate && data.valid.length > 0 ? await this.evaluate(task, model) : undefined;
      const c = await contribute(model, data.train, task, { clientId: this.deps.clientId, random: this.random });
      // The model now holds local weights; the next task re-syncs from the coordinator.
      this.version = -1;
      const payload = encode(c.delta, task.codec, { random: this.random });
      const payloadHash = toBase64(sha512(payload));
      const fields = {
        round: task.round,
        modelVersion: task.modelVersion,
        clientId: this.deps.clientId,
        payloadHash,
        numExamples: c.numExamples,
        weight: c.weight,
        ...(c.clipCount !== undefined ? { clipCount: c.clipCount } : {}),
      };
      const signature = sign(updateSigningBytes({ protocolVersion: PROTOCOL_VERSION, ...fields }), this.deps.identity.secretKey);
      this.deps.send('update', {
        ...fields,
        codec: task.codec,
        payload,
        signature: toBase64(signature),
        metrics: { loss: Number.isFinite(c.loss) ? c.loss : undefined, trainSeconds: c.trainSeconds, users: data.users },
      });
      return { round: task.round, loss: c.loss, trainSeconds: c.trainSeconds, norm: c.maxNorm, clipped: c.clipped > 0, contributions: c.units, evaluated };
    } finally {
      this.busy = false;
    }
  }

  dispose(): void {
    if (!this.deps.model) this.model?.dispose();
    this.model = null;
  }
}
