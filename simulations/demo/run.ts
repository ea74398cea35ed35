// `fedrec demo`: a coordinator and three merchant clients as separate
// processes on 127.0.0.1 train one model on non-IID synthetic shops; then the
// business case on each merchant's own test users.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { businessCase, type CaseRow } from './businessCase.ts';
import { generateIdentity, identityToJSON, initBackend, loadLocalData, toBase64, type ModelName } from './deps.ts';
import { spawnFedrec, stopAll, waitForLine, type Child } from './processes.ts';

export interface DemoOptions {
  merchants: number;
  users: number;
  rounds: number;
  model: ModelName;
  lr: number;
  batchSize: number;
  seed: number;
  keep: boolean;
  /** Central user-level DP with this target ε (undefined: no DP). */
  /** deadlineSeconds: under DP every round closes at its deadline, so it sets the pace (size it for the largest sample). */
  dp?: { targetEpsilon: number; sampleRate: number; clipNorm: number; delta: number; lr: number; optimizer: 'sgd' | 'adam'; deadlineSeconds: number };
  print: (line: string) => void;
  log: (line: string) => void;
}

export const DEMO_DEFAULTS = { merchants: 3, users: 1200, rounds: 20, model: 'sasrec' as ModelName, lr: 0.003, batchSize: 64, seed: 1 };

interface RoundRow {
  round: number;
  outcome: string;
  participants: Array<unknown>;
  metrics: Record<string, number>;
  timings: { startedAt: number; closedAt: number };
  privacy?: { epsilon?: number; contributions?: number };
}

function fmt(x: number | undefined): string {
  return x === undefined ? '   -  ' : x.toFixed(4);
}

async function getJson<T>(url: string): Promise<T> {
  const r = await fetch(url);
  if (!r.ok) throw new Error(`GET ${url}: HTTP ${r.status}`);
  return (await r.json()) as T;
}

export async function runDemo(o: DemoOptions): Promise<{ rows: CaseRow[]; seconds: number }> {
  const started = performance.now();
  const dir = mkdtempSync(join(tmpdir(), 'fedrec-demo-'));
  const spec = `synthetic:users=${o.users},merchants=${o.merchants},alpha=0.3,seed=${o.seed}`;
  const ids = Array.from({ length: o.merchants }, (_, i) => `m${i}`);
  const allow = ids.map((id) => {
    const identity = generateIdentity();
    writeFileSync(join(dir, `${id}.json`), JSON.stringify({ ...identityToJSON(identity), clientId: id }), { mode: 0o600 });
    return { id, publicKey: toBase64(identity.publicKey) };
  });
  const config = {
    dataDir: join(dir, 'coordinator'),
    port: 0,
    model: { name: o.model, seed: o.seed },
    catalog: { fromData: spec },
    rounds: { total: o.rounds, clientsPerRound: o.merchants, minClients: o.merchants, quorum: Math.max(1, o.merchants - 1), deadlineSeconds: o.dp?.deadlineSeconds ?? 120 },
    // under DP each shopper trains alone with SGD (DP-FedAvg); Adam's first step would spend the clip on noise
    train: o.dp ? { epochs: 1, lr: o.dp.lr, batchSize: o.batchSize, optimizer: o.dp.optimizer } : { epochs: 1, lr: o.lr, batchSize: o.batchSize },
    strategy: { name: 'fedavg' },
    clients: { allow },
    ...(o.dp
      ? {
          privacy: {
            mode: 'central',
            unit: 'user',
            targetEpsilon: o.dp.targetEpsilon,
            delta: o.dp.delta,
            noiseMultiplier: 'auto',
            sampleRate: o.dp.sampleRate,
            population: o.users,
            clip: { norm: o.dp.clipNorm },
          },
        }
      : {}),
  };
  writeFileSync(join(dir, 'fedrec.json'), JSON.stringify(config, null, 2));
  const children: Child[] = [];
  const cleanup = async () => {
    await stopAll(children);
    if (!o.keep) rmSync(dir, { recursive: true, force: true });
  };
  try {
    o.print(`fedrec demo: ${o.merchants} merchants with their own shoppers (${spec}), ${o.model}, ${o.rounds} rounds of FedAvg`);
    if (o.dp) {
      o.print(
        `central DP, user level: each merchant samples each shopper with q = ${o.dp.sampleRate}, trains on each alone (${o.dp.optimizer}, lr ${o.dp.lr}), clips each shopper's update to ${o.dp.clipNorm}; ` +
          `the coordinator adds noise for ε ≤ ${o.dp.targetEpsilon} at δ = ${o.dp.delta} after ${o.rounds} rounds`,
      );
    }
    const coord = spawnFedrec(['coordinator', '--config', join(dir, 'fedrec.json')], (l) => o.log(l));
    children.push(coord);
    const url = (await waitForLine(coord, /listening on (http:\/\/\S+)/, 60_000))[1];
    // the operator's view: under DP the public API redacts participants, metrics and timings
    const operatorUrl = (await waitForLine(coord, /operator listener on (http:\/\/\S+)/, 1000))[1];
    o.print(`coordinator: ${url}  (status ${url}/api/status, rounds ${url}/api/rounds; operator: ${operatorUrl}/metrics)`);
    for (const id of ids) {
      children.push(spawnFedrec(['client', '--server', url, '--identity', join(dir, `${id}.json`), '--data', spec, '--merchant', id], (l) => o.log(l)));
    }
    o.print(`\nround  clients  model in  val HR@10  val NDCG@10  seconds${o.dp ? '  shoppers  epsilon' : ''}`);
    let shown = 0;
    while (shown < o.rounds) {
      await new Promise((r) => setTimeout(r, 500));
      if (coord.proc.exitCode !== null) throw new Error(`the coordinator exited early: ${coord.lines.slice(-3).join(' | ')}`);
      if (coord.lines.some((l) => /stopping before round/.test(l))) {
        o.print(coord.lines.find((l) => /stopping before round/.test(l))!);
        break;
      }
      const recs = await getJson<RoundRow[]>(`${operatorUrl}/api/rounds?from=${shown + 1}`).catch(() => [] as RoundRow[]);
      for (const r of recs) {
        const m = r.metrics;
        o.print(
          `${String(r.round).padStart(5)}  ${String(r.participants.length).padStart(7)}  ${('v' + (m.evaluatedVersion ?? r.round - 1)).padStart(8)}  ${fmt(m['hr@10']).padStart(9)}  ${fmt(m['ndcg@10']).padStart(11)}  ${((r.timings.closedAt - r.timings.startedAt) / 1000).toFixed(1).padStart(7)}` +
            (r.privacy ? `  ${String(r.privacy.contributions).padStart(8)}  ${fmt(r.privacy.epsilon).padStart(7)}` : '') +
            (r.outcome === 'committed' ? '' : `  (${r.outcome})`),
        );
        if (r.outcome === 'committed') shown++;
      }
    }
    const final = new Uint8Array(await (await fetch(`${url}/api/models/latest`)).arrayBuffer());
    const catalog = await getJson<{ items: Array<{ id: string }> }>(`${url}/api/catalog`);
    await stopAll(children);
    children.length = 0;
    const fedSeconds = (performance.now() - started) / 1000;
    o.print(`\nfederated training done in ${fedSeconds.toFixed(0)}s. Now the business case on each merchant's own test users:`);
    await initBackend('auto');
    const itemIds = catalog.items.map((i) => i.id);
    const merchants = await Promise.all(ids.map(async (id) => ({ id, data: await loadLocalData(spec, itemIds, { merchant: id }) })));
    const rows = await businessCase(merchants, final, itemIds.length, { model: o.model, epochs: o.rounds, lr: o.lr, batchSize: o.batchSize, seed: o.seed, log: o.log });
    o.print('\nNDCG@10 on each merchant\'s own test users (full ranking over all items):');
    o.print('merchant  test users  federated  alone   pooled*  federated vs alone');
    for (const r of rows) {
      o.print(`${r.merchant.padEnd(8)}  ${String(r.users).padStart(10)}  ${r.federated.toFixed(4).padStart(9)}  ${r.alone.toFixed(4)}  ${r.pooled.toFixed(4)}   ${(r.federated / r.alone).toFixed(2)}x`);
    }
    o.print('* pooled = one model trained on all merchants\' raw data together: what pooling behaviour data would buy; fedrec never pools it.');
    const seconds = (performance.now() - started) / 1000;
    o.print(`demo finished in ${seconds.toFixed(0)}s${o.keep ? `; files kept in ${dir}` : ''}`);
    return { rows, seconds };
  } finally {
    await cleanup();
  }
}
