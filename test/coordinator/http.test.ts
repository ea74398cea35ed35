// The public HTTP API on its own (express over a stubbed engine and store):
// every error is JSON without a stack or a path, and numeric path and query
// parameters are canonical non-negative integers or refused.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createHttpApp, type HttpDeps } from '../../coordinator/server/http.ts';
import { NO_PRIVACY_STATUS, type RoundEngine } from '../../coordinator/index.ts';
import type { Store } from '../../coordinator/store/index.ts';
import type { RoundRecord } from '../../coordinator/types.ts';

const record = (round: number): RoundRecord =>
  ({ round, outcome: 'committed', fromVersion: round - 1, modelVersion: round, lineage: 'L1', strategy: 'fedavg', selected: [], participants: [], refusals: [], metrics: {} }) as unknown as RoundRecord;

/** Versions 0..12 exist; version 13 fails the way a broken disk would, naming a path. */
const store = {
  lineage: 'L1',
  records: ({ from, limit }: { from: number; limit: number }) => Array.from({ length: 12 }, (_, i) => record(i + 1)).slice(from - 1, from - 1 + limit),
  record: (n: number) => (n >= 1 && n <= 12 ? record(n) : undefined),
  latestModelBytes: () => ({ modelVersion: 12, bytes: new Uint8Array([12]) }),
  modelBytes: async (v: number) => {
    if (v === 13) throw new Error("ENOENT: no such file or directory, open '/srv/secret/fedrec-data/models/v13.safetensors'");
    return v >= 0 && v <= 12 ? new Uint8Array([v]) : null;
  },
} as unknown as Store;

const engine = { round: 12, state: 'committed', modelVersion: 12, stopReason: null, privacyStatus: () => NO_PRIVACY_STATUS } as unknown as RoundEngine;

let server: Server;
let base = '';
const logged: string[] = [];

beforeAll(async () => {
  const deps: HttpDeps = { engine, store, catalog: { items: [{ id: 'a' }] }, connected: () => 0, onBytesOut: () => {}, log: (l) => logged.push(l) };
  server = createServer(createHttpApp(deps));
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(async () => {
  await new Promise((r) => server.close(r));
});

async function get(path: string): Promise<{ status: number; type: string; text: string; headers: Headers }> {
  const res = await fetch(base + path);
  return { status: res.status, type: res.headers.get('content-type') ?? '', text: await res.text(), headers: res.headers };
}

function expectJsonError(r: { status: number; type: string; text: string }, status: number): void {
  expect(r.status).toBe(status);
  expect(r.type).toMatch(/^application\/json/);
  const body = JSON.parse(r.text) as { error?: unknown };
  expect(typeof body.error).toBe('string');
  // never a stack trace, a file path or an HTML page
  expect(r.text).not.toMatch(/\bat [\w.<>]+ \(|node_modules|\/work\/|\/srv\/|<html|<pre/i);
}

describe('the public HTTP API', () => {
  it('answers a path express cannot decode with a JSON 400, not a stack trace', async () => {
    expectJsonError(await get('/api/models/%'), 400);
    expectJsonError(await get('/api/rounds/%E0%A4%A'), 400);
  });

  it('answers an internal failure with a JSON 500 that names no path, and logs it for the operator', async () => {
    const r = await get('/api/models/13');
    expectJsonError(r, 500);
    expect(JSON.parse(r.text)).toEqual({ error: 'internal error' });
    expect(logged.join('\n')).toMatch(/GET \/api\/models\/13.*ENOENT/);
  });

  it.each(['0x10', '010', '00', '1e1', '%201', '1%20', '%2B1', '-1', '1.0', '1.', '9007199254740993', '99999999999999999999', 'Infinity', 'NaN', '%EF%BC%91'])(
    'refuses the non-canonical model version %s instead of serving it as immutable',
    async (v) => {
      const r = await get(`/api/models/${v}`);
      expectJsonError(r, 400);
      expect(r.headers.get('cache-control')).toBeNull();
      expect(r.headers.get('x-fedrec-model-version')).toBeNull();
      expect(JSON.parse(r.text).error).toMatch(/canonical non-negative integer/);
    },
  );

  it('serves canonical versions (immutable) and 404s canonical ones that do not exist', async () => {
    for (const v of [0, 10, 12]) {
      const r = await fetch(`${base}/api/models/${v}`);
      expect(r.status).toBe(200);
      expect(r.headers.get('x-fedrec-model-version')).toBe(String(v));
      expect(r.headers.get('cache-control')).toMatch(/immutable/);
      expect([...new Uint8Array(await r.arrayBuffer())]).toEqual([v]);
    }
    expectJsonError(await get('/api/models/14'), 404);
    expect((await get('/api/models/latest')).status).toBe(200);
  });

  it.each(['01', '1e0', '0x1', '%2B1', '-1', '1.5'])('refuses the round number %s', async (n) => {
    expectJsonError(await get(`/api/rounds/${n}`), 400);
  });

  it('serves canonical round numbers and 404s missing ones', async () => {
    const r = await get('/api/rounds/10');
    expect(r.status).toBe(200);
    expect(JSON.parse(r.text).round).toBe(10);
    expectJsonError(await get('/api/rounds/0'), 404);
    expectJsonError(await get('/api/rounds/13'), 404);
  });

  it.each(['from=01', 'from=1e1', 'from=0', 'from=-1', 'from=%201', 'limit=0', 'limit=0x10', 'limit=2.5', 'from=1&from=2', 'from='])(
    'refuses the round query %s',
    async (q) => {
      expectJsonError(await get(`/api/rounds?${q}`), 400);
    },
  );

  it('pages round records with canonical from and limit (limit capped at 1000)', async () => {
    expect(JSON.parse((await get('/api/rounds?from=3&limit=2')).text).map((r: RoundRecord) => r.round)).toEqual([3, 4]);
    expect(JSON.parse((await get('/api/rounds')).text)).toHaveLength(12);
    expect(JSON.parse((await get('/api/rounds?limit=5000')).text)).toHaveLength(12);
  });

  it('answers unknown paths and methods with JSON 404s', async () => {
    expectJsonError(await get('/nope'), 404);
    const r = await fetch(`${base}/api/status`, { method: 'DELETE' });
    expect(r.status).toBe(404);
    expect(await r.json()).toHaveProperty('error');
  });
});
