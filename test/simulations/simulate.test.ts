// simulations/: runSimulation on the production engine and clients — outputs
// that parse, one client per user, reproducible runs (also under DP with
// seeded noise), ε as the accountant computes it, user-level DP inside
// merchants, and the `fedrec simulate` command's config merging and refusals.
import { mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { epsilonFor } from '../../privacy/index.ts';
import { initBackend, readCheckpoint } from '../../recommender/index.ts';
import { parseSimulationConfig, SimulationConfigError, type SimulationConfig } from '../../simulations/config.ts';
import { OUTPUT_FILES, ROUND_COLUMNS, writeConfig, writeOutputs } from '../../simulations/outputs.ts';
import { parseCsv } from '../../simulations/report/index.ts';
import { runSimulation } from '../../simulations/runner.ts';
import { resolveSimulationConfig } from '../../cli/simulate.ts';

const base = mkdtempSync(join(tmpdir(), 'fedrec-sim-test-'));
afterAll(() => rmSync(base, { recursive: true, force: true }));
beforeAll(async () => {
  await initBackend('wasm');
});

let n = 0;
const dirFor = () => join(base, `run${n++}`);
const tiny = (over: Partial<SimulationConfig> = {}): SimulationConfig =>
  parseSimulationConfig({ data: 'synthetic:users=120,items=60', model: 'mf', modelConfig: { dim: 8 }, rounds: 3, clientsPerRound: 10, batchSize: 32, lr: 0.05, ...over });

describe('runSimulation', () => {
  it('writes outputs that parse, with one client per user on the per-user partition', async () => {
    const cfg = tiny();
    const dir = dirFor();
    const r = await runSimulation(cfg, dir);
    writeConfig(dir, cfg);
    writeOutputs(dir, r);
    for (const f of OUTPUT_FILES) expect(readdirSync(dir)).toContain(f);
    expect(r.summary.clients).toBe(120);
    expect(r.summary.users).toBe(120);
    expect(r.summary.rounds).toBe(3);
    const csv = parseCsv(readFileSync(join(dir, 'rounds.csv'), 'utf8'));
    expect(csv.header).toEqual([...ROUND_COLUMNS]);
    expect(csv.rows.map((row) => Number(row[0]))).toEqual([1, 2, 3]);
    expect(csv.rows.every((row) => Number(row[1]) === 10)).toBe(true); // 10 clients per round
    const jsonl = readFileSync(join(dir, 'rounds.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
    expect(jsonl).toHaveLength(3);
    for (const row of jsonl) {
      expect(row.client_seconds).toBeGreaterThan(0);
      expect(row.client_seconds).toBeLessThanOrEqual(row.seconds);
      expect(row['val_ndcg@10']).toBeGreaterThanOrEqual(0);
      expect(row['val_ndcg@10']).toBeLessThanOrEqual(1);
      expect(row.epsilon).toBeNull();
    }
    const summary = JSON.parse(readFileSync(join(dir, 'summary.json'), 'utf8'));
    for (const k of ['hr@10', 'ndcg@10', 'mrr']) expect(summary[k]).toBeGreaterThanOrEqual(0);
    expect(summary.dp).toBe('none');
    const ckpt = readCheckpoint(new Uint8Array(readFileSync(join(dir, 'model.safetensors'))));
    expect(Array.from(ckpt.weights)).toEqual(Array.from(r.finalWeights));
    expect(ckpt.itemIds).toHaveLength(summary.items);
    expect(JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8'))).toEqual(JSON.parse(JSON.stringify(cfg)));
    for (const svg of ['metrics.svg', 'epsilon.svg']) expect(readFileSync(join(dir, svg), 'utf8')).toMatch(/^<svg[^>]*xmlns="http:\/\/www.w3.org\/2000\/svg"/);
    // every update went through the engine's checks and was accepted
    expect(r.records.every((rec) => rec.refusals.length === 0 && rec.participants.length === 10)).toBe(true);
  }, 60_000);

  it('is reproducible: the same config gives the same model and rows', async () => {
    const a = await runSimulation(tiny({ seed: 7 }), dirFor());
    const b = await runSimulation(tiny({ seed: 7 }), dirFor());
    const c = await runSimulation(tiny({ seed: 8 }), dirFor());
    expect(Array.from(b.finalWeights)).toEqual(Array.from(a.finalWeights));
    const strip = (rows: typeof a.rows) => rows.map(({ seconds: _s, client_seconds: _c, ...rest }) => rest);
    expect(strip(b.rows)).toEqual(strip(a.rows));
    expect(Array.from(c.finalWeights)).not.toEqual(Array.from(a.finalWeights));
  }, 60_000);

  it('gives identical results for any number of worker threads (MF, whose user vectors live with the clients)', async () => {
    const cfg = (workers: number) => tiny({ seed: 3, workers, dp: 'central', q: 0.2, noise: 0.8, seededNoise: true, clip: 0.5 });
    const one = await runSimulation(cfg(1), dirFor());
    const three = await runSimulation(cfg(3), dirFor());
    expect(three.clientTasks).toBe(one.clientTasks);
    expect(Array.from(three.finalWeights)).toEqual(Array.from(one.finalWeights));
    const strip = (rows: typeof one.rows) => rows.map(({ seconds: _s, client_seconds: _c, ...rest }) => rest);
    expect(strip(three.rows)).toEqual(strip(one.rows));
    expect(three.summary['ndcg@10']).toBe(one.summary['ndcg@10']);
  }, 120_000);

  it('central DP on the per-user partition: Poisson clients, ε of the accountant, exactly reproducible with seeded noise', async () => {
    const cfg = tiny({ dp: 'central', q: 0.1, noise: 1.1, seededNoise: true, clip: 0.5 });
    const a = await runSimulation(cfg, dirFor());
    const b = await runSimulation(cfg, dirFor());
    expect(Array.from(b.finalWeights)).toEqual(Array.from(a.finalWeights));
    expect(a.summary.noise_source).toBe('seeded');
    expect(a.summary.sampling_source).toBe('seeded');
    expect(a.summary.covered).toBe(true);
    for (const [i, row] of a.rows.entries()) expect(row.epsilon!).toBeCloseTo(epsilonFor(0.1, 1.1, i + 1, 1e-5), 10);
    expect(a.summary.epsilon!).toBeCloseTo(epsilonFor(0.1, 1.1, 3, 1e-5), 10);
    // each update is one client = one user, weight 1, and the noise moved the model
    for (const rec of a.records) for (const p of rec.participants) expect(p.weight).toBe(1);
  }, 60_000);

  it('under DP who is sampled comes from the CSPRNG unless seededNoise: the public seed does not tell who took part', async () => {
    const cfg = tiny({ dp: 'central', q: 0.3, noise: 1.1, clip: 0.5 });
    const a = await runSimulation(cfg, dirFor());
    const b = await runSimulation(cfg, dirFor());
    expect(a.summary.sampling_source).toBe('csprng');
    expect(a.summary.noise_source).toBe('csprng');
    // same seed, same config: the selected clients differ (3 rounds of Poisson(0.3) over the users; equal by chance with negligible probability)
    const who = (r: typeof a) => r.records.map((rec) => rec.selected.join(',')).join('|');
    expect(who(a)).not.toBe(who(b));
    // without DP the run is seeded throughout
    const plain = await runSimulation(tiny({}), dirFor());
    expect(plain.summary.sampling_source).toBe('seeded');
  }, 60_000);

  it('central DP inside merchants: every merchant each round, users sampled at q, ε at unit user', async () => {
    const cfg = tiny({ data: 'synthetic:users=120,items=60,merchants=1', partition: 'merchants:3:alpha=0.3', dp: 'central', q: 0.25, noise: 1, seededNoise: true, clip: 0.5 });
    const r = await runSimulation(cfg, dirFor());
    expect(r.summary.clients).toBe(3);
    for (const rec of r.records) {
      expect(rec.participants).toHaveLength(3);
      expect(rec.privacy!.unit).toBe('user');
      expect(rec.privacy!.expectedContributions).toBeCloseTo(0.25 * 120, 12);
      // Poisson(0.25) over 120 users: mean 30, sd ≈ 4.7
      expect(rec.privacy!.contributions as number).toBeGreaterThan(10);
      expect(rec.privacy!.contributions as number).toBeLessThan(55);
    }
    expect(r.summary.epsilon!).toBeCloseTo(epsilonFor(0.25, 1, 3, 1e-5), 10);
  }, 60_000);

  it('runs on a MovieLens 1M directory (written here: 40 users × 12 ratings over 30 movies) with a merchants partition', async () => {
    const ml = join(base, 'ml-1m');
    mkdirSync(ml, { recursive: true });
    const genres = ['Drama', 'Comedy', 'Action'];
    writeFileSync(join(ml, 'movies.dat'), Array.from({ length: 30 }, (_, m) => `${m + 1}::Movie ${m + 1} (1999)::${genres[m % 3]}`).join('\n') + '\n');
    const ratings: string[] = [];
    for (let u = 1; u <= 40; u++) for (let j = 0; j < 12; j++) ratings.push(`${u}::${((u * 7 + j * 5) % 30) + 1}::4::${978300000 + u * 100 + j}`);
    writeFileSync(join(ml, 'ratings.dat'), ratings.join('\n') + '\n');
    const r = await runSimulation(tiny({ data: `movielens:${ml}`, partition: 'merchants:3:alpha=0.5', rounds: 2 }), dirFor());
    expect(r.summary.users).toBe(40);
    expect(r.summary.items).toBe(30);
    expect(r.summary.clients).toBe(3);
    expect(r.records.every((rec) => rec.outcome === 'committed' && rec.participants.length === 3)).toBe(true);
    expect(r.summary['ndcg@10']).toBeGreaterThanOrEqual(0);
  }, 60_000);

  it('refuses to reuse a directory that already holds a simulation', async () => {
    const dir = dirFor();
    await runSimulation(tiny({ rounds: 1 }), dir);
    await expect(runSimulation(tiny({ rounds: 1 }), dir)).rejects.toThrow(/already holds a simulation/);
  }, 60_000);
});

describe('simulation config', () => {
  it('names bad keys and missing DP settings', () => {
    const bad = (raw: unknown) => {
      try {
        parseSimulationConfig(raw);
      } catch (err) {
        expect(err).toBeInstanceOf(SimulationConfigError);
        return (err as Error).message;
      }
      throw new Error('expected a refusal');
    };
    expect(bad({ rounds: 0 })).toMatch(/rounds: must be a positive integer/);
    expect(bad({ dp: 'central' })).toMatch(/noise: give noise \(a noise multiplier\) or targetEpsilon/);
    expect(bad({ dp: 'central', noise: 1, targetEpsilon: 3 })).toMatch(/give noise or targetEpsilon, not both/);
    expect(bad({ dp: 'central', noise: 1, partition: 'iid:4' })).toMatch(/q: is required with dp central and a merchants or iid partition/);
    expect(bad({ noise: 1 })).toMatch(/noise: applies to dp central only/);
    expect(bad({ epochs: 3 })).toMatch(/epochs|Unrecognized/);
  });

  it('merges a config file under the flags given on the command line', () => {
    const file = join(base, 'sim.json');
    writeFileSync(file, JSON.stringify({ rounds: 12, model: 'mf', modelConfig: { dim: 16 }, q: 0.2 }));
    const given = new Set(['rounds', 'dim']);
    const cfg = resolveSimulationConfig({ config: file, rounds: 5, model: 'sasrec', dim: 24, json: true }, (k) => given.has(k));
    expect(cfg.rounds).toBe(5); // flag given
    expect(cfg.model).toBe('mf'); // flag not given on the command line: the file's value
    expect(cfg.modelConfig).toEqual({ dim: 24 });
    expect(cfg.q).toBe(0.2);
    writeFileSync(file, '[1, 2]');
    expect(() => resolveSimulationConfig({ config: file }, () => false)).toThrow(/is not a JSON object/);
  });
});
