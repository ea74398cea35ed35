// Starts a coordinator from its config: catalog, model lineage, store (resuming
// after a crash), the engine (assembleEngine: strategy, releases, round
// engine), the HTTP API with the socket.io transport on one server, and the
// operator listener.
import { createServer, type Server as HttpServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { fromBase64, toBase64 } from '../protocol/index.ts';
import { Ed25519Verifier, sha512Native } from '../protocol/node/index.ts';
import { createModel, evaluateModel, initBackend, leaveOneOut, type ItemMeta, type ModelSpec } from '../recommender/index.ts';
import { loadDataset } from '../recommender/node/index.ts';
import { assembleEngine, federationStrategy } from './assemble.ts';
import { ConfigError, operatorPort, type CoordinatorConfig } from './config.ts';
import type { RoundEngine } from './engine/index.ts';
import { lineageOf } from './lineage.ts';
import type { PrivacyController } from './release/index.ts';
import { federationSettings } from './settings.ts';
import { Store } from './store/index.ts';
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

/** Says at start what central DP will do, and warns about what it does not cover. */
function logPrivacy(cfg: CoordinatorConfig, ctl: PrivacyController, log: (line: string) => void): void {
  const p = cfg.privacy;
  const st = ctl.status();
  const clip = 'norm' in p.clip ? `clip norm ${p.clip.norm}` : `adaptive clip from ${p.clip.adaptive.initialNorm} (quantile ${p.clip.adaptive.targetQuantile})`;
  const w = p.unit === 'user' ? `, at most ${ctl.settings.maxContributions} users per update at full norm` : '';
  log(
    `privacy: central DP, unit ${p.unit}, budget ε = ${p.targetEpsilon} at δ = ${p.delta}, ${clip}${w}, noise ${p.noiseMultiplier === 'auto' ? 'auto' : `z = ${p.noiseMultiplier}`}; ` +
      `rounds close at their deadline (${cfg.rounds.deadlineSeconds}s)` +
      (st.rounds > 0 ? `; ledger: ${st.rounds} rounds charged, ε = ${st.epsilon!.toFixed(4)}` : ''),
  );
  if (p.unit === 'client' && cfg.rounds.sampleRate === undefined) {
    log('privacy: warning: fixed-size client selection is not covered by the accountant (it assumes Poisson sampling); set rounds.sampleRate');
  }
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
  const settings = federationSettings(cfg, spec.size);
  const strategy = federationStrategy(settings);
  const central = settings.privacy !== null;
  const store = await Store.open(cfg.dataDir, { init: { lineage, spec, itemIds, initialWeights, strategyState: strategy.state() } });
  const servers: HttpServer[] = [];
  // a start that fails after opening the store must release its lock (and files) before reporting
  try {
    if (central) refuseUnprotectedHistory(cfg, store);
    const rec = store.recovery;
    log(
      rec.created
        ? `store: created ${cfg.dataDir} (lineage ${lineage}, ${spec.model} with ${spec.size} values, ${itemIds.length} items)`
        : `store: resumed ${cfg.dataDir} at model version ${store.modelVersion} after round ${store.round}` +
            (rec.tornTail || rec.deletedOrphans.length ? ` (recovered: ${rec.tornTail ? 'torn log tail cut, ' : ''}${rec.deletedOrphans.length} uncommitted files removed)` : ''),
    );
    log(`coordinator key ${toBase64(store.key.publicKey)}${store.key.created ? ' (new)' : ''}: clients pin it with --coordinator-key`);
    const allow = new Map(cfg.clients.allow.map((c) => [c.id, fromBase64(c.publicKey, 32, `clients.allow[${c.id}].publicKey`)]));
    if (allow.size === 0) log('warning: clients.allow is empty: no client can connect (fedrec keygen prints a key to register)');
    const verifier = new Ed25519Verifier();
    const serverEval = cfg.evaluation.serverData ? await serverEvaluator(cfg.evaluation.serverData, itemIds, spec, log) : undefined;
    if (!central) {
      const charged = store.records().filter((r) => r.privacy?.charged === true).length;
      if (charged > 0) log(`privacy: warning: ${charged} rounds of this store ran under central DP, but privacy.mode is 'none': models published from now on are not protected`);
    }
    let adapter: SocketAdapter | null = null;
    const { engine, releases, config: engineCfg } = assembleEngine(settings, {
      store,
      strategy,
      transport: { send: (id, kind, msg) => adapter?.send(id, kind, msg) ?? false },
      verifier,
      sha512: sha512Native,
      publicKeyOf: (id) => allow.get(id),
      signingKey: store.key.secretKey,
      initialWeights,
      serverEval,
      log,
    });
    if (releases.mode === 'central') logPrivacy(cfg, releases as PrivacyController, log);
    adapter = new SocketAdapter({
      handshake: new Handshake(allow, verifier),
      limits: transportLimits(cfg),
      maxUpdateBytes: engineCfg.maxUpdateBytes,
      coordinatorKey: store.key.publicKey,
      log,
    });
    const transport = adapter;
    transport.attach(engine);
    let bytesOut = 0;
    const metrics = createMetrics(engine, transport, () => bytesOut);
    const app = createHttpApp({
      engine,
      store,
      catalog: { items },
      redactRounds: central,
      connected: () => transport.connected,
      onBytesOut: (n) => (bytesOut += n),
      upload: transport.uploadHandler(),
      log,
    });
    // One server for both, in this order: engine.io's attach() takes over the 'request' listeners already there and
    // hands them every request outside /socket.io/. A listener added after attach() would answer engine.io's own
    // requests too (express: 404), and engine.io's late reply would then throw ERR_HTTP_HEADERS_SENT and kill the process.
    const httpServer: HttpServer = createServer(app);
    transport.listen(httpServer);
    servers.push(httpServer);
    const port = await listen(httpServer, cfg.port, cfg.host);
    const url = `http://${cfg.host}:${port}`;
    const op = cfg.operator;
    const status = () => ({ ...publicStatus(engine, store, transport.connected), url, privacy: engine.privacyStatus(), refused: Object.fromEntries(engine.stats.refused), transport: transport.status() });
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
      transport,
      done,
      async close() {
        engine.stop();
        await done.catch(() => {});
        transport.close();
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
