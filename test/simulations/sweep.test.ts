// simulations/sweep.ts and `fedrec sweep`: the grid's product and names,
// up-front validation, a DP sweep with its non-private ceiling (results.csv,
// results.md, frontier.svg), resuming an interrupted sweep, the output
// directory rule, and the command's progress and JSON line.
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { sweepCommand } from '../../cli/sweep.ts';
import { epsilonFor } from '../../privacy/index.ts';
import { initBackend } from '../../recommender/index.ts';
import type { SimulationConfig } from '../../simulations/config.ts';
import { OUTPUT_FILES } from '../../simulations/outputs.ts';
import { parseCsv } from '../../simulations/report/index.ts';
import { runSimulation, type SimulationHooks } from '../../simulations/runner.ts';
import { expandGrid, prepareSweepDir, resolveSweep, runNames, runSweep, type SimulationRunner, type SweepProgress } from '../../simulations/sweep.ts';

const tmp = mkdtempSync(join(tmpdir(), 'fedrec-sweep-test-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));
beforeAll(async () => {
  await initBackend('wasm');
});

const tiny = { data: 'synthetic:users=120,items=60', model: 'mf', modelConfig: { dim: 8 }, rounds: 2, clientsPerRound: 10, lr: 0.05 };
const dpBase = { ...tiny, dp: 'central', q: 0.1, clip: 0.5, seededNoise: true };

describe('resolveSweep', () => {
  it('expands the grid: the product in key order, the last key fastest, each run named by its values', () => {
    expect(expandGrid({ noise: [0.5, 1, 2], seed: [1, 2] })).toEqual([
      { noise: 0.5, seed: 1 },
      { noise: 0.5, seed: 2 },
      { noise: 1, seed: 1 },
      { noise: 1, seed: 2 },
      { noise: 2, seed: 1 },
      { noise: 2, seed: 2 },
    ]);
    const { sweep, out } = resolveSweep({ base: dpBase, grid: { noise: [0.5, 1, 2], seed: [1, 2] }, out: 'runs/sweep1' });
    expect(out).toBe('runs/sweep1');
    // dp central: the non-private baseline comes by default, last
    expect(sweep.baseline).toBe(true);
    expect(sweep.runs.map((r) => r.name)).toEqual(['noise=0.5,seed=1', 'noise=0.5,seed=2', 'noise=1,seed=1', 'noise=1,seed=2', 'noise=2,seed=1', 'noise=2,seed=2', 'non-private']);
    expect(sweep.runs[3].config).toMatchObject({ ...dpBase, noise: 1, seed: 2 });
    const ceiling = sweep.runs[6].config;
    expect(ceiling).toMatchObject({ ...tiny, dp: 'none', q: 0.1, seed: 1, seededNoise: false, clip: 1.5 }); // DP keys back to their defaults
    expect(ceiling.noise).toBeUndefined();
  });

  it('sets one model hyper-parameter with modelConfig.<name>; baseline only under DP unless asked', () => {
    const { sweep } = resolveSweep({ base: { ...tiny, modelConfig: { dim: 8, negatives: 3 } }, grid: { 'modelConfig.dim': [4, 16] } });
    expect(sweep.runs.map((r) => [r.name, r.config.modelConfig])).toEqual([
      ['modelConfig.dim=4', { dim: 4, negatives: 3 }],
      ['modelConfig.dim=16', { dim: 16, negatives: 3 }],
    ]);
    expect(sweep.baseline).toBe(false);
    expect(resolveSweep({ base: tiny, grid: { seed: [1, 2] }, baseline: true }).sweep.runs).toHaveLength(3);
    expect(resolveSweep({ base: dpBase, grid: { noise: [1] }, baseline: false }).sweep.runs).toHaveLength(1);
  });

  it('makes names filesystem-safe and unique, ignoring case', () => {
    expect(runNames([{ partition: 'merchants:5:alpha=0.3' }, { data: 'a/b' }, { data: 'a:b' }, { data: 'A_B' }, { adaptiveClip: true, delta: 1e-7 }])).toEqual([
      'partition=merchants_5_alpha_0.3',
      'data=a_b',
      'data=a_b~2',
      'data=A_B~3',
      'adaptiveClip=true,delta=1e-7',
    ]);
  });

  it('refuses a bad combination up front, naming it', () => {
    expect(() => resolveSweep({ base: dpBase, grid: { noise: [1, 0], seed: [3] } }, 'sweep.json')).toThrow(/sweep\.json: run noise=0, seed=3 is invalid:\n {2}noise: must be > 0/);
    expect(() => resolveSweep({ base: { ...dpBase, targetEpsilon: 4 }, grid: { noise: [1, 2] } })).toThrow(/run noise=1 is invalid:\n.*give noise or targetEpsilon, not both/);
    expect(() => resolveSweep({ base: tiny, grid: { epochs: [1, 2] } })).toThrow(/grid\.epochs: is not a simulate config key/);
    expect(() => resolveSweep({ base: { ...tiny, out: 'x' }, grid: { seed: [1] } })).toThrow(/base\.out: give out at the top level/);
    expect(() => resolveSweep({ base: tiny, grid: { seed: [] } })).toThrow(/grid\.seed: needs at least one value/);
    expect(() => resolveSweep({ base: tiny, grid: {} })).toThrow(/grid: needs at least one key/);
  });
});

describe('a DP sweep with its non-private ceiling', () => {
  const file = { base: dpBase, grid: { noise: [0.8, 2] } };
  const { sweep } = resolveSweep(file);
  const out = join(tmp, 'sweep');
  const summaryOf = (name: string) => JSON.parse(readFileSync(join(out, name, 'summary.json'), 'utf8'));
  const mtime = (name: string) => statSync(join(out, name, 'summary.json')).mtimeMs;

  /** runSimulation, counting its calls by directory; `killAt` runs that call to the end, then fails as a killed process would. */
  function countingRunner(killAt?: number): { runner: SimulationRunner; dirs: string[] } {
    const dirs: string[] = [];
    const runner = async (cfg: SimulationConfig, dir: string, hooks: SimulationHooks) => {
      dirs.push(dir.slice(out.length + 1));
      const result = await runSimulation(cfg, dir, hooks);
      if (dirs.length === killAt) throw new Error('killed');
      return result;
    };
    return { runner, dirs };
  }

  it('an interrupted sweep keeps its finished runs', async () => {
    prepareSweepDir(out, sweep);
    const { runner, dirs } = countingRunner(2);
    await expect(runSweep(sweep, out, { runner })).rejects.toThrow('killed');
    expect(dirs).toEqual(['noise=0.8', 'noise=2']);
    for (const f of OUTPUT_FILES) expect(existsSync(join(out, 'noise=0.8', f)), f).toBe(true);
    expect(existsSync(join(out, 'noise=2', 'summary.json'))).toBe(false);
    expect(existsSync(join(out, 'results.csv'))).toBe(false);
  });

  it('resuming the same sweep runs only the unfinished runs', async () => {
    const before = mtime('noise=0.8');
    prepareSweepDir(out, resolveSweep(file).sweep); // the same sweep: accepted
    const { runner, dirs } = countingRunner();
    const progress: SweepProgress[] = [];
    const rows = await runSweep(sweep, out, { runner, onRun: (p) => progress.push(p) });
    // noise=2 holds the killed run's store: it is removed and run again
    expect(dirs).toEqual(['noise=2', 'non-private']);
    expect(mtime('noise=0.8')).toBe(before);
    expect(progress.map((p) => [p.index, p.total, p.run.name, p.skipped])).toEqual([
      [1, 3, 'noise=0.8', true],
      [2, 3, 'noise=2', false],
      [3, 3, 'non-private', false],
    ]);
    expect(rows.map((r) => r.directory)).toEqual(['noise=0.8', 'noise=2', 'non-private']);
  });

  it('writes one row per run to results.csv and results.md, ε empty for the non-private run', () => {
    const csv = parseCsv(readFileSync(join(out, 'results.csv'), 'utf8'));
    expect(csv.header).toEqual(['noise', 'dp', 'epsilon', 'delta', 'noise_multiplier', 'hr@10', 'ndcg@10', 'mrr', 'val_ndcg@10', 'seconds', 'directory']);
    expect(csv.rows).toHaveLength(3);
    const col = (row: string[], name: string) => row[csv.header.indexOf(name)];
    const [low, high, ceiling] = csv.rows;
    const close = (cell: string, x: number) => expect(Math.abs(Number(cell) / x - 1)).toBeLessThan(1e-5); // 6 significant digits
    for (const [row, z] of [[low, 0.8], [high, 2]] as const) {
      const s = summaryOf(`noise=${z}`);
      expect(col(row, 'noise')).toBe(String(z));
      expect(col(row, 'dp')).toBe('central');
      close(col(row, 'epsilon'), s.epsilon);
      // Poisson q = 0.1, 2 rounds, δ = 1e-5: the accountant's ε
      close(col(row, 'epsilon'), epsilonFor(0.1, z, 2, 1e-5));
      close(col(row, 'noise_multiplier'), z);
      close(col(row, 'ndcg@10'), s['ndcg@10']);
    }
    expect(Number(col(low, 'epsilon'))).toBeGreaterThan(Number(col(high, 'epsilon'))); // more noise, less ε
    expect([col(ceiling, 'noise'), col(ceiling, 'dp'), col(ceiling, 'epsilon'), col(ceiling, 'delta'), col(ceiling, 'directory')]).toEqual(['', 'none', '', '', 'non-private']);
    close(col(ceiling, 'ndcg@10'), summaryOf('non-private')['ndcg@10']);

    const md = readFileSync(join(out, 'results.md'), 'utf8').trimEnd().split('\n');
    expect(md).toHaveLength(2 + 3);
    expect(md[0]).toBe(`| ${csv.header.join(' | ')} |`);
    expect(md[2]).toMatch(/^\| 0\.8 \| central \|.*\| noise=0\.8 \|$/);
    expect(md[4]).toMatch(/^\| {2}\| none \|.*\| non-private \|$/);
  });

  it('draws the frontier: a labelled point per DP run under the non-private ceiling', () => {
    const svg = readFileSync(join(out, 'frontier.svg'), 'utf8');
    expect(svg.match(/class="marker"/g)).toHaveLength(2);
    expect(svg.match(/class="point-label"[^>]*>[^<]*</g)!.map((t) => t.replace(/.*>/, '').slice(0, -1))).toEqual(['noise=0.8', 'noise=2']);
    expect(svg).toMatch(/class="hline-label"[^>]*>non-private</);
  });

  it('the output directory must be new, empty, or hold this same sweep', () => {
    const other = resolveSweep({ ...file, grid: { noise: [0.8, 3] } }).sweep;
    expect(() => prepareSweepDir(out, other)).toThrow(/holds a different sweep/);
    const stranger = join(tmp, 'stranger');
    mkdirSync(stranger);
    writeFileSync(join(stranger, 'notes.txt'), 'x');
    expect(() => prepareSweepDir(stranger, sweep)).toThrow(/is not empty and holds no sweep/);
    const empty = join(tmp, 'empty');
    mkdirSync(empty);
    prepareSweepDir(empty, sweep);
    expect(JSON.parse(readFileSync(join(empty, 'sweep.json'), 'utf8'))).toEqual(JSON.parse(JSON.stringify(sweep)));
  });

  it('fedrec sweep: a progress line per run on stderr, the rows as the last stdout JSON line; a finished sweep reruns nothing', async () => {
    const path = join(tmp, 'sweep-file.json');
    writeFileSync(path, JSON.stringify({ ...file, out: join(tmp, 'ignored') }));
    const stdout: string[] = [];
    const stderr: string[] = [];
    const outSpy = vi.spyOn(process.stdout, 'write').mockImplementation((s) => stdout.push(String(s)) > 0);
    const errSpy = vi.spyOn(process.stderr, 'write').mockImplementation((s) => stderr.push(String(s)) > 0);
    vi.spyOn(console, 'log').mockImplementation(() => {});
    const before = ['noise=0.8', 'noise=2', 'non-private'].map(mtime);
    try {
      await sweepCommand().parseAsync(['--config', path, '--out', out, '--backend', 'wasm', '--json'], { from: 'user' });
    } finally {
      vi.restoreAllMocks();
    }
    expect(existsSync(join(tmp, 'ignored'))).toBe(false); // --out wins
    expect(['noise=0.8', 'noise=2', 'non-private'].map(mtime)).toEqual(before);
    expect(stderr.join('')).toMatch(/run 1\/3 noise=0\.8: test NDCG@10 \d\.\d{4}, ε \d+\.\d{4}, \d+\.\ds \(finished earlier, kept\)\n/);
    expect(stderr.join('')).toMatch(/run 3\/3 non-private: test NDCG@10 \d\.\d{4}, \d+\.\ds/);
    const json = JSON.parse(stdout.join('').trim().split('\n').pop()!);
    expect(json.runs.map((r: Record<string, unknown>) => [r.directory, r.noise, r.dp])).toEqual([
      ['noise=0.8', 0.8, 'central'],
      ['noise=2', 2, 'central'],
      ['non-private', undefined, 'none'],
    ]);
    expect(json.runs[0].epsilon).toBe(summaryOf('noise=0.8').epsilon);
  });

  it('fedrec sweep refuses a bad combination before creating anything', async () => {
    const path = join(tmp, 'bad.json');
    const target = join(tmp, 'never');
    writeFileSync(path, JSON.stringify({ base: dpBase, grid: { noise: [1, -1] }, out: target }));
    await expect(sweepCommand().parseAsync(['--config', path], { from: 'user' })).rejects.toThrow(/run noise=-1 is invalid/);
    expect(existsSync(target)).toBe(false);
  });
});
