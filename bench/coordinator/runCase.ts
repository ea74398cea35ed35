// One case of bench/coordinator.bench.ts, in its own process so that its RSS
// figures start from a fresh coordinator: starts a coordinator (port 0, temp
// data dir, N generated identities, MF model sized to the case), forks the
// load-generator processes, lets the engine run its rounds and prints one line
// `RESULT {json}` with the per-round measurements.
//
//   node bin/run-ts.mjs bench/coordinator/runCase.ts '{"clients":100,"items":3030,"dim":32,"rounds":3,"procs":2}'
//
// Timing points, all in this process (the coordinator's):
//   roundStart   the engine enters 'training' (the tasks are emitted right after, same tick)
//   arrival      the work queue hands the engine an update (wraps engine.receiveUpdate: the HTTP
//                upload fully received and its envelope decoded, before validation)
//   commit       the engine emits 'round' (checkpoint written and fsynced, record appended)
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { Socket as IoSocket } from 'socket.io';
import { parseCoordinatorConfig } from '../../coordinator/config.ts';
import { startCoordinator } from '../../coordinator/coordinator.ts';
import type { RoundRecord } from '../../coordinator/types.ts';
import { allowList, benchIdentities, selfCheck } from './identities.ts';
import type { LoadStart, LoadStats } from './loadClient.ts';

export interface CaseConfig {
  clients: number;
  items: number;
  dim: number;
  rounds: number;
  /** Load-generator processes. */
  procs: number;
  /** Per-process in-flight limit of the load generators (0: every client answers at once). */
  window?: number;
  timeoutMs?: number;
  verbose?: boolean;
}

export interface RoundResult {
  round: number;
  outcome: string;
  accepted: number;
  refusals: Record<string, number>;
  arrivals: number;
  bytes: number;
  /** roundStart → first / last arrival, and → commit (ms). */
  firstArrivalMs: number;
  lastArrivalMs: number;
  taskToCommitMs: number;
  updatesPerSec: number;
  mbPerSec: number;
  /** Engine's stats.lastCommitMs (from the last accepted update's validation to the commit). */
  commitMsEngine: number;
  /** Last arrival → commit, measured here. */
  commitMsMeasured: number;
  aggregateMs: number;
  /** The commit's parts: last arrival → 'aggregating' (last validation + wake-up), and after the aggregate → 'round' (store.commitRound: files, fsyncs). */
  toAggregatingMs: number;
  storeCommitMs: number;
  /** Time spent inside engine.receiveUpdate (validate + fold), summed, per update. */
  engineMsPerUpdate: number;
  engineBusyMs: number;
  rssStartMB: number;
  rssPeakMB: number;
  arrayBuffersPeakMB: number;
  /** Peak of the upload bodies in memory (being read or waiting for the engine: the coordinator's upload buffer), and of the uploads waiting unread for room in it. */
  uploadBufferPeakMB: number;
  uploadsWaitingPeak: number;
  eventLoopMaxMs: number;
}

export interface CaseResult {
  config: CaseConfig;
  size: number;
  updateBytes: number;
  connectMs: number;
  rssBeforeConnectMB: number;
  rssConnectedMB: number;
  /** VmHWM of this process from the first round's start (reset there) to the end. */
  hwmMB: number | null;
  hwmResetOk: boolean;
  loadRssPeakMB: number[];
  loadDisconnects: Record<string, number>;
  loadRejected: Record<string, number>;
  /** Uploads the load generators retried after a network error. */
  loadRetries: number;
  /** Server-side socket.io disconnect reasons while rounds ran, with the ms since that round's start of the first and last. */
  serverDisconnects: Record<string, { count: number; firstMs: number; lastMs: number }>;
  rounds: RoundResult[];
  error?: string;
}

const now = () => performance.timeOrigin + performance.now();
const MB = 2 ** 20;
const repo = fileURLToPath(new URL('../..', import.meta.url));

function vmHwmMB(): number | null {
  try {
    const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync('/proc/self/status', 'utf8'));
    return m ? Number(m[1]) / 1024 : null;
  } catch {
    return null;
  }
}

function resetHwm(): boolean {
  try {
    writeFileSync('/proc/self/clear_refs', '5');
    return true;
  } catch {
    return false;
  }
}

async function runCase(c: CaseConfig): Promise<CaseResult> {
  const ids = benchIdentities(c.clients);
  selfCheck(ids[0].seedHex);
  const dataDir = mkdtempSync(join(tmpdir(), 'fedrec-bench-coord-'));
  const cfg = parseCoordinatorConfig({
    dataDir,
    host: '127.0.0.1',
    port: 0,
    model: { name: 'mf', dim: c.dim },
    catalog: { items: Array.from({ length: c.items }, (_, i) => ({ id: `i${i}` })) },
    rounds: {
      total: c.rounds,
      clientsPerRound: c.clients,
      minClients: c.clients,
      maxClients: c.clients,
      quorum: c.clients,
      deadlineSeconds: 3600,
      pauseSeconds: 0,
    },
    strategy: { name: 'fedavg' },
    codec: 'f32',
    clients: { allow: allowList(ids) },
    evaluation: { federated: false },
    // every virtual client connects from 127.0.0.1: room for all of them on one address
    limits: { maxConnections: c.clients + 100, maxConnectionsPerAddress: c.clients + 100 },
  });
  const log = c.verbose ? (l: string) => (/^client /.test(l) ? undefined : console.error(`[coordinator] ${l}`)) : () => {};

  // RSS sampling every 50 ms (and at every update arrival, below)
  let rssNow = process.memoryUsage.rss();
  let sampledPeak = rssNow;
  let abPeak = 0;
  const sampler = setInterval(() => {
    const m = process.memoryUsage();
    rssNow = m.rss;
    sampledPeak = Math.max(sampledPeak, m.rss);
    abPeak = Math.max(abPeak, m.arrayBuffers);
    onSample();
  }, 50);
  let onSample = () => {};
  const rssBeforeConnect = process.memoryUsage.rss();

  const coord = await startCoordinator(cfg, log);
  const engine = coord.engine;
  const size = coord.store.latest().weights.length;
  const result: CaseResult = {
    config: c,
    size,
    updateBytes: size * 4 + 16,
    connectMs: 0,
    rssBeforeConnectMB: rssBeforeConnect / MB,
    rssConnectedMB: 0,
    hwmMB: null,
    hwmResetOk: false,
    loadRssPeakMB: [],
    loadDisconnects: {},
    loadRejected: {},
    loadRetries: 0,
    serverDisconnects: {},
    rounds: [],
  };

  interface Live {
    start: number;
    rssStart: number;
    arrivals: number;
    first: number;
    last: number;
    bytes: number;
    busy: number;
    aggAt: number;
  }
  const live = new Map<number, Live>();
  const elDelay = monitorEventLoopDelay({ resolution: 10 });

  let lastArrivalSample = 0;
  const orig = engine.receiveUpdate.bind(engine);
  engine.receiveUpdate = (clientId: string, raw: unknown) => {
    const t = now();
    const r = live.get(engine.round);
    // the 50 ms timer starves while the loop works through a burst of completed messages: sample here too (at most every 10 ms)
    if (t - lastArrivalSample >= 10) {
      lastArrivalSample = t;
      sampledPeak = Math.max(sampledPeak, process.memoryUsage.rss());
      sampleUploads();
    }
    if (r) {
      r.arrivals++;
      if (r.arrivals === 1) r.first = t;
      r.last = t;
      const p = (raw as { payload?: Uint8Array })?.payload;
      r.bytes += p instanceof Uint8Array ? p.length : 0;
    }
    orig(clientId, raw);
    if (r) r.busy += now() - t;
  };
  engine.on('state', (s: string, round: number) => {
    if (s === 'aggregating') {
      const r = live.get(round);
      if (r) r.aggAt = now();
    }
    if (s !== 'training') return;
    if (live.size === 0) {
      result.rssConnectedMB = process.memoryUsage.rss() / MB;
      result.hwmResetOk = resetHwm();
    }
    sampledPeak = process.memoryUsage.rss();
    abPeak = process.memoryUsage().arrayBuffers;
    coord.transport.uploadBuffer.peak = coord.transport.uploadBuffer.used;
    uploadsWaitingPeak = 0;
    elDelay.reset();
    elDelay.enable();
    currentStart = now();
    live.set(round, { start: currentStart, rssStart: sampledPeak, arrivals: 0, first: 0, last: 0, bytes: 0, busy: 0, aggAt: 0 });
  });
  engine.on('round', (rec: RoundRecord) => {
    const t = now();
    elDelay.disable();
    const r = live.get(rec.round);
    if (!r) return;
    const span = (r.last - r.first) / 1000;
    const refusals: Record<string, number> = {};
    for (const x of rec.refusals) refusals[x.code] = (refusals[x.code] ?? 0) + 1;
    result.rounds.push({
      round: rec.round,
      outcome: rec.outcome,
      accepted: rec.participants.length,
      refusals,
      arrivals: r.arrivals,
      bytes: r.bytes,
      firstArrivalMs: r.first - r.start,
      lastArrivalMs: r.last - r.start,
      taskToCommitMs: t - r.start,
      updatesPerSec: span > 0 ? r.arrivals / span : NaN,
      mbPerSec: span > 0 ? r.bytes / 1e6 / span : NaN,
      commitMsEngine: engine.stats.lastCommitMs,
      commitMsMeasured: t - r.last,
      aggregateMs: (rec.timings as { aggregateMs?: number }).aggregateMs ?? NaN,
      toAggregatingMs: r.aggAt ? r.aggAt - r.last : NaN,
      storeCommitMs: r.aggAt ? t - r.aggAt - ((rec.timings as { aggregateMs?: number }).aggregateMs ?? 0) : NaN,
      engineMsPerUpdate: r.arrivals ? r.busy / r.arrivals : NaN,
      engineBusyMs: r.busy,
      rssStartMB: r.rssStart / MB,
      rssPeakMB: Math.max(sampledPeak, process.memoryUsage.rss()) / MB,
      arrayBuffersPeakMB: abPeak / MB,
      uploadBufferPeakMB: coord.transport.uploadBuffer.peak / MB,
      uploadsWaitingPeak,
      eventLoopMaxMs: elDelay.max / 1e6,
    });
    if (c.verbose) console.error(`[case] round ${rec.round}: ${JSON.stringify(result.rounds.at(-1))}`);
  });

  // Diagnostics: uploads waiting, unread, for room in the upload buffer (its peak in bytes is exact: ByteBudget.peak).
  let uploadsWaitingPeak = 0;
  const sampleUploads = () => {
    uploadsWaitingPeak = Math.max(uploadsWaitingPeak, coord.transport.uploadBuffer.waiting);
  };
  onSample = sampleUploads;

  // Diagnostics: why the server drops sockets (socket.io's internal _onclose carries the reason). Wrapped on the
  // prototype in this process only; the coordinator's code is untouched.
  let currentStart = 0;
  let clientsLost: (why: string) => void = () => {};
  const proto = IoSocket.prototype as unknown as { _onclose(reason: string, description?: unknown): unknown };
  const origClose = proto._onclose;
  proto._onclose = function (this: unknown, reason: string, description?: unknown) {
    if (currentStart > 0) {
      const t = now() - currentStart;
      const d = (result.serverDisconnects[reason] ??= { count: 0, firstMs: t, lastMs: t });
      d.count++;
      d.lastMs = t;
    }
    return origClose.call(this, reason, description);
  };
  engine.on('state', (s: string) => {
    // back to 'waiting' after rounds began: clients were lost, and these never reconnect
    if (s === 'waiting' && live.size > 0) clientsLost(`clients were lost during the rounds (${engine.clients} of ${c.clients} still connected)`);
  });

  // load generators
  const children: ChildProcess[] = [];
  const perProc = Math.ceil(c.clients / c.procs);
  const replies = new Map<ChildProcess, (m: LoadStats) => void>();
  const ready: Array<Promise<void>> = [];
  const t0 = now();
  for (let p = 0; p < c.procs; p++) {
    const mine = ids.slice(p * perProc, (p + 1) * perProc);
    if (mine.length === 0) break;
    const child = spawn(process.execPath, [join(repo, 'bin/run-ts.mjs'), join(repo, 'bench/coordinator/loadClient.ts')], {
      cwd: repo,
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    });
    children.push(child);
    ready.push(
      new Promise<void>((resolve, reject) => {
        child.on('message', (m: { type: string; message?: string }) => {
          if (m.type === 'ready') resolve();
          else if (m.type === 'error') reject(new Error(`load process ${child.pid}: ${m.message}`));
          else if (m.type === 'stats') replies.get(child)?.(m as LoadStats);
        });
        child.on('exit', (code) => reject(new Error(`load process ${child.pid} exited (${code}) before it was ready`)));
      }),
    );
    const start: LoadStart = {
      type: 'start',
      url: coord.url,
      clients: mine,
      size,
      seed: 1 + p,
      connectConcurrency: 20,
      window: c.window ?? 0,
    };
    child.send(start);
  }
  const killChildren = () => {
    for (const ch of children) if (ch.exitCode === null && ch.pid) process.kill(ch.pid, 'SIGTERM');
  };
  const timeoutMs = c.timeoutMs ?? 900_000;
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${timeoutMs / 1000} s (${result.rounds.length} of ${c.rounds} rounds committed)`)), timeoutMs);
    clientsLost = (why) => reject(new Error(why));
  });
  try {
    await Promise.race([Promise.all(ready), timeout]);
    result.connectMs = now() - t0;
    await Promise.race([coord.done, timeout]);
  } catch (err) {
    result.error = (err as Error).message;
  } finally {
    currentStart = 0; // from here on, disconnects are the benchmark's own shutdown
    for (const ch of children) {
      if (!ch.connected) continue;
      const st = await Promise.race([
        new Promise<LoadStats>((resolve) => {
          replies.set(ch, resolve);
          ch.send({ type: 'stats' });
        }),
        new Promise<null>((resolve) => setTimeout(() => resolve(null), 10_000)),
      ]);
      if (!st) continue;
      result.loadRssPeakMB.push(Math.round(st.rssPeakMB));
      for (const [k, v] of Object.entries(st.disconnects)) result.loadDisconnects[k] = (result.loadDisconnects[k] ?? 0) + v;
      for (const [k, v] of Object.entries(st.rejected)) result.loadRejected[k] = (result.loadRejected[k] ?? 0) + v;
      result.loadRetries += st.retries;
    }
    clearTimeout(timer);
    clearInterval(sampler);
    result.hwmMB = vmHwmMB();
    await Promise.all(
      children.map(
        (ch) =>
          new Promise<void>((resolve) => {
            if (ch.exitCode !== null) return resolve();
            const kill = setTimeout(() => ch.pid && ch.exitCode === null && process.kill(ch.pid, 'SIGKILL'), 5000);
            ch.once('exit', () => {
              clearTimeout(kill);
              resolve();
            });
            if (ch.connected) ch.send({ type: 'stop' });
            else killChildren();
          }),
      ),
    );
    await Promise.race([coord.close(), new Promise((r) => setTimeout(r, 10_000))]);
    rmSync(dataDir, { recursive: true, force: true });
  }
  return result;
}

const arg = process.argv[2];
if (!arg) {
  console.error(`usage: node bin/run-ts.mjs bench/coordinator/runCase.ts '{"clients":100,"items":3030,"dim":32,"rounds":3,"procs":2}'`);
  process.exit(2);
}
const res = await runCase(JSON.parse(arg) as CaseConfig);
console.log(`RESULT ${JSON.stringify(res)}`);
process.exit(0);
