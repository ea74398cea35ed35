// `fedrec simulate`: the production round code with virtual clients. A real
// RoundEngine (selection, validation, strategies, DP noise, accountant, store)
// talks through the in-memory transport to real ClientCores (local training,
// per-user clipping, encoding, signing); nothing here re-implements a round.
//
// Reproducibility: selection, client training, user sampling and codec
// rounding are seeded; a round's updates reach the engine sorted by client id,
// so the float sums are the same however the clients were scheduled. DP noise
// comes from the CSPRNG unless `seededNoise` is set (recorded in the summary).
// Memory: one shared model object trains every virtual client in turn (per
// worker thread with `workers` > 1, see clients.ts); a client's data is its
// users' sequences (views, not copies); nothing of a client is kept between
// rounds except a model's own local state (MF user vectors).
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { lineageOf } from '../coordinator/coordinator.ts';
import { PrivacyController, RoundEngine, type EngineConfig, type PrivacySettings } from '../coordinator/engine/index.ts';
import { Store } from '../coordinator/store/index.ts';
import { createStrategy } from '../coordinator/strategies/index.ts';
import type { RoundRecord } from '../coordinator/types.ts';
import { CryptoRandomSource, SeededRandomSource } from '../privacy/index.ts';
import { CODEC_HEADER_BYTES, PROTOCOL_VERSION, decode, encode, sha512, sign, toBase64, updateSigningBytes } from '../protocol/index.ts';
import { Ed25519Verifier, sha512Native } from '../protocol/node/index.ts';
import { Rng, createModel, evaluateModel, leaveOneOut, type Model, type ModelName } from '../recommender/index.ts';
import { loadDataset } from '../recommender/node/index.ts';
import type { SimulationConfig } from './config.ts';
import { DerivedIdentities } from './identities.ts';
import { InProcessClients, WorkerClients, type ClientSide } from './clients.ts';
import { MemoryTransport, type TaskFor } from './memoryTransport.ts';
import { categorySkew, formatPartition, parsePartition, partitionUsers, type Partition } from './partition.ts';

export interface RoundRow {
  round: number;
  clients: number;
  /** Contributions under DP (users, or clients), else clients. */
  contributions: number;
  train_loss: number | null;
  'val_hr@10': number;
  'val_ndcg@10': number;
  epsilon: number | null;
  seconds: number;
  /** Seconds the round's clients spent (sync, local training, encoding, signing), one after another. */
  client_seconds: number;
  /** Metrics from SimulationHooks.extraMetrics, when given. */
  extra?: Record<string, number>;
}

export interface SimulationSummary {
  data: string;
  model: ModelName;
  partition: string;
  clients: number;
  users: number;
  items: number;
  rounds: number;
  clients_per_round: number | null;
  q: number | null;
  dp: 'none' | 'central';
  epsilon: number | null;
  delta: number | null;
  noise_multiplier: number | null;
  noise_source: 'csprng' | 'seeded' | null;
  covered: boolean | null;
  category_skew: number;
  'hr@10': number;
  'ndcg@10': number;
  mrr: number;
  'val_ndcg@10': number;
  seconds: number;
  stopped: string | null;
}

export interface SimulationResult {
  rows: RoundRow[];
  summary: SimulationSummary;
  /** The store directory (checkpoints, rounds.jsonl). */
  storeDir: string;
  finalWeights: Float32Array;
  records: RoundRecord[];
  /** Client tasks run and the seconds they took (sync, local training, encoding, signing): the clients' share of the run. */
  clientTasks: number;
  clientSeconds: number;
}

export interface SimulationHooks {
  log?: (line: string) => void;
  /** Also pass the round engine's own log lines (selection, commits) to `log`. */
  verbose?: boolean;
  /** After each committed round (with its validation metrics). */
  onRound?: (row: RoundRow) => void;
  /**
   * Sees every client's update as the coordinator receives it (the attack
   * lab's adversary): the decoded payload, the client's user indices (into the
   * data's sequences) and its weight. Called before the engine checks it.
   */
  observeUpdate?: (u: ObservedUpdate) => void;
  /**
   * Lets a simulation replace a client's update before it is signed (the
   * attack lab's malicious clients): return a new delta, or undefined to keep
   * the honest one.
   */
  tamper?: (clientId: string, round: number, delta: Float32Array) => Float32Array | undefined;
  /** More metrics of each committed model (e.g. an attack's target exposure), merged into its row's `extra`. */
  extraMetrics?: (model: Model, round: number) => Promise<Record<string, number>>;
}

export interface ObservedUpdate {
  clientId: string;
  round: number;
  delta: Float32Array;
  weight: number;
  users: readonly number[];
}

/**
 * Learning rate and optimizer defaults: SGD with lr 1 where a client is one
 * user (per-user partition) or each user trains alone (DP-FedAvg), since one
 * Adam step on one user's sequence moves every touched weight by ±lr whatever
 * its gradient; Adam with lr 0.001 for merchants and iid groups without DP.
 */
function trainSettings(cfg: SimulationConfig): { lr: number; optimizer: 'adam' | 'sgd' } {
  const optimizer = cfg.optimizer ?? (cfg.dp === 'central' || cfg.partition === 'per-user' ? 'sgd' : 'adam');
  return { optimizer, lr: cfg.lr ?? (optimizer === 'sgd' ? 1 : 0.001) };
}

function privacySettings(cfg: SimulationConfig, partition: Partition, users: number): PrivacySettings {
  const perUser = partition.spec.kind === 'per-user';
  let maxUsers = 1;
  for (const c of partition.clients) maxUsers = Math.max(maxUsers, partition.usersOf(c).length);
  return {
    mode: 'central',
    // a per-user client is one user: client-level DP is user-level DP
    unit: perUser ? 'client' : 'user',
    targetEpsilon: cfg.targetEpsilon ?? Number.MAX_VALUE,
    delta: cfg.delta,
    noiseMultiplier: cfg.noise ?? 'auto',
    sampleRate: perUser ? undefined : cfg.q,
    population: perUser ? partition.clients.length : users,
    maxContributions: perUser ? 1 : maxUsers,
    clip: cfg.adaptiveClip ? { adaptive: { initialNorm: cfg.clip } } : { norm: cfg.clip },
  };
}

function engineConfig(cfg: SimulationConfig, partition: Partition, size: number): EngineConfig {
  const perUser = partition.spec.kind === 'per-user';
  const { lr, optimizer } = trainSettings(cfg);
  return {
    totalRounds: cfg.rounds,
    clientsPerRound: Math.min(cfg.clientsPerRound, partition.clients.length),
    // per-user: q samples clients; otherwise q (under DP) samples users inside each client
    sampleRate: perUser ? cfg.q : undefined,
    overSelect: 0,
    maxClients: Math.max(partition.clients.length, 1),
    minClients: 1,
    quorum: 1,
    deadlineMs: 24 * 3600 * 1000,
    pauseMs: 0,
    train: { epochs: cfg.localEpochs, lr, batchSize: cfg.batchSize, optimizer },
    proxMu: cfg.strategy === 'fedprox' ? (cfg.proxMu ?? 0.01) : (cfg.proxMu ?? 0),
    codec: 'f32',
    maxUpdateBytes: size * 4 + CODEC_HEADER_BYTES + 1024,
    clipNorm: null,
    evaluate: false,
  };
}

/** Runs one simulation into `dir` (which must not hold a previous run's store). */
export async function runSimulation(cfg: SimulationConfig, dir: string, hooks: SimulationHooks = {}): Promise<SimulationResult> {
  const log = hooks.log ?? (() => {});
  const started = performance.now();
  const { dataset, describe } = await loadDataset(cfg.data, { fixedVocabulary: cfg.data.startsWith('synthetic') });
  const sequences = dataset.sequences;
  if (sequences.length === 0) throw new Error(`data spec ${cfg.data} has no users`);
  const split = leaveOneOut(sequences);
  const numItems = dataset.catalog.size;
  const spec = parsePartition(cfg.partition);
  const categoryOf = (i: number) => dataset.catalog.meta(i).category;
  const partition = partitionUsers(sequences, spec, categoryOf, cfg.seed);
  const skew = categorySkew(sequences, partition, categoryOf);
  log(`data: ${describe}: ${sequences.length} users, ${numItems} items; partition ${formatPartition(spec)}: ${partition.clients.length} clients, category skew ${skew.toFixed(3)}`);

  // evaluation has its own model object: MF user vectors trained by clients stay with the clients (as in production),
  // so central evaluation folds users in, the same for any number of workers
  const model = createModel(cfg.model, { ...cfg.modelConfig, numItems }, cfg.seed);
  const trainModel = cfg.workers > 1 ? null : createModel(cfg.model, { ...cfg.modelConfig, numItems }, cfg.seed);
  const size = model.spec.size;
  const itemIds = dataset.catalog.ids;
  const lineage = lineageOf(itemIds, cfg.model, model.spec.config);
  const dp = cfg.dp === 'central';
  const strategy = createStrategy({
    name: cfg.strategy,
    size,
    serverLr: cfg.serverLr,
    weighting: dp ? 'uniform' : 'examples',
    ...(cfg.strategy === 'fedavgm' ? { momentum: cfg.momentum } : {}),
    ...(cfg.strategy === 'fedadam' || cfg.strategy === 'fedyogi' ? { beta1: cfg.beta1, beta2: cfg.beta2, tau: cfg.tau } : {}),
    ...(cfg.strategy === 'fedprox' ? { proxMu: cfg.proxMu } : {}),
  });
  const storeDir = join(dir, 'store');
  mkdirSync(dir, { recursive: true });
  const store = await Store.open(storeDir, { init: { lineage, spec: model.spec, itemIds, initialWeights: model.getWeights(), strategyState: strategy.state() } });
  if (store.round > 0) {
    await store.close();
    throw new Error(`${dir} already holds a simulation (${store.round} rounds); choose another --out or remove it`);
  }
  const noiseSource = cfg.seededNoise ? new SeededRandomSource(cfg.seed) : new CryptoRandomSource();
  const privacy = dp
    ? new PrivacyController({
        settings: privacySettings(cfg, partition, sequences.length),
        selection: { sampleRate: spec.kind === 'per-user' ? cfg.q : undefined, clientsPerRound: cfg.clientsPerRound, maxClients: partition.clients.length },
        totalRounds: cfg.rounds,
        size,
        records: [],
        random: noiseSource,
        log,
      })
    : undefined;
  const identities = new DerivedIdentities(cfg.seed);
  const registered = new Set(partition.clients);
  const selectRng = new Rng((cfg.seed ^ 0x5e1ec7) >>> 0);
  const rows: RoundRow[] = [];
  const records: RoundRecord[] = [];
  let evalPending: RoundRecord | null = null;
  let clientTasks = 0;
  let clientSeconds = 0;
  const clientSecondsOf = new Map<number, number>();

  /** Validation metrics of the latest committed version (before the next round trains). */
  const evaluatePending = async (): Promise<void> => {
    const r = evalPending;
    if (!r) return;
    evalPending = null;
    model.setWeights(store.latest().weights);
    const m = await evaluateModel(model, split.valid, numItems);
    const losses = r.participants.map((p) => p.loss).filter((x): x is number => typeof x === 'number' && Number.isFinite(x));
    const row: RoundRow = {
      round: r.round,
      clients: r.participants.length,
      contributions: r.privacy ? (r.privacy.contributions as number) : r.participants.length,
      train_loss: losses.length ? losses.reduce((a, b) => a + b, 0) / losses.length : null,
      'val_hr@10': m['hr@10'],
      'val_ndcg@10': m['ndcg@10'],
      epsilon: r.privacy ? (r.privacy.epsilon as number) : null,
      seconds: ((r.timings.committedAt ?? r.timings.closedAt) - r.timings.startedAt) / 1000,
      client_seconds: clientSecondsOf.get(r.round) ?? 0,
      ...(hooks.extraMetrics ? { extra: await hooks.extraMetrics(model, r.round) } : {}),
    };
    rows.push(row);
    hooks.onRound?.(row);
  };

  let engine: RoundEngine;
  const clients: ClientSide = cfg.workers > 1 ? new WorkerClients(cfg, cfg.workers) : new InProcessClients(cfg.seed, split.train, partition, trainModel!);
  const modelBytes = async (v: number): Promise<Uint8Array> => {
    const bytes = await store.modelBytes(v);
    if (!bytes) throw new Error(`no model version ${v}`);
    return bytes;
  };
  /** A malicious client's message: its honest update replaced by the hook's delta, re-encoded and signed with its own key. */
  const retamper = (clientId: string, msg: Record<string, unknown>): Record<string, unknown> => {
    const m = msg as { round: number; modelVersion: number; payload: Uint8Array; numExamples: number; weight: number; clipCount?: number; codec: 'f32' };
    const replaced = hooks.tamper!(clientId, m.round, decode(m.payload));
    if (!replaced) return msg;
    const payload = encode(replaced, m.codec);
    const payloadHash = toBase64(sha512(payload));
    const fields = { round: m.round, modelVersion: m.modelVersion, clientId, payloadHash, numExamples: m.numExamples, weight: m.weight, ...(m.clipCount !== undefined ? { clipCount: m.clipCount } : {}) };
    const signature = toBase64(sign(updateSigningBytes({ protocolVersion: PROTOCOL_VERSION, ...fields }), identities.get(clientId).secretKey));
    return { ...msg, payload, payloadHash, signature };
  };
  const processTasks = async (tasks: TaskFor[]): Promise<void> => {
    await evaluatePending();
    tasks.sort((a, b) => (a.clientId < b.clientId ? -1 : a.clientId > b.clientId ? 1 : 0));
    const t0 = performance.now();
    const updates = await clients.run(tasks, modelBytes);
    const spent = (performance.now() - t0) / 1000;
    clientSeconds += spent;
    clientTasks += tasks.length;
    if (tasks.length) clientSecondsOf.set(tasks[0].task.round, (clientSecondsOf.get(tasks[0].task.round) ?? 0) + spent);
    updates.sort((a, b) => (a.clientId < b.clientId ? -1 : a.clientId > b.clientId ? 1 : 0));
    for (const u of updates) {
      if (hooks.tamper) u.msg = retamper(u.clientId, u.msg);
      if (hooks.observeUpdate) {
        const m = u.msg as { round: number; payload: Uint8Array; weight: number };
        hooks.observeUpdate({ clientId: u.clientId, round: m.round, delta: decode(m.payload), weight: m.weight, users: partition.usersOf(u.clientId) });
      }
      engine.receiveUpdate(u.clientId, u.msg);
    }
  };
  let failure: Error | null = null;
  const transport = new MemoryTransport((tasks) => {
    processTasks(tasks).catch((err: Error) => {
      failure = err;
      engine.stop();
    });
  });
  engine = new RoundEngine({
    config: engineConfig(cfg, partition, size),
    store,
    strategy,
    transport,
    verifier: new Ed25519Verifier(),
    sha512: sha512Native,
    publicKeyOf: (id) => (registered.has(id) ? identities.get(id).publicKey : undefined),
    uniform: () => selectRng.next(),
    privacy,
    log: hooks.verbose ? log : () => {},
  });
  engine.on('round', (r: RoundRecord) => {
    records.push(r);
    if (r.outcome === 'committed') evalPending = r;
  });
  for (const id of partition.clients) engine.join(id);
  try {
    await engine.run();
    if (failure) throw failure;
    if (transport.refusals.length > 0) {
      const f = transport.refusals[0];
      throw new Error(`the engine refused ${transport.refusals.length} simulated updates (first: ${f.clientId}: ${f.code}: ${f.message}); this is a bug`);
    }
    await evaluatePending();
    const finalWeights = store.latest().weights;
    model.setWeights(finalWeights);
    const test = await evaluateModel(model, split.test, numItems);
    const status = engine.privacyStatus();
    const summary: SimulationSummary = {
      data: cfg.data,
      model: cfg.model,
      partition: formatPartition(spec),
      clients: partition.clients.length,
      users: sequences.length,
      items: numItems,
      rounds: store.modelVersion,
      clients_per_round: spec.kind === 'per-user' && cfg.q !== undefined ? null : Math.min(cfg.clientsPerRound, partition.clients.length),
      q: cfg.q ?? null,
      dp: cfg.dp,
      epsilon: status.epsilon,
      delta: dp ? cfg.delta : null,
      noise_multiplier: status.noiseMultiplier,
      noise_source: dp ? (cfg.seededNoise ? 'seeded' : 'csprng') : null,
      covered: status.covered,
      category_skew: skew,
      'hr@10': test['hr@10'],
      'ndcg@10': test['ndcg@10'],
      mrr: test.mrr,
      'val_ndcg@10': rows.at(-1)?.['val_ndcg@10'] ?? Number.NaN,
      seconds: (performance.now() - started) / 1000,
      stopped: engine.stopReason,
    };
    return { rows, summary, storeDir, finalWeights, records, clientTasks, clientSeconds };
  } finally {
    await clients.close();
    model.dispose();
    trainModel?.dispose();
    await store.close();
  }
}
