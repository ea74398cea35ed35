// The Node client loads the coordinator's current model and its own data
// before it connects, so the coordinator counts it (and may start a round)
// only once it can train: against a bare HTTP server on 127.0.0.1 that
// records what reaches it, the status and the model come before the socket.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SocketClient } from '../../client/node/index.ts';
import { generateIdentity } from '../../protocol/index.ts';
import { createModel, encodeCheckpoint, initBackend } from '../../recommender/index.ts';

let server: Server;
let url = '';
const seen: string[] = [];
let loads = 0;

beforeAll(async () => {
  await initBackend('cpu');
  const m = createModel('mf', { numItems: 6, dim: 4 }, 1);
  const checkpoint = encodeCheckpoint(m, { itemIds: ['a', 'b', 'c', 'd', 'e', 'f'] });
  m.dispose();
  server = createServer((req, res) => {
    seen.push(`GET ${req.url}`);
    if (req.url === '/api/status') {
      res.setHeader('content-type', 'application/json');
      res.end(JSON.stringify({ modelVersion: 3, lineage: 'L-test' }));
    } else if (req.url === '/api/models/3') {
      res.end(Buffer.from(checkpoint));
    } else {
      res.statusCode = 404;
      res.end();
    }
  });
  server.on('upgrade', (req, socket) => {
    seen.push(`upgrade ${req.url?.split('?')[0]}`);
    socket.destroy();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

describe('SocketClient', () => {
  it('loads the current model version and its data before it opens the socket', async () => {
    const client = new SocketClient({
      server: url,
      clientId: 'shop-1',
      identity: generateIdentity(),
      loadData: async () => {
        loads++;
        seen.push('loadData');
        return { train: [], valid: [], test: [], users: 0, unknownItemEvents: 0 };
      },
    });
    await client.start();
    const deadline = Date.now() + 5000;
    while (!seen.some((s) => s.startsWith('upgrade')) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    await client.stop();
    const order = seen.filter((s) => s === 'GET /api/status' || s === 'GET /api/models/3' || s === 'loadData' || s === 'upgrade /socket.io/');
    expect(order.slice(0, 4)).toEqual(['GET /api/status', 'GET /api/models/3', 'loadData', 'upgrade /socket.io/']);
    expect(loads).toBe(1);
  });
});
