// The HTTP API (express): health, status, round records, model downloads
// (safetensors, cacheable: a version never changes), the catalog and metrics.
import express, { type ErrorRequestHandler, type Express, type Response } from 'express';
import type { Registry } from 'prom-client';
import type { RoundEngine } from '../engine/index.ts';
import type { Store } from '../store/index.ts';
import type { RoundRecord } from '../types.ts';

export interface HttpDeps {
  engine: RoundEngine;
  store: Store;
  catalog: { items: Array<{ id: string; category?: string; price?: number }> };
  metrics: Registry;
  connected: () => number;
  onBytesOut: (n: number) => void;
  /** The operator's log: internal errors are written here, never sent to the peer. */
  log?: (line: string) => void;
  /**
   * Central DP: round records leave out who took part, their refusals and
   * client-reported metrics (none of which the noise covers); the full records
   * stay in the store for the operator.
   */
  redactRounds?: boolean;
}

/**
 * The part of a round record that central DP lets the API publish: outcome,
 * versions and the ledger entry without the realised number of contributions.
 * Timings go too: a round's duration grows with the users the slowest client
 * sampled.
 */
export function redactRecord(r: RoundRecord): Partial<RoundRecord> {
  const { round, outcome, fromVersion, modelVersion, lineage, strategy, reason, privacy } = r;
  let ledger: RoundRecord['privacy'];
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

export function createHttpApp(d: HttpDeps): Express {
  const app = express();
  app.disable('x-powered-by');
  app.get('/healthz', (_req, res) => {
    res.json({ ok: true });
  });
  app.get('/api/status', (_req, res) => {
    res.json({ round: d.engine.round, state: d.engine.state, ...(d.engine.stopReason ? { stopReason: d.engine.stopReason } : {}), clients: d.connected(), modelVersion: d.engine.modelVersion, lineage: d.store.lineage });
  });
  app.get('/api/rounds', (req, res) => {
    const from = req.query.from === undefined ? 1 : canonicalInt(req.query.from);
    const limit = req.query.limit === undefined ? 100 : canonicalInt(req.query.limit);
    if (from === null || from < 1 || limit === null || limit < 1) {
      res.status(400).json({ error: `from and limit must be positive integers, given once each; ${NOT_CANONICAL}` });
      return;
    }
    const records = d.store.records({ from, limit: Math.min(limit, 1000) });
    res.json(d.redactRounds ? records.map(redactRecord) : records);
  });
  app.get('/api/rounds/:n', (req, res) => {
    const n = canonicalInt(req.params.n);
    if (n === null) {
      res.status(400).json({ error: `round ${NOT_CANONICAL}` });
      return;
    }
    const rec = d.store.record(n);
    if (!rec) {
      res.status(404).json({ error: `no round ${req.params.n}` });
      return;
    }
    res.json(d.redactRounds ? redactRecord(rec) : rec);
  });
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
  app.get('/metrics', async (_req, res) => {
    res.setHeader('content-type', d.metrics.contentType);
    res.end(await d.metrics.metrics());
  });
  app.use((_req, res) => {
    res.status(404).json({ error: 'not found' });
  });
  app.use(jsonErrors(d.log));
  return app;
}
