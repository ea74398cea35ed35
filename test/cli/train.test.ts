// The `fedrec` command end to end: train → checkpoint → evaluate, the JSON
// summary line, progress on stderr, user errors as one line, MovieLens dirs.
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const SYNTH = 'synthetic:users=60,items=40,categories=4,length=12';
const METRICS = ['hr@10', 'ndcg@10', 'mrr', 'hr@20', 'ndcg@20'];
const TIMEOUT = 120_000;

interface Run {
  status: number | null;
  stdout: string;
  stderr: string;
}

function fedrec(...args: string[]): Run {
  const env: NodeJS.ProcessEnv = { ...process.env };
  delete env.FEDREC_DEBUG; // would add stack traces on purpose
  delete env.NODE_OPTIONS;
  const r = spawnSync(process.execPath, ['bin/fedrec.mjs', ...args], { cwd: ROOT, env, encoding: 'utf8', timeout: 90_000 });
  if (r.error) throw r.error;
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

const lines = (s: string) => s.split('\n').filter((l) => l.trim() !== '');

function lastJson(r: Run): Record<string, unknown> {
  const last = lines(r.stdout).at(-1);
  expect(last, `no stdout; stderr:\n${r.stderr}`).toBeDefined();
  return JSON.parse(last!) as Record<string, unknown>;
}

function expectSuccess(r: Run): void {
  expect(r.status, `exit ${r.status}; stderr:\n${r.stderr}`).toBe(0);
}

/** A user error: non-zero exit, one error line naming the problem, no stack trace. */
function expectUserError(r: Run, ...mentions: string[]): void {
  expect(r.status).not.toBe(0);
  expect(r.status).not.toBeNull(); // exited, not killed by the timeout
  const errLines = lines(r.stderr);
  expect(errLines.filter((l) => /^\s+at\s/.test(l)), `stack trace in:\n${r.stderr}`).toEqual([]);
  const errors = errLines.filter((l) => /^(fedrec|error)\b/i.test(l));
  expect(errors, `expected one error line in:\n${r.stderr}`).toHaveLength(1);
  for (const m of mentions) expect(errors[0]).toContain(m);
  expect(r.stdout.trim()).toBe('');
}

function expectMetricsInUnitRange(j: Record<string, unknown>): void {
  for (const k of METRICS) {
    expect(typeof j[k], k).toBe('number');
    expect(j[k] as number, k).toBeGreaterThanOrEqual(0);
    expect(j[k] as number, k).toBeLessThanOrEqual(1);
  }
  expect(j['hr@10'] as number).toBeLessThanOrEqual(j['hr@20'] as number);
  expect(j['ndcg@10'] as number).toBeLessThanOrEqual(j['hr@10'] as number);
}

let tmp: string;

beforeAll(() => {
  tmp = mkdtempSync(join(tmpdir(), 'fedrec-cli-'));
});

afterAll(() => {
  if (tmp) rmSync(tmp, { recursive: true, force: true });
});

describe('fedrec train / evaluate on synthetic data', () => {
  let ckpt: string;
  let trainJson: Record<string, unknown>;

  it(
    'train --json writes a checkpoint and ends stdout with the summary JSON',
    () => {
      ckpt = join(tmp, 'm.safetensors');
      const r = fedrec('train', '--data', SYNTH, '--model', 'mf', '--epochs', '2', '--json', '--backend', 'wasm', '--out', ckpt);
      expectSuccess(r);
      trainJson = lastJson(r);
      expect(Object.keys(trainJson).sort()).toEqual(
        ['model', 'data', 'backend', 'epochs', 'best_epoch', 'seconds', 'seconds_to_best', ...METRICS, ...METRICS.map((k) => `incl_seen_${k}`), 'repeat_targets', 'users', 'items', 'interactions', 'config'].sort(),
      );
      // seen items as candidates can only push a target down: incl_seen_hr@K ≤ hr@K
      expect(trainJson['incl_seen_hr@10'] as number).toBeLessThanOrEqual(trainJson['hr@10'] as number);
      expect(trainJson.config).toMatchObject({ dim: 64, batchSize: 256, patience: 5 });
      expect(trainJson.model).toBe('mf');
      expect(trainJson.data).toBe(SYNTH);
      expect(trainJson.backend).toBe('wasm');
      expect(trainJson.epochs).toBe(2); // the step floor (1,000 steps) cannot let patience stop a 2-epoch run
      expect(trainJson.seconds).toBeGreaterThanOrEqual(0);
      expectMetricsInUnitRange(trainJson);
      expect(trainJson.users).toBe(60);
      expect(trainJson.items).toBe(40);
      // every synthetic user has at least 5 interactions
      expect(trainJson.interactions as number).toBeGreaterThanOrEqual(5 * 60);
      // progress goes to stderr: one line per epoch, and the backend is named
      const err = lines(r.stderr);
      expect(err.some((l) => /epoch\s+1\s*\/\s*2\b/.test(l)), r.stderr).toBe(true);
      expect(err.some((l) => /epoch\s+2\s*\/\s*2\b/.test(l)), r.stderr).toBe(true);
      expect(err.some((l) => /backend/i.test(l) && /wasm/.test(l)), r.stderr).toBe(true);
      // the plan chosen from the data is printed with its reasons
      expect(r.stderr).toMatch(/chosen from the data/);
      expect(r.stderr).toMatch(/dim 64: \d+\.\d training interactions per item on average \(≥ 5\)/);
      expect(r.stderr).toMatch(/validation every \d+ epochs?: \d+ optimiser steps per epoch/);
      // stdout is only the machine-readable line
      expect(lines(r.stdout)).toHaveLength(1);
    },
    TIMEOUT,
  );

  it('the checkpoint is a safetensors file: u64 LE header length, JSON header naming item_emb', () => {
    expect(ckpt).toBeDefined();
    const bytes = readFileSync(ckpt);
    const n = Number(bytes.readBigUInt64LE(0));
    expect(n).toBeGreaterThan(0);
    expect(8 + n).toBeLessThanOrEqual(bytes.length);
    const header = JSON.parse(bytes.subarray(8, 8 + n).toString('utf8')) as Record<string, any>;
    // mf on 40 items with ≥ 5 training interactions per item (60 users × ≥ 10 / 40): dim 64 by the
    // data rule; item_emb [40, 64] and item_bias [40], F32, nothing else
    expect(header.item_emb).toMatchObject({ dtype: 'F32', shape: [40, 64] });
    expect(header.item_bias).toMatchObject({ dtype: 'F32', shape: [40] });
    expect(Object.keys(header).filter((k) => k !== '__metadata__').sort()).toEqual(['item_bias', 'item_emb']);
    expect(bytes.length).toBe(8 + n + 4 * (40 * 64 + 40));
    const meta = header.__metadata__ as Record<string, string>;
    expect(meta.model).toBe('mf');
    expect(typeof meta.format).toBe('string');
    const ids = JSON.parse(meta.item_ids) as string[];
    expect(ids).toHaveLength(40);
    expect(new Set(ids).size).toBe(40);
  });

  it(
    'evaluate --checkpoint reads it back and reports the same users',
    () => {
      expect(ckpt).toBeDefined();
      const r = fedrec('evaluate', '--checkpoint', ckpt, '--data', SYNTH, '--json', '--backend', 'wasm');
      expectSuccess(r);
      const j = lastJson(r);
      expect(j.model).toBe('mf');
      expect(j.users).toBe(trainJson.users);
      expectMetricsInUnitRange(j);
      // the same e-commerce variants as train
      expect(typeof j['incl_seen_ndcg@10']).toBe('number');
      expect(j.repeat_targets).toBe(trainJson.repeat_targets);
    },
    TIMEOUT,
  );
});

describe('fedrec baselines', () => {
  it('compares popularity, mf and sasrec with each loss on one split', () => {
    const r = fedrec('baselines', '--data', SYNTH, '--epochs', '1', '--json', '--backend', 'wasm');
    expectSuccess(r);
    const j = lastJson(r) as { results: Array<Record<string, unknown>> };
    expect(j.results.map((x) => x.model)).toEqual(['popularity', 'mf', 'sasrec', 'sasrec-gbce', 'sasrec-bce']);
    for (const row of j.results) expectMetricsInUnitRange(row);
    // each trained model ran exactly the one epoch it was allowed
    expect(j.results.slice(1).map((x) => x.epochs)).toEqual([1, 1, 1, 1]);
  }, TIMEOUT);
});

describe('fedrec user errors: non-zero exit, one line, no stack trace', () => {
  it('an unknown --model', () => {
    expectUserError(fedrec('train', '--data', SYNTH, '--model', 'foo', '--backend', 'cpu'), 'foo', '--model');
  }, TIMEOUT);

  it('a missing checkpoint file', () => {
    const missing = join(tmp, 'does-not-exist.safetensors');
    expectUserError(fedrec('evaluate', '--checkpoint', missing, '--data', SYNTH, '--backend', 'cpu'), missing);
  }, TIMEOUT);

  it('an events file that does not exist', () => {
    expectUserError(fedrec('train', '--data', 'events:/nonexistent.csv', '--epochs', '1', '--backend', 'cpu'), '/nonexistent.csv');
  }, TIMEOUT);

  it('a file that is not a checkpoint', () => {
    const bogus = join(tmp, 'bogus.safetensors');
    writeFileSync(bogus, 'this is not a safetensors file at all');
    expectUserError(fedrec('evaluate', '--checkpoint', bogus, '--data', SYNTH, '--backend', 'cpu'), bogus);
  }, TIMEOUT);
});

describe('fedrec train on MovieLens directories', () => {
  // 6 users × 6 ratings over 10 movies, timestamps increasing per user, no
  // consecutive repeats (so every rating is one interaction).
  const USERS = 6;
  const PER_USER = 6;
  const MOVIES = 10;
  const ratings = Array.from({ length: USERS }, (_, u) =>
    Array.from({ length: PER_USER }, (_, j) => ({
      user: u + 1,
      item: ((u * 3 + j * 7) % MOVIES) + 1,
      rating: 1 + ((u + j) % 5),
      ts: 881_250_000 + u * 1000 + j * 60,
    })),
  ).flat();
  const distinctMovies = new Set(ratings.map((r) => r.item)).size;

  it('the fixture is what the test claims', () => {
    expect(ratings).toHaveLength(36);
    expect(distinctMovies).toBe(MOVIES);
    for (let u = 1; u <= USERS; u++) {
      const items = ratings.filter((r) => r.user === u).map((r) => r.item);
      expect(new Set(items).size).toBe(PER_USER);
    }
  });

  it(
    'MovieLens 100K layout (u.data tab-separated, u.item)',
    () => {
      const dir = join(tmp, 'ml-100k');
      mkdirSync(dir);
      writeFileSync(join(dir, 'u.data'), ratings.map((r) => `${r.user}\t${r.item}\t${r.rating}\t${r.ts}`).join('\n') + '\n');
      const flags = (g: number) => Array.from({ length: 19 }, (_, k) => (k === g ? '1' : '0')).join('|');
      writeFileSync(
        join(dir, 'u.item'),
        Array.from({ length: MOVIES }, (_, i) => `${i + 1}|Movie ${i + 1} (1995)|01-Jan-1995||http://example.org/${i + 1}|${flags(1 + (i % 18))}`).join('\n') +
          '\n',
        'latin1',
      );
      const r = fedrec('train', '--data', `movielens:${dir}`, '--model', 'mf', '--epochs', '1', '--dim', '8', '--json', '--backend', 'wasm');
      expectSuccess(r);
      const j = lastJson(r);
      expect(j.users).toBe(USERS);
      expect(j.items).toBe(distinctMovies);
      expect(j.interactions).toBe(USERS * PER_USER);
      expect(j.epochs).toBe(1);
      expectMetricsInUnitRange(j);
      expect(r.stderr).toMatch(/MovieLens 100K/);
      expect(r.stderr).not.toMatch(/bad row|skipped/i); // the fixture parses cleanly
    },
    TIMEOUT,
  );

  it(
    'MovieLens 1M layout (ratings.dat with ::), sasrec, checkpoint evaluated back',
    () => {
      const dir = join(tmp, 'ml-1m');
      mkdirSync(dir);
      writeFileSync(join(dir, 'ratings.dat'), ratings.map((r) => `${r.user}::${r.item}::${r.rating}::${r.ts}`).join('\n') + '\n');
      writeFileSync(
        join(dir, 'movies.dat'),
        Array.from({ length: MOVIES }, (_, i) => `${i + 1}::Movie ${i + 1} (1995)::Comedy|Drama`).join('\n') + '\n',
        'latin1',
      );
      const out = join(tmp, 'ml1m-sasrec.safetensors');
      const spec = `movielens:${dir}`;
      const r = fedrec(
        'train', '--data', spec, '--model', 'sasrec', '--epochs', '1', '--dim', '8', '--max-len', '10', '--blocks', '1',
        '--json', '--backend', 'wasm', '--out', out,
      );
      expectSuccess(r);
      const j = lastJson(r);
      expect(j.model).toBe('sasrec');
      expect(j.users).toBe(USERS);
      expect(j.items).toBe(distinctMovies);
      expect(j.interactions).toBe(USERS * PER_USER);
      expectMetricsInUnitRange(j);
      expect(r.stderr).toMatch(/MovieLens 1M/);
      expect(r.stderr).not.toMatch(/bad row|skipped/i);

      const bytes = readFileSync(out);
      const header = JSON.parse(bytes.subarray(8, 8 + Number(bytes.readBigUInt64LE(0))).toString('utf8')) as Record<string, any>;
      expect(header.item_emb.shape).toEqual([distinctMovies + 1, 8]); // + padding row
      expect(header.pos_emb.shape).toEqual([10, 8]);

      const e = fedrec('evaluate', '--checkpoint', out, '--data', spec, '--json', '--backend', 'wasm');
      expectSuccess(e);
      const ej = lastJson(e);
      expect(ej.model).toBe('sasrec');
      expect(ej.users).toBe(USERS);
      expectMetricsInUnitRange(ej);
    },
    TIMEOUT,
  );
});
