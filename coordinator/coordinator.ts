// Starts a coordinator from its config: catalog, model lineage, store (resuming
// after a crash), strategy, round engine, HTTP API and socket.io transport.
import { createHash } from 'node:crypto';
import { createServer, type Server as HttpServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { fromBase64, CODEC_HEADER_BYTES } from '../protocol/index.ts';
import { Ed25519Verifier, sha512Native } from '../protocol/node/index.ts';
import { createModel, evaluateModel, initBackend, leaveOneOut, type ItemMeta, type ModelName, type ModelSpec } from '../recommender/index.ts';
import { loadDataset } from '../recommender/node/index.ts';
import { ConfigError, operatorPort, type CoordinatorConfig } from './config.ts';
import { PrivacyController, RoundEngine, type EngineConfig } from './engine/index.ts';
import { Store } from './store/index.ts';
import { createStrategy } from './strategies/index.ts';
import { createHttpApp, createOperatorApp, publicStatus } from './server/http.ts';
import { createMetrics } from './server/metrics.ts';
import { Handshake } from './server/handshake.ts';
import type { TransportLimits } from './server/limits.ts';
import { SocketAdapter } from './server/socketAdapter.ts';

export interface CatalogItem {
  id: string;
  category?: string;
  price?: number;
}

export interface RunningCoordinator {
  url: string;
  port: number;
  /** The operator listener (/metrics, full status, unredacted rounds): never public. */
  operatorUrl: string;
  operatorPort: number;
  engine: RoundEngine;
  store: Store;
  /** The socket.io transport and its upload endpoint (counters, upload buffer). */
  transport: SocketAdapter;
  /** Resolves when the engine has run all rounds (or was stopped). */
  done: Promise<void>;
  close(): Promise<void>;
}

/** The catalog from the config: an explicit item list, or the items of a data spec. */
export async function resolveCatalog(cfg: CoordinatorConfig['catalog']): Promise<CatalogItem[]> {
  if (cfg.items) {
    const ids = new Set<string>();
    for (const it of cfg.items) {
      if (ids.has(it.id)) throw new ConfigError(`catalog.items lists item ${it.id} twice`);
      ids.add(it.id);
    }
    return cfg.items;
  }
  const spec = cfg.fromData!;
  const { dataset } = await loadDataset(spec, { fixedVocabulary: spec.startsWith('synthetic') });
  const c = dataset.catalog;
  return c.ids.map((id, i) => {
    const m: ItemMeta = c.meta(i);
    return { id, ...(m.category !== undefined ? { category: m.category } : {}), ...(m.price !== undefined ? { price: m.price } : {}) };
  });
}

function listen(server: HttpServer, port: number, host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve((server.address() as AddressInfo).port);
    });
  });
}

function closeServer(server: HttpServer): Promise<void> {
  return new Promise((resolve) => (server.listening ? server.close(() => resolve()) : resolve()));
}

const LOOPBACK = new Set(['127.0.0.1', '::1', 'localhost']);

/** A lineage names one (catalog, model shape) pair: change either and training starts a new lineage. */
export function lineageOf(itemIds: readonly string[], model: ModelName, config: Record<string, number>): string {
  const h = createHash('sha256');
  h.update(JSON.stringify({ itemIds, model, config }));
  return `L${h.digest('hex').slice(0, 16)}`;
}

/** Server-side evaluation on the validation split of a data spec, mapped onto the catalog. */
async function serverEvaluator(spec: string, itemIds: readonly string[], model: ModelSpec, log: (line: string) => void) {
  const { dataset } = await loadDataset(spec, { vocabulary: new Map(itemIds.map((id) => [id, {}])) });
  const cases = leaveOneOut(dataset.sequences).valid;
  if (cases.length === 0) throw new ConfigError(`evaluation.serverData ${spec} has no user with the 3 interactions a validation item needs`);
  log(`server-side evaluation on ${cases.length} validation users of ${spec}`);
  const m = createModel(model.model, model.config as Record<string, number> & { numItems: number });
  return async (weights: Float32Array): Promise<Record<string, number>> => {
    m.setWeights(weights);
    const r = await evaluateModel(m, cases, itemIds.length);
    return { 'hr@10': r['hr@10'], 'ndcg@10': r['ndcg@10'], mrr: r.mrr, users: r.users };
  };
}

function engineConfig(cfg: CoordinatorConfig, size: number, proxMu: number): EngineConfig {
  const r = cfg.rounds;
  return {
    totalRounds: r.total,
    clientsPerRound: r.clientsPerRound,
    sampleRate: r.sampleRate,
    overSelect: r.overSelect,
    maxClients: r.maxClients,
    minClients: r.minClients,
    quorum: r.quorum,
    deadlineMs: r.deadlineSeconds * 1000,
    pauseMs: r.pauseSeconds * 1000,
    // DP-FedAvg clients train with SGD unless the config says otherwise
    train: { ...cfg.train, optimizer: cfg.train.optimizer ?? (cfg.privacy.mode === 'central' ? 'sgd' : 'adam') },
    proxMu,
    codec: cfg.codec,
    maxUpdateBytes: cfg.limits.maxUpdateBytes ?? size * 4 + CODEC_HEADER_BYTES + 1024,
    clipNorm: null,
    evaluate: cfg.evaluation.federated,
  };
}

/** What one peer may hold or send on the socket transport (limits.* of the config, and fixed allowances). */
function transportLimits(cfg: CoordinatorConfig): TransportLimits {
  const l = cfg.limits;
  return {
    maxMessageBytes: l.maxMessageBytes,
    handshakeTimeoutMs: l.handshakeTimeoutSeconds * 1000,
    maxConnections: l.maxConnections,
    maxConnectionsPerAddress: l.maxConnectionsPerAddress,
    messagesPerSecond: l.messagesPerSecond,
    messageBurst: 20,
    // a client sends one evaluation report per round: two waiting is already unusual
    maxPendingReports: 2,
    maxRefusedMessages: 100,
    uploadBufferBytes: l.uploadBufferBytes,
  };
}

/** Central DP cannot start over model versions that were published without it. */
function refuseUnprotectedHistory(cfg: CoordinatorConfig, store: Store): void {
  const unprotected = store.records().filter((x) => x.outcome === 'committed' && x.privacy?.charged !== true);
  if (unprotected.length > 0) {
    throw new ConfigError(
      `${cfg.dataDir} already holds ${unprotected.length} model versions trained without differential privacy (the first in round ${unprotected[0].round}); ` +
        'they are still served and not protected, so central DP must start from a new dataDir',
    );
  }
}

/** The engine's DP controller for central mode, with the ledger replayed from the store. */
function privacyController(cfg: CoordinatorConfig, size: number, store: Store, log: (line: string) => void): PrivacyController {
  const p = cfg.privacy;
  const r = cfg.rounds;
  const ctl = new PrivacyController({
    settings: {
      mode: 'central',
      unit: p.unit,
      targetEpsilon: p.targetEpsilon,
      delta: p.delta,
      noiseMultiplier: p.noiseMultiplier,
      sampleRate: p.sampleRate,
      population: p.population ?? cfg.clients.allow.length,
      maxContributions: p.unit === 'user' ? (p.maxUsersPerClient ?? p.population!) : 1,
      clip: p.clip,
    },
    selection: { sampleRate: r.sampleRate, clientsPerRound: r.clientsPerRound, maxClients: r.maxClients },
    totalRounds: r.total,
    size,
    records: store.records(),
    log,
  });
  const st = ctl.status();
  const clip = 'norm' in p.clip ? `clip norm ${p.clip.norm}` : `adaptive clip from ${p.clip.adaptive.initialNorm} (quantile ${p.clip.adaptive.targetQuantile})`;
  log(
    `privacy: central DP, unit ${p.unit}, budget ε = ${p.targetEpsilon} at δ = ${p.delta}, ${clip}, noise ${p.noiseMultiplier === 'auto' ? 'auto' : `z = ${p.noiseMultiplier}`}` +
      (st.rounds > 0 ? `; ledger: ${st.rounds} rounds charged, ε = ${st.epsilon!.toFixed(4)}` : ''),
  );
  if (p.unit === 'client' && r.sampleRate === undefined) {
    log('privacy: warning: fixed-size client selection is not covered by the accountant (it assumes Poisson sampling); set rounds.sampleRate');
  }
  const population = ctl.settings.population;
  if (p.delta >= 1 / population) log(`privacy: warning: δ = ${p.delta} is not below 1/population = ${1 / population}`);
  return ctl;
}

export async function startCoordinator(cfg: CoordinatorConfig, log: (line: string) => void = () => {}): Promise<RunningCoordinator> {
  const backend = await initBackend('auto');
  log(`backend: ${backend.detail}`);
  const items = await resolveCatalog(cfg.catalog);
  const itemIds = items.map((i) => i.id);
  const { name, seed, ...shape } = cfg.model;
  const modelConfig = { ...(Object.fromEntries(Object.entries(shape).filter(([, v]) => v !== undefined)) as Record<string, number>), numItems: itemIds.length };
  const model = createModel(name, modelConfig, seed);
  const spec = model.spec;
  const initialWeights = model.getWeights();
  model.dispose();
  const lineage = lineageOf(itemIds, name, spec.config);
  const s = cfg.strategy;
  const central = cfg.privacy.mode === 'central';
  const strategy = createStrategy({
    name: s.name,
    size: spec.size,
    serverLr: s.serverLr,
    weighting: central ? 'uniform' : s.weighting,
    ...(s.name === 'fedavgm' ? { momentum: s.momentum } : {}),
    ...(s.name === 'fedadam' || s.name === 'fedyogi' ? { beta1: s.beta1, beta2: s.beta2, tau: s.tau } : {}),
    ...(s.name === 'fedprox' ? { proxMu: s.proxMu } : {}),
  });
  const store = await Store.open(cfg.dataDir, { init: { lineage, spec, itemIds, initialWeights, strategyState: strategy.state() } });
  const servers: HttpServer[] = [];
  // a start that fails after opening the store must release its lock (and files) before reporting
  try {
    if (central) refuseUnprotectedHistory(cfg, store);
    strategy.restore(store.latest().strategyState);
    const rec = store.recovery;
    log(
      rec.created
        ? `store: created ${cfg.dataDir} (lineage ${lineage}, ${spec.model} with ${spec.size} values, ${itemIds.length} items)`
        : `store: resumed ${cfg.dataDir} at model version ${store.modelVersion} after round ${store.round}` +
            (rec.tornTail || rec.deletedOrphans.length ? ` (recovered: ${rec.tornTail ? 'torn log tail cut, ' : ''}${rec.deletedOrphans.length} uncommitted files removed)` : ''),
    );
    const allow = new Map(cfg.clients.allow.map((c) => [c.id, fromBase64(c.publicKey, 32, `clients.allow[${c.id}].publicKey`)]));
    if (allow.size === 0) log('warning: clients.allow is empty: no client can connect (fedrec keygen prints a key to register)');
    const verifier = new Ed25519Verifier();
    const proxMu = s.name === 'fedprox' ? (strategy as { proxMu?: number }).proxMu ?? s.proxMu : 0;
    const engineCfg = engineConfig(cfg, spec.size, proxMu);
    const adapter = new SocketAdapter({ handshake: new Handshake(allow, verifier), limits: transportLimits(cfg), maxUpdateBytes: engineCfg.maxUpdateBytes, log });
    const serverEval = cfg.evaluation.serverData ? await serverEvaluator(cfg.evaluation.serverData, itemIds, spec, log) : undefined;
    const privacy = central ? privacyController(cfg, spec.size, store, log) : undefined;
    if (!central) {
      const charged = store.records().filter((r) => r.privacy?.charged === true).length;
      if (charged > 0) log(`privacy: warning: ${charged} rounds of this store ran under central DP, but privacy.mode is 'none': models published from now on are not protected`);
    }
    const engine = new RoundEngine({
      privacy,
      serverEval,
      config: engineCfg,
      store,
      strategy,
      transport: adapter,
      verifier,
      sha512: sha512Native,
      publicKeyOf: (id) => allow.get(id),
      log,
    });
    adapter.attach(engine);
    let bytesOut = 0;
    const metrics = createMetrics(engine, adapter, () => bytesOut);
    const app = createHttpApp({
      engine,
      store,
      catalog: { items },
      redactRounds: central,
      connected: () => adapter.connected,
      onBytesOut: (n) => (bytesOut += n),
      upload: adapter.uploadHandler(),
      log,
    });
    // One server for both, in this order: engine.io's attach() takes over the 'request' listeners already there and
    // hands them every request outside /socket.io/. A listener added after attach() would answer engine.io's own
    // requests too (express: 404), and engine.io's late reply would then throw ERR_HTTP_HEADERS_SENT and kill the process.
    const httpServer: HttpServer = createServer(app);
    adapter.listen(httpServer);
    servers.push(httpServer);
    const port = await listen(httpServer, cfg.port, cfg.host);
    const url = `http://${cfg.host}:${port}`;
    const op = cfg.operator;
    const status = () => ({ ...publicStatus(engine, store, adapter.connected), url, privacy: engine.privacyStatus(), refused: Object.fromEntries(engine.stats.refused), transport: adapter.status() });
    const operatorServer = createServer(createOperatorApp({ store, metrics, status, token: op.token, log }));
    servers.push(operatorServer);
    const opPort = await listen(operatorServer, operatorPort(cfg), op.host);
    const operatorUrl = `http://${op.host}:${opPort}`;
    log(`operator listener on ${operatorUrl} (/metrics, /api/status, /api/rounds unredacted${op.token ? '; bearer token required' : ''})`);
    if (!LOOPBACK.has(op.host) && !op.token) log(`warning: the operator listener binds ${op.host} without operator.token: anyone who can reach it reads metrics and unredacted round records`);
    const done = engine.run();
    return {
      url,
      port,
      operatorUrl,
      operatorPort: opPort,
      engine,
      store,
      transport: adapter,
      done,
      async close() {
        engine.stop();
        await done.catch(() => {});
        adapter.close();
        await Promise.all(servers.map(closeServer));
        await store.close();
      },
    };
  } catch (err) {
    await Promise.all(servers.map(closeServer));
    await store.close().catch(() => {});
    throw err;
  }
}
