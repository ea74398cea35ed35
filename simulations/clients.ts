// The client side of a simulation: virtual clients that turn tasks into
// signed updates with the production ClientCore. In this thread
// (`InProcessClients`) or spread over worker threads (`WorkerClients`, see
// clientWorker.ts). A client's work depends only on (seed, client id, round,
// model version), and each client always runs in the same worker
// (hash(client id) mod workers), so models' local state (MF user vectors)
// evolves the same way for any number of workers: results do not depend on it.
import { Worker } from 'node:worker_threads';
import { ClientCore, type LocalData } from '../client/index.ts';
import { cryptoRandom, type MessageInputs, type Task } from '../protocol/index.ts';
import { Ed25519Verifier, sha512Native } from '../protocol/node/index.ts';
import { Rng, hashString, type Model, type UserSequence } from '../recommender/index.ts';
import type { SimulationConfig } from './config.ts';
import { DerivedIdentities } from './identities.ts';
import type { Partition } from './partition.ts';

export interface TaskWithModel {
  clientId: string;
  task: Task;
}

export interface ClientUpdate {
  clientId: string;
  msg: MessageInputs['update'];
}

/**
 * Where clients' user sampling (and int8 rounding) draws from: 'seeded' from
 * (seed, client, round), reproducible; 'csprng' under DP, so nobody who knows
 * the run's public seed can tell who was sampled.
 */
export type SamplingSource = 'seeded' | 'csprng';

export interface InProcessOptions {
  seed: number;
  train: readonly UserSequence[];
  partition: Partition;
  /** The shared model object every virtual client trains in. */
  model: Model;
  /** The coordinator's public key (its store's), which signs every task. */
  coordinatorKey: Uint8Array;
  sampling: SamplingSource;
}

/** SHA-512 that hashes each model checkpoint once (every virtual client checks the same bytes). */
function memoHash(): (bytes: Uint8Array) => Uint8Array {
  const seen = new WeakMap<Uint8Array, Uint8Array>();
  return (bytes) => {
    let h = seen.get(bytes);
    if (!h) {
      h = sha512Native(bytes);
      seen.set(bytes, h);
    }
    return h;
  };
}

export interface ClientSide {
  /** Runs the tasks (each against `modelBytes` of its version) and returns the updates the clients sent. */
  run(tasks: TaskWithModel[], modelBytes: (version: number) => Promise<Uint8Array>): Promise<ClientUpdate[]>;
  close(): Promise<void>;
}

/** Virtual clients in this thread, training one after another in one shared model object. */
export class InProcessClients implements ClientSide {
  private readonly identities: DerivedIdentities;
  private readonly verifier = new Ed25519Verifier();
  private readonly hash = memoHash();

  constructor(private readonly o: InProcessOptions) {
    this.identities = new DerivedIdentities(o.seed);
  }

  private dataOf(clientId: string): LocalData {
    const users = this.o.partition.usersOf(clientId);
    return { train: users.map((u) => this.o.train[u]), valid: [], test: [], users: users.length, unknownItemEvents: 0 };
  }

  private randomFor(clientId: string, round: number): () => number {
    if (this.o.sampling === 'csprng') return cryptoRandom();
    const rng = new Rng((hashString(clientId) ^ Math.imul(round, 0x9e3779b1) ^ this.o.seed) >>> 0);
    return () => rng.next();
  }

  async run(tasks: TaskWithModel[], modelBytes: (version: number) => Promise<Uint8Array>): Promise<ClientUpdate[]> {
    const out: ClientUpdate[] = [];
    for (const { clientId, task } of tasks) {
      const core = new ClientCore({
        clientId,
        identity: this.identities.get(clientId),
        loadData: async () => this.dataOf(clientId),
        fetchModel: modelBytes,
        send: (kind, msg) => {
          if (kind === 'update') out.push({ clientId, msg: msg as MessageInputs['update'] });
        },
        coordinatorKey: () => this.o.coordinatorKey,
        verifier: this.verifier,
        sha512: this.hash,
        random: this.randomFor(clientId, task.round),
        model: this.o.model,
      });
      await core.handleTask(task);
      core.dispose();
    }
    return out;
  }

  async close(): Promise<void> {}
}

/** The worker a client always runs in. */
export function workerOf(clientId: string, workers: number): number {
  return hashString(clientId) % workers;
}

interface Pending {
  resolve: (u: ClientUpdate[]) => void;
  reject: (e: Error) => void;
}

/** Virtual clients spread over worker threads; each worker loads the data and builds its own model from the config. */
export class WorkerClients implements ClientSide {
  private readonly workers: Worker[] = [];
  private readonly pending = new Map<number, Pending>();
  private readonly sentVersions: Array<Set<number>> = [];
  private nextId = 1;

  constructor(cfg: SimulationConfig, count: number, coordinatorKey: Uint8Array, sampling: SamplingSource) {
    const entry = new URL('./clientWorker.mjs', import.meta.url);
    for (let i = 0; i < count; i++) {
      const w = new Worker(entry, { workerData: { cfg, coordinatorKey, sampling } });
      w.on('message', (m: { id: number; updates?: ClientUpdate[]; error?: string }) => {
        const p = this.pending.get(m.id);
        if (!p) return;
        this.pending.delete(m.id);
        if (m.error !== undefined) p.reject(new Error(`simulation worker ${i}: ${m.error}`));
        else p.resolve(m.updates!);
      });
      w.on('error', (err) => {
        for (const p of this.pending.values()) p.reject(err);
        this.pending.clear();
      });
      this.workers.push(w);
      this.sentVersions.push(new Set());
    }
  }

  async run(tasks: TaskWithModel[], modelBytes: (version: number) => Promise<Uint8Array>): Promise<ClientUpdate[]> {
    const byWorker = this.workers.map((): TaskWithModel[] => []);
    for (const t of tasks) byWorker[workerOf(t.clientId, this.workers.length)].push(t);
    const results = await Promise.all(byWorker.map((ts, i) => (ts.length ? this.send(i, ts, modelBytes) : Promise.resolve([]))));
    return results.flat();
  }

  private async send(i: number, tasks: TaskWithModel[], modelBytes: (version: number) => Promise<Uint8Array>): Promise<ClientUpdate[]> {
    // each model version crosses to a worker once
    const models: Record<number, Uint8Array> = {};
    for (const v of new Set(tasks.map((t) => t.task.modelVersion))) {
      if (!this.sentVersions[i].has(v)) {
        models[v] = await modelBytes(v);
        this.sentVersions[i].add(v);
      }
    }
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      this.workers[i].postMessage({ id, tasks, models });
    });
  }

  async close(): Promise<void> {
    await Promise.all(this.workers.map((w) => w.terminate()));
  }
}
