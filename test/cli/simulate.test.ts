// `fedrec simulate` as a user runs it: the JSON summary line the issue
// specifies, the output files, and clear refusals.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';

const base = mkdtempSync(join(tmpdir(), 'fedrec-sim-cli-'));
afterAll(() => rmSync(base, { recursive: true, force: true }));

function fedrec(args: string[]) {
  const r = spawnSync(process.execPath, ['bin/fedrec.mjs', ...args], { encoding: 'utf8', timeout: 120_000 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

describe('fedrec simulate', () => {
  it('runs end to end and prints the summary as its last JSON line', () => {
    const out = join(base, 'run');
    const r = fedrec(['simulate', '--data', 'synthetic:users=80,items=40', '--model', 'mf', '--dim', '8', '--rounds', '2', '--clients-per-round', '8', '--out', out, '--backend', 'wasm', '--json']);
    expect(r.code, r.stderr).toBe(0);
    const j = JSON.parse(r.stdout.trim().split('\n').pop()!);
    expect(Object.keys(j).sort()).toEqual(['clients_per_round', 'data', 'delta', 'dp', 'epsilon', 'hr@10', 'model', 'mrr', 'ndcg@10', 'partition', 'rounds', 'seconds'].sort());
    expect(j).toMatchObject({ data: 'synthetic:users=80,items=40', model: 'mf', partition: 'per-user', rounds: 2, clients_per_round: 8, dp: 'none', epsilon: null });
    for (const f of ['config.json', 'rounds.csv', 'rounds.jsonl', 'summary.json', 'model.safetensors', 'metrics.svg', 'epsilon.svg']) expect(existsSync(join(out, f)), f).toBe(true);
    // progress goes to stderr, one line per round when not on a terminal
    expect(r.stderr).toMatch(/round 1\/2: 8 clients, val NDCG@10/);
    expect(r.stderr).toMatch(/round 2\/2/);
  }, 120_000);

  it('refuses bad settings with one clear line, before doing any work', () => {
    const notEmpty = join(base, 'full');
    const cfg = join(base, 'c.json');
    writeFileSync(cfg, JSON.stringify({ dp: 'central' }));
    const cases: Array<[string[], RegExp]> = [
      [['--partition', 'merchants:0'], /bad partition "merchants:0"/],
      [['--config', cfg], /noise: give noise \(a noise multiplier\) or targetEpsilon/],
      [['--workers', '0'], /--workers must be a positive integer/],
      [['--rounds', '0'], /--rounds must be a positive integer/],
    ];
    for (const [args, msg] of cases) {
      const r = fedrec(['simulate', '--out', join(base, 'x'), ...args]);
      expect(r.code, args.join(' ')).not.toBe(0);
      expect(r.stderr, args.join(' ')).toMatch(msg);
    }
    writeFileSync(join(base, 'keep.txt'), 'x');
    const r = fedrec(['simulate', '--out', base]);
    expect(r.stderr).toMatch(/is not empty; choose a new directory/);
    expect(existsSync(notEmpty)).toBe(false);
  }, 120_000);
});
