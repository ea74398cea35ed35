// The HTTP API (express): health, status, round records, model downloads
// (safetensors, cacheable: a version never changes), the catalog and metrics.
import express, { type Express, type Request, type Response } from 'express';
import type { Registry } from 'prom-client';
import type { RoundEngine } from '../engine/index.ts';
import type { Store } from '../store/index.ts';
import type { LedgerEntry } from '../release/index.ts';
import type { RoundRecord } from '../types.ts';

export interface HttpDeps {
  engine: RoundEngine;
  store: Store;
  catalog: { items: Array<{ id: string; category?: string; price?: number }> };
  metrics: Registry;
  connected: () => number;
  onBytesOut: (n: number) => void;
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
export function redactRecord(r: RoundRecord): Omit<Partial<RoundRecord>, 'privacy'> & { privacy?: Omit<LedgerEntry, 'contributions'> } {
  const { round, outcome, fromVersion, modelVersion, lineage, strategy, reason, privacy } = r;
  let ledger: Omit<LedgerEntry, 'contributions'> | undefined;
  if (privacy) {
    const { contributions: _realised, ...rest } = privacy;
    ledger = rest;
  }
  return { round, outcome, fromVersion, modelVersion, lineage, strategy, ...(reason !== undefined ? { reason } : {}), ...(ledger ? { privacy: ledger } : {}) };
}

function intParam(req: Request, name: string): number | null {
  const v = Number(req.params[name]);
  return Number.isInteger(v) && v >= 0 ? v : null;
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
    const from = Number(req.query.from ?? 1);
    const limit = Math.min(Number(req.query.limit ?? 100), 1000);
    if (!Number.isInteger(from) || from < 1 || !Number.isInteger(limit) || limit < 1) {
      res.status(400).json({ error: 'from and limit must be positive integers' });
      return;
    }
    const records = d.store.records({ from, limit });
    res.json(d.redactRounds ? records.map(redactRecord) : records);
  });
  app.get('/api/rounds/:n', (req, res) => {
    const n = intParam(req, 'n');
    const rec = n === null ? undefined : d.store.record(n);
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
    const v = intParam(req, 'version');
    const bytes = v === null ? null : await d.store.modelBytes(v);
    if (v === null || !bytes) {
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
  return app;
}
