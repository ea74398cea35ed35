// `fedrec simulate`: the production round code with virtual clients. The
// engine is assembled exactly as a deployment's (coordinator/assemble.ts:
// selection, validation, strategies, DP noise, accountant, store) and talks
// through the in-memory transport to real ClientCores (signed tasks checked,
// local training, per-user clipping, encoding, signing); nothing here
// re-implements a round.
//
// Reproducibility: everything is seeded except, under DP, the noise and who
// is sampled (client selection and the clients' user sampling), which come
// from the CSPRNG unless `seededNoise` (the summary records both sources). A
// round's updates reach the engine sorted by client id, so the float sums are
// the same however the clients were scheduled.
// Memory: one shared model object trains every virtual client in turn (per
// worker thread with `workers` > 1, see clients.ts); a client's data is its
// users' sequences (views, not copies); nothing of a client is kept between
// rounds except a model's own local state (MF user vectors).
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { Store, assembleEngine, federationStrategy, lineageOf, type RoundEngine, type RoundRecord } from '../coordinator/index.ts';
import { CryptoRandomSource, SeededRandomSource } from '../privacy/index.ts';
import { Ed25519Verifier, sha512Native } from '../protocol/node/index.ts';
import { Rng, createModel } from '../recommender/index.ts';
import { Adversary } from './adversary.ts';
import { InProcessClients, WorkerClients, type ClientSide, type SamplingSource } from './clients.ts';
import { SimulationConfigError, type SimulationConfig } from './config.ts';
import { RoundEvaluator } from './evaluation.ts';
import { DerivedIdentities } from './identities.ts';
import { MemoryTransport, type TaskFor } from './memoryTransport.ts';
import { formatPartition } from './partition.ts';
import { simulationSettings } from './settings.ts';
import { summarize } from './summary.ts';
import type { SimulationHooks, SimulationResult } from './types.ts';
import { loadWorld, worldSkew } from './world.ts';

export type { RoundRow, SimulationSummary, SimulationResult, SimulationHooks, ObservedUpdate } from './types.ts';

/** Opens a new store for the run in `dir` (refusing one that already holds a simulation). */
async function openRunStore(dir: string, init: Parameters<typeof Store.open>[1]): Promise<Store> {
  mkdirSync(dir, { recursive: true });
  const store = await Store.open(join(dir, 'store'), init);
  if (store.round > 0) {
    await store.close();
    throw new SimulationConfigError(`${dir} already holds a simulation (${store.round} rounds); choose another --out or remove it`);
  }
  return store;
}

/** Runs one simulation into `dir` (which must not hold a previous run's store). */
export async function runSimulation(cfg: SimulationConfig, dir: string, hooks: SimulationHooks = {}): Promise<SimulationResult> {
  const log = hooks.log ?? (() => {});
  const started = performance.now();
  const world = await loadWorld(cfg);
  const skew = worldSkew(world);
  log(`data: ${world.describe}: ${world.dataset.sequences.length} users, ${world.numItems} items; partition ${formatPartition(world.spec)}: ${world.partition.clients.length} clients, category skew ${skew.toFixed(3)}`);

  const evalModel = createModel(cfg.model, { ...cfg.modelConfig, numItems: world.numItems }, cfg.seed);
  const trainModel = cfg.workers > 1 ? null : createModel(cfg.model, { ...cfg.modelConfig, numItems: world.numItems }, cfg.seed);
  const spec = evalModel.spec;
  const itemIds = world.dataset.catalog.ids;
  const lineage = lineageOf(itemIds, cfg.model, spec.config);
  const settings = simulationSettings(cfg, world, spec.size);
  const strategy = federationStrategy(settings);
  const initialWeights = evalModel.getWeights();
  const store = await openRunStore(dir, { init: { lineage, spec, itemIds, initialWeights, strategyState: strategy.state() } });
  const dp = settings.privacy !== null;
  const sampling: SamplingSource = dp && !cfg.seededNoise ? 'csprng' : 'seeded';
  const identities = new DerivedIdentities(cfg.seed);
  const registered = new Set(world.partition.clients);
  const selectRng = new Rng((cfg.seed ^ 0x5e1ec7) >>> 0);
  const records: RoundRecord[] = [];
  const evaluator = new RoundEvaluator(evalModel, world, store, hooks);
  const adversary = new Adversary(hooks, identities, world.partition, lineage);
  const clients: ClientSide =
    cfg.workers > 1
      ? new WorkerClients(cfg, cfg.workers, store.key.publicKey, sampling)
      : new InProcessClients({ seed: cfg.seed, train: world.split.train, partition: world.partition, model: trainModel!, coordinatorKey: store.key.publicKey, sampling });
  let clientTasks = 0;
  let clientSeconds = 0;
  const modelBytes = async (v: number): Promise<Uint8Array> => {
    const bytes = await store.modelBytes(v);
    if (!bytes) throw new Error(`no model version ${v}`);
    return bytes;
  };

  let engine: RoundEngine | null = null;
  const processTasks = async (tasks: TaskFor[]): Promise<void> => {
    await evaluator.flush();
    tasks.sort((a, b) => (a.clientId < b.clientId ? -1 : a.clientId > b.clientId ? 1 : 0));
    const t0 = performance.now();
    const updates = await clients.run(tasks, modelBytes);
    const spent = (performance.now() - t0) / 1000;
    clientSeconds += spent;
    clientTasks += tasks.length;
    if (tasks.length) evaluator.addClientSeconds(tasks[0].task.round, spent);
    updates.sort((a, b) => (a.clientId < b.clientId ? -1 : a.clientId > b.clientId ? 1 : 0));
    for (const u of updates) engine!.receiveUpdate(u.clientId, adversary.active ? adversary.intercept(u.clientId, u.msg) : u.msg);
  };
  let failure: Error | null = null;
  const transport = new MemoryTransport((tasks) => {
    processTasks(tasks).catch((err: Error) => {
      failure = err;
      engine!.stop();
    });
  });
  ({ engine } = assembleEngine(settings, {
    store,
    strategy,
    transport,
    verifier: new Ed25519Verifier(),
    sha512: sha512Native,
    publicKeyOf: (id) => (registered.has(id) ? identities.get(id).publicKey : undefined),
    signingKey: store.key.secretKey,
    initialWeights,
    uniform: sampling === 'seeded' ? () => selectRng.next() : undefined,
    noise: cfg.seededNoise ? new SeededRandomSource(cfg.seed) : new CryptoRandomSource(),
    log: hooks.verbose ? log : () => {},
  }));
  engine.on('round', (r: RoundRecord) => {
    records.push(r);
    if (r.outcome === 'committed') evaluator.committed(r);
  });
  for (const id of world.partition.clients) engine.join(id);
  try {
    await engine.run();
    if (failure) throw failure;
    if (transport.refusals.length > 0) {
      const f = transport.refusals[0];
      throw new Error(`the engine refused ${transport.refusals.length} simulated updates (first: ${f.clientId}: ${f.code}: ${f.message}); this is a bug`);
    }
    await evaluator.flush();
    const finalWeights = store.latest().weights;
    const test = await evaluator.test(finalWeights);
    const summary = summarize({ cfg, world, skew, store, engine, test, rows: evaluator.rows, sampling, seconds: (performance.now() - started) / 1000 });
    return { rows: evaluator.rows, summary, storeDir: store.dir, finalWeights, records, clientTasks, clientSeconds };
  } finally {
    await clients.close();
    evalModel.dispose();
    trainModel?.dispose();
    await store.close();
  }
}
