// The HTTP API (express): health, status, round records, model downloads
// (safetensors, cacheable: a version never changes) and the catalog, on the
// public port; /metrics, the full status and unredacted round records on the
// operator listener (createOperatorApp), which is never public.
import { createHash, timingSafeEqual } from 'node:crypto';
import express, { type ErrorRequestHandler, type Express, type RequestHandler, type Response } from 'express';
import type { Registry } from 'prom-client';
import type { RoundEngine } from '../engine/index.ts';
import type { Store } from '../store/index.ts';
import type { LedgerEntry } from '../release/index.ts';
import type { RoundRecord } from '../types.ts';

export interface HttpDeps {
  engine: RoundEngine;
  store: Store;
  catalog: { items: Array<{ id: string; category?: string; price?: number }> };
  connected: () => number;
  onBytesOut: (n: number) => void;
  /** POST /api/updates (the socket adapter's upload handler); absent: no uploads over HTTP. */
  upload?: RequestHandler;
  /** The operator's log: internal errors are written here, never sent to the peer. */
  log?: (line: string) => void;
  /**
   * Central DP: round records leave out who took part, their refusals and
   * client-reported metrics (none of which the noise covers); the operator
   * listener serves the full records.
   */
  redactRounds?: boolean;
}

/**
 * The part of a round record that central DP lets the API publish: outcome,
 * versions and the ledger entry without the realised number of contributions.
 * Timings go too: a round's duration grows with the users the slowest client
 * sampled.
 */
export function redactRecord(r: RoundRecord): Omit<Partial<RoundRecord>, 'privacy'> & { privacy?: Omit<LedgerEntry, 'contributions'> } {
  const { round, outcome, fromVersion, modelVersion, lineage, strategy, reason, privacy } = r;
  let ledger: Omit<LedgerEntry, 'contributions'> | undefined;
  if (privacy) {
    const { contributions: _realised, ...rest } = privacy;
    ledger = rest;
  }
  return { round, outcome, fromVersion, modelVersion, lineage, strategy, ...(reason !== undefined ? { reason } : {}), ...(ledger ? { privacy: ledger } : {}) };
}

const CANONICAL_INT = /^(0|[1-9][0-9]*)$/;

/**
 * A path or query value that names a number: decimal digits without sign,
 * leading zero, exponent, spaces or fraction, and a safe integer. Anything else
 * is null: `Number()` would read '0x10', '010', '1e1', ' 1' and '+1' as numbers,
 * and a model version served under a second name would be cached forever.
 */
export function canonicalInt(v: unknown): number | null {
  if (typeof v !== 'string' || !CANONICAL_INT.test(v)) return null;
  const n = Number(v);
  return Number.isSafeInteger(n) ? n : null;
}

const NOT_CANONICAL = 'must be a canonical non-negative integer (decimal digits, no sign, leading zero, exponent or spaces)';

/**
 * The last handler: every error becomes JSON. Client errors (status 4xx, e.g. a
 * path express cannot decode) say what was wrong; anything else is an opaque
 * 500 and goes to the operator's log. Never a stack trace or a file path.
 */
export function jsonErrors(log: (line: string) => void = () => {}): ErrorRequestHandler {
  return (err: unknown, req, res, _next) => {
    const e = err as { status?: unknown; statusCode?: unknown; expose?: unknown; message?: unknown; stack?: unknown };
    const status = typeof e?.status === 'number' ? e.status : typeof e?.statusCode === 'number' ? e.statusCode : 500;
    const client = status >= 400 && status < 500;
    if (!client) log(`HTTP ${req.method} ${req.originalUrl.slice(0, 200)} failed: ${String(e?.stack ?? e?.message ?? err)}`);
    if (res.headersSent) {
      req.socket.destroy();
      return;
    }
    const message = client && e?.expose === true && typeof e.message === 'string' ? e.message.slice(0, 200) : client ? 'bad request' : 'internal error';
    res.status(client ? status : 500).json({ error: message });
  };
}

/** What /api/status shows everyone: the round, its state, connected clients, the model version and lineage. */
export function publicStatus(engine: RoundEngine, store: Store, connected: number): Record<string, unknown> {
  return { round: engine.round, state: engine.state, ...(engine.stopReason ? { stopReason: engine.stopReason } : {}), clients: connected, modelVersion: engine.modelVersion, lineage: store.lineage };
}

/** An express app with the parts every listener shares; `routes` adds the listener's own. */
function jsonApp(log: ((line: string) => void) | undefined, routes: (app: Express) => void): Express {
  const app = express();
  app.disable('x-powered-by');
  app.get('/healthz', (_req, res) => {
    res.json({ ok: true });
  });
  routes(app);
  app.use((_req, res) => {
    res.status(404).json({ error: 'not found' });
  });
  app.use(jsonErrors(log));
  return app;
}

/** GET /api/rounds?from=&limit= and /api/rounds/:n, each record passed through `show`. */
function roundRoutes(app: Express, store: Store, show: (r: RoundRecord) => unknown): void {
  app.get('/api/rounds', (req, res) => {
    const from = req.query.from === undefined ? 1 : canonicalInt(req.query.from);
    const limit = req.query.limit === undefined ? 100 : canonicalInt(req.query.limit);
    if (from === null || from < 1 || limit === null || limit < 1) {
      res.status(400).json({ error: `from and limit must be positive integers, given once each; ${NOT_CANONICAL}` });
      return;
    }
    res.json(store.records({ from, limit: Math.min(limit, 1000) }).map(show));
  });
  app.get('/api/rounds/:n', (req, res) => {
    const n = canonicalInt(req.params.n);
    if (n === null) {
      res.status(400).json({ error: `round ${NOT_CANONICAL}` });
      return;
    }
    const rec = store.record(n);
    if (!rec) {
      res.status(404).json({ error: `no round ${req.params.n}` });
      return;
    }
    res.json(show(rec));
  });
}

export function createHttpApp(d: HttpDeps): Express {
  return jsonApp(d.log, (app) => publicRoutes(app, d));
}

function publicRoutes(app: Express, d: HttpDeps): void {
  app.get('/api/status', (_req, res) => {
    res.json(publicStatus(d.engine, d.store, d.connected()));
  });
  roundRoutes(app, d.store, d.redactRounds ? redactRecord : (r) => r);
  app.get('/api/privacy', (_req, res) => {
    res.json(d.engine.privacyStatus());
  });
  const sendModel = (res: Response, version: number, bytes: Uint8Array, immutable: boolean) => {
    res.setHeader('content-type', 'application/octet-stream');
    res.setHeader('x-fedrec-model-version', String(version));
    res.setHeader('cache-control', immutable ? 'public, max-age=31536000, immutable' : 'no-cache');
    res.setHeader('etag', `"${d.store.lineage}-v${version}"`);
    d.onBytesOut(bytes.length);
    res.end(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength));
  };
  app.get('/api/models/latest', (_req, res) => {
    const { modelVersion, bytes } = d.store.latestModelBytes();
    sendModel(res, modelVersion, bytes, false);
  });
  app.get('/api/models/:version', async (req, res) => {
    const v = canonicalInt(req.params.version);
    if (v === null) {
      res.status(400).json({ error: `model version ${NOT_CANONICAL}` });
      return;
    }
    const bytes = await d.store.modelBytes(v);
    if (!bytes) {
      res.status(404).json({ error: `no model version ${req.params.version}` });
      return;
    }
    if (req.headers['if-none-match'] === `"${d.store.lineage}-v${v}"`) {
      res.status(304).end();
      return;
    }
    sendModel(res, v, bytes, true);
  });
  app.get('/api/catalog', (_req, res) => {
    res.json({ lineage: d.store.lineage, items: d.catalog.items });
  });
  if (d.upload) app.post('/api/updates', d.upload);
}

export interface OperatorDeps {
  store: Store;
  metrics: Registry;
  /** The full status: the public one plus connections, uploads, limits and privacy. */
  status: () => Record<string, unknown>;
  /** When set, every request must carry `authorization: Bearer <token>`. */
  token?: string;
  log?: (line: string) => void;
}

/** Refuses a request without the operator's bearer token (compared in constant time, as SHA-256 digests). */
function requireBearer(token: string): RequestHandler {
  const digest = (s: string) => createHash('sha256').update(s).digest();
  const want = digest(token);
  return (req, res, next) => {
    const m = /^Bearer (\S+)$/.exec(req.headers.authorization ?? '');
    if (m && timingSafeEqual(digest(m[1]), want)) return next();
    res.status(401).setHeader('www-authenticate', 'Bearer').json({ error: 'the operator listener needs authorization: Bearer <operator.token>' });
  };
}

/**
 * The operator listener's app: /metrics (round durations and commit latency
 * leak the realised sample size under DP), the full status and the round
 * records as stored (never redacted).
 */
export function createOperatorApp(d: OperatorDeps): Express {
  return jsonApp(d.log, (app) => {
    if (d.token) app.use(requireBearer(d.token));
    app.get('/api/status', (_req, res) => {
      res.json(d.status());
    });
    roundRoutes(app, d.store, (r) => r);
    app.get('/metrics', async (_req, res) => {
      res.setHeader('content-type', d.metrics.contentType);
      res.end(await d.metrics.metrics());
    });
  });
}
