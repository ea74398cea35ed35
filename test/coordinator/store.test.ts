// coordinator/store: round trips, sequential commits, recovery from torn
// writes, orphans and temp files, lineage/spec checks, lost checkpoints, the
// directory lock. The kill -9 test is in storeCrash.test.ts.
import { spawnSync } from 'node:child_process';
import { appendFileSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, truncateSync, writeFileSync, mkdirSync, copyFileSync, unlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { Store, StoreError, modelFileName, optimizerFileName, type StoreInit } from '../../coordinator/store/index.ts';
import { initBackend } from '../../recommender/backend/index.ts';
import { readCheckpoint, specOf } from '../../recommender/models/index.ts';
import { decodeSafetensors } from '../../recommender/safetensors.ts';
import { LINEAGE, fixtureInit, itemIds, mfSpec, recordFor, stateFor, weightsFor } from './fixtures/storeFixture.ts';

const N = 20;
const D = 4;
const SIZE = N * D + N;

let dir: string;
const open: Store[] = [];

beforeEach(() => {
  dir = join(mkdtempSync(join(tmpdir(), 'fedrec-store-')), 'data');
});

afterEach(async () => {
  for (const s of open.splice(0)) await s.close();
  rmSync(join(dir, '..'), { recursive: true, force: true });
});

async function openStore(init: StoreInit | undefined = fixtureInit(N, D)): Promise<Store> {
  const s = await Store.open(dir, { init });
  open.push(s);
  return s;
}

async function closeStore(s: Store): Promise<void> {
  await s.close();
  open.splice(open.indexOf(s), 1);
}

async function commit(s: Store, outcome: 'committed' | 'abandoned' | 'budget-exhausted' = 'committed') {
  const from = s.modelVersion;
  const next = outcome === 'committed' ? { weights: weightsFor(from + 1, SIZE), strategyState: stateFor(from + 1, SIZE) } : undefined;
  return s.commitRound(recordFor(s.round + 1, outcome, from), next);
}

function bytesOf(a: Float32Array): Uint8Array {
  return new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
}

async function openError(init?: StoreInit): Promise<StoreError> {
  try {
    const s = await Store.open(dir, { init });
    await s.close();
  } catch (e) {
    expect(e).toBeInstanceOf(StoreError);
    return e as StoreError;
  }
  throw new Error('expected Store.open to fail');
}

const models = () => join(dir, 'models');
const rounds = () => join(dir, 'rounds.jsonl');

describe('layout and round trip', () => {
  it('the hand-written fixture spec is what recommender builds', async () => {
    await initBackend('cpu');
    expect(mfSpec(N, D)).toEqual(specOf('mf', { numItems: N, dim: D }));
  });

  it('creates the layout with version 0', async () => {
    const s = await openStore();
    expect(s.recovery.created).toBe(true);
    expect(s.lineage).toBe(LINEAGE);
    expect(s.modelVersion).toBe(0);
    expect(s.round).toBe(0);
    expect(readdirSync(dir).sort()).toEqual(['coordinator-key.json', 'lock', 'models', 'rounds.jsonl', 'store.json']);
    expect(readdirSync(models()).sort()).toEqual([optimizerFileName(0), modelFileName(0)].sort());
    expect(statSync(rounds()).size).toBe(0);
    const meta = JSON.parse(readFileSync(join(dir, 'store.json'), 'utf8'));
    expect(meta).toMatchObject({ format: 'fedrec-store-1', lineage: LINEAGE, spec: { model: 'mf', size: SIZE, numItems: N } });
    expect(Date.parse(meta.createdAt)).toBeGreaterThan(0);
    const latest = s.latest();
    expect(latest.weights).toEqual(weightsFor(0, SIZE));
    expect(latest.strategyState).toEqual(stateFor(0, SIZE));
    expect(latest.itemIds).toEqual(itemIds(N));
  });

  it('init, 2 committed + 1 abandoned round, reopen: same weights bytes, optimizer state, records', async () => {
    const s = await openStore();
    const r1 = await commit(s);
    const r2 = await commit(s, 'abandoned');
    const r3 = await commit(s);
    expect([r1.modelVersion, r2.modelVersion, r3.modelVersion]).toEqual([1, 1, 2]);
    expect(s.modelVersion).toBe(2);
    expect(s.round).toBe(3);
    const before = s.latest();
    const bytes2 = await s.modelBytes(2);
    const records = s.records();
    expect(records).toEqual([recordFor(1, 'committed', 0), recordFor(2, 'abandoned', 1), recordFor(3, 'committed', 1)]);
    expect(Object.isFrozen(records[0].participants[0])).toBe(true);
    await closeStore(s);
    expect(existsSync(join(dir, 'lock'))).toBe(false);

    for (const init of [fixtureInit(N, D), undefined]) {
      const t = await openStore(init);
      expect(t.recovery).toMatchObject({ created: false, tornTail: null, deletedOrphans: [], deletedTemps: [], rounds: 3, modelVersion: 2 });
      const after = t.latest();
      expect(after.modelVersion).toBe(2);
      expect(after.round).toBe(3);
      expect(bytesOf(after.weights)).toEqual(bytesOf(before.weights));
      expect(after.weights.every((x) => x === 2)).toBe(true);
      expect(after.strategyState.name).toBe('fedadam');
      expect(after.strategyState.step).toBe(2);
      expect(after.strategyState.params).toEqual(before.strategyState.params);
      expect(Object.keys(after.strategyState.vectors)).toEqual(['m', 's']);
      expect(bytesOf(after.strategyState.vectors.m)).toEqual(bytesOf(before.strategyState.vectors.m));
      expect(bytesOf(after.strategyState.vectors.s)).toEqual(bytesOf(before.strategyState.vectors.s));
      expect(after.strategyState.vectors.m.every((x) => x === 4)).toBe(true);
      expect(t.records()).toEqual(records);
      expect(t.record(2)?.outcome).toBe('abandoned');
      expect(t.record(2)?.reason).toBe('quorum not reached by the deadline');
      expect(t.record(0)).toBeUndefined();
      expect(t.record(4)).toBeUndefined();
      expect(await t.modelBytes(2)).toEqual(bytes2);
      expect(t.latestModelBytes()).toEqual({ modelVersion: 2, bytes: bytes2 });
      await closeStore(t);
    }
  });

  it('serves every version as a fedrec checkpoint that recommender reads', async () => {
    await initBackend('cpu');
    const s = await openStore();
    await commit(s);
    await commit(s);
    for (const v of [0, 1, 2]) {
      const bytes = await s.modelBytes(v);
      expect(bytes).not.toBeNull();
      const ckpt = readCheckpoint(bytes!);
      expect(ckpt.model).toBe('mf');
      expect(ckpt.weights).toEqual(weightsFor(v, SIZE));
      expect(ckpt.itemIds).toEqual(itemIds(N));
      expect(ckpt.extra).toMatchObject({ lineage: LINEAGE, model_version: String(v), round: String(v) });
      const opt = decodeSafetensors(readFileSync(join(models(), optimizerFileName(v))));
      expect(opt.metadata).toMatchObject({ format: 'fedrec-optimizer-1', strategy: 'fedadam', step: String(v), model_version: String(v) });
    }
    expect(await s.modelBytes(3)).toBeNull();
    expect(await s.modelBytes(-1)).toBeNull();
    expect(await s.modelBytes(1.5)).toBeNull();
  });

  it('latest() hands out copies, and commitRound copies its inputs', async () => {
    const s = await openStore();
    s.latest().weights.fill(99);
    s.latest().strategyState.vectors.m.fill(99);
    expect(s.latest().weights[0]).toBe(0);
    expect(s.latest().strategyState.vectors.m[0]).toBe(0);
    const weights = weightsFor(1, SIZE);
    const record = recordFor(1, 'committed', 0);
    const done = s.commitRound(record, { weights, strategyState: stateFor(1, SIZE) });
    weights.fill(7);
    record.metrics.hr10 = 42;
    await done;
    expect(s.latest().weights[0]).toBe(1);
    expect(s.record(1)?.metrics.hr10).toBe(recordFor(1, 'committed', 0).metrics.hr10);
  });

  it('pages records', async () => {
    const s = await openStore();
    for (let i = 0; i < 6; i++) await commit(s, i % 2 ? 'abandoned' : 'committed');
    expect(s.recordCount).toBe(6);
    expect(s.records({ from: 3, limit: 2 }).map((r) => r.round)).toEqual([3, 4]);
    expect(s.records({ from: 5 }).map((r) => r.round)).toEqual([5, 6]);
    expect(s.records({ limit: 1 }).map((r) => r.round)).toEqual([1]);
    expect(s.records({ from: 9 })).toEqual([]);
  });
});

describe('commits', () => {
  it('runs commits one at a time in call order', async () => {
    const s = await openStore();
    const r1 = recordFor(1, 'committed', 0);
    const r2 = recordFor(2, 'budget-exhausted', 1);
    const r3 = recordFor(3, 'committed', 1);
    const results = await Promise.all([
      s.commitRound(r1, { weights: weightsFor(1, SIZE), strategyState: stateFor(1, SIZE) }),
      s.commitRound(r2),
      s.commitRound(r3, { weights: weightsFor(2, SIZE), strategyState: stateFor(2, SIZE) }),
    ]);
    expect(results.map((r) => r.round)).toEqual([1, 2, 3]);
    expect(s.modelVersion).toBe(2);
    const lines = readFileSync(rounds(), 'utf8').split('\n');
    expect(lines.length).toBe(4);
    expect(lines[3]).toBe('');
    expect(lines.slice(0, 3).map((l) => JSON.parse(l).round)).toEqual([1, 2, 3]);
  });

  it('refuses records that do not follow the log, writes nothing, and keeps going', async () => {
    const s = await openStore();
    await commit(s);
    const size = statSync(rounds()).size;
    // Each promise gets its handler at once (they settle in order, while the loop below awaits them one by one).
    const settle = (p: Promise<unknown>) => p.then(() => null, (err: unknown) => err);
    const cases: Array<[Promise<unknown>, RegExp]> = [
      [settle(s.commitRound(recordFor(3, 'abandoned', 1))), /round 3, expected round 2/],
      [settle(s.commitRound(recordFor(2, 'abandoned', 0))), /model version 0, the current version is 1/],
      [settle(s.commitRound(recordFor(2, 'abandoned', 1, 'other-lineage'))), /lineage/],
      [settle(s.commitRound({ ...recordFor(2, 'committed', 1), modelVersion: 5 }, { weights: weightsFor(5, SIZE), strategyState: stateFor(5, SIZE) })), /expected 2/],
      [settle(s.commitRound(recordFor(2, 'committed', 1))), /no next weights/],
      [settle(s.commitRound(recordFor(2, 'abandoned', 1), { weights: weightsFor(1, SIZE), strategyState: stateFor(1, SIZE) })), /takes no next weights/],
      [settle(s.commitRound(recordFor(2, 'committed', 1), { weights: new Float32Array(3), strategyState: stateFor(2, SIZE) })), new RegExp(`3 weights, the model has ${SIZE}`)],
      [
        settle(s.commitRound(recordFor(2, 'committed', 1), { weights: weightsFor(2, SIZE), strategyState: { ...stateFor(2, SIZE), params: { lr: Infinity } } })),
        /param lr = Infinity/,
      ],
    ];
    for (const [p, message] of cases) {
      const e = await p;
      expect(e).toBeInstanceOf(StoreError);
      expect((e as StoreError).code).toBe('invalid-commit');
      expect((e as StoreError).message).toMatch(message);
    }
    expect(statSync(rounds()).size).toBe(size);
    expect(readdirSync(models()).filter((n) => n.startsWith('v000002') || n.startsWith('v000005'))).toEqual([]);
    expect(s.round).toBe(1);
    await commit(s);
    expect(s.modelVersion).toBe(2);
  });

  it('close waits for the commits already called', async () => {
    const s = await openStore();
    const pending = [commit(s), s.commitRound(recordFor(2, 'abandoned', 1))];
    await closeStore(s);
    expect((await Promise.all(pending)).map((r) => r.round)).toEqual([1, 2]);
    const t = await openStore();
    expect(t.round).toBe(2);
  });

  it('a failed log append stops writes until reopen; recovery then drops the uncommitted files', async () => {
    const s = await openStore();
    await commit(s);
    const saved = readFileSync(rounds());
    rmSync(rounds());
    mkdirSync(rounds()); // appending now fails (EISDIR), even as root
    const e = await commit(s).then(() => null, (err: unknown) => err);
    expect(e).toMatchObject({ code: 'broken' });
    expect((e as Error).message).toMatch(/writing round 2 to rounds.jsonl failed .* restart the coordinator/);
    await expect(commit(s, 'abandoned')).rejects.toMatchObject({ code: 'broken' });
    expect(s.round).toBe(1);
    expect(s.latest().weights.every((x) => x === 1)).toBe(true);
    await closeStore(s);
    rmSync(rounds(), { recursive: true });
    writeFileSync(rounds(), saved);
    const t = await openStore();
    expect(t.recovery.deletedOrphans.sort()).toEqual([`models/${modelFileName(2)}`, `models/${optimizerFileName(2)}`].sort());
    expect(t.modelVersion).toBe(1);
  });

  it('refuses writes after close', async () => {
    const s = await openStore();
    await closeStore(s);
    await expect(commit(s)).rejects.toMatchObject({ code: 'closed' });
  });
});

describe('recovery', () => {
  async function twoVersions(): Promise<{ logSize: number; latest: ReturnType<Store['latest']> }> {
    const s = await openStore();
    await commit(s);
    await commit(s);
    const latest = s.latest();
    await closeStore(s);
    return { logSize: statSync(rounds()).size, latest };
  }

  /** What a crash during round 3's commit leaves: its files written, half its line appended. */
  function crashDuringRound3(tail: string): void {
    copyFileSync(join(models(), modelFileName(2)), join(models(), modelFileName(3)));
    copyFileSync(join(models(), optimizerFileName(2)), join(models(), optimizerFileName(3)));
    appendFileSync(rounds(), tail);
  }

  it.each([
    ['half a JSON line', JSON.stringify(recordFor(3, 'committed', 2)).slice(0, 57), 'incomplete line'],
    ['a whole JSON line without its newline', JSON.stringify(recordFor(3, 'committed', 2)), 'incomplete line'],
    ['garbage with a newline', '{"round":3,"outcome":"comm\u0000\u0000\n', 'unparseable line'],
    ['NUL bytes', '\u0000\u0000\u0000\u0000\u0000\u0000', 'incomplete line'],
  ])('cuts a torn last line (%s) and falls back to the previous version', async (_what, tail, reason) => {
    const { logSize, latest } = await twoVersions();
    crashDuringRound3(tail);
    const s = await openStore();
    expect(s.recovery.tornTail).toMatchObject({ offset: logSize, bytes: Buffer.byteLength(tail), reason });
    expect(s.recovery.deletedOrphans.sort()).toEqual([`models/${modelFileName(3)}`, `models/${optimizerFileName(3)}`].sort());
    expect(statSync(rounds()).size).toBe(logSize);
    expect(s.round).toBe(2);
    expect(s.modelVersion).toBe(2);
    expect(bytesOf(s.latest().weights)).toEqual(bytesOf(latest.weights));
    expect(existsSync(join(models(), modelFileName(3)))).toBe(false);
    // Round 3 can now be committed for real, and survives a reopen.
    await commit(s, 'abandoned');
    await commit(s);
    await closeStore(s);
    const t = await openStore();
    expect(t.recovery.tornTail).toBeNull();
    expect(t.records().map((r) => [r.round, r.outcome, r.modelVersion])).toEqual([
      [1, 'committed', 1],
      [2, 'committed', 2],
      [3, 'abandoned', 2],
      [4, 'committed', 3],
    ]);
    expect(t.latest().weights.every((x) => x === 3)).toBe(true);
  });

  it('deletes an orphan v000004 checkpoint (no record) and leftover temp files', async () => {
    await twoVersions();
    const ckpt = readFileSync(join(models(), modelFileName(2)));
    writeFileSync(join(models(), modelFileName(4)), ckpt);
    writeFileSync(join(models(), optimizerFileName(4)), ckpt.subarray(0, 100)); // half-written, never renamed into a record
    writeFileSync(join(models(), `${modelFileName(3)}.1234-abcd.tmp`), ckpt.subarray(0, 10));
    writeFileSync(join(dir, 'store.json.99-ffff.tmp'), '{');
    writeFileSync(join(models(), 'README.txt'), 'not ours, left alone');
    const s = await openStore();
    expect(s.recovery.tornTail).toBeNull();
    expect(s.recovery.deletedOrphans.sort()).toEqual([`models/${modelFileName(4)}`, `models/${optimizerFileName(4)}`].sort());
    expect(s.recovery.deletedTemps.sort()).toEqual([`models/${modelFileName(3)}.1234-abcd.tmp`, 'store.json.99-ffff.tmp'].sort());
    expect(readdirSync(models()).sort()).toEqual(
      ['README.txt', ...[0, 1, 2].flatMap((v) => [modelFileName(v), optimizerFileName(v)])].sort(),
    );
    expect(readdirSync(dir).filter((n) => n.endsWith('.tmp'))).toEqual([]);
    expect(s.modelVersion).toBe(2);
  });

  it('refuses a log damaged before its last line', async () => {
    await twoVersions();
    const lines = readFileSync(rounds(), 'utf8').split('\n');
    writeFileSync(rounds(), [lines[0].slice(0, 30), lines[1], ''].join('\n'));
    const e = await openError();
    expect(e.code).toBe('corrupt-log');
    expect(e.message).toMatch(/line 1 .*not valid JSON and is not the last line/);
  });

  it('refuses a log whose records do not follow each other', async () => {
    await twoVersions();
    appendFileSync(rounds(), `${JSON.stringify(recordFor(5, 'abandoned', 2))}\n`);
    const e = await openError();
    expect(e.code).toBe('corrupt-log');
    expect(e.message).toMatch(/line 3: the record is round 5, expected round 3/);
  });

  it('a committed record whose checkpoint is missing is a hard error', async () => {
    await twoVersions();
    unlinkSync(join(models(), modelFileName(1)));
    const e = await openError();
    expect(e.code).toBe('missing-checkpoint');
    expect(e.message).toContain(modelFileName(1));
    expect(e.message).toMatch(/model version 1, committed by round 1, is in the store: the disk lost a write/);
    expect(e.message).toMatch(/backup/);
    // Nothing was "repaired" on the way: the log is intact.
    expect(readFileSync(rounds(), 'utf8').split('\n').length).toBe(3);
  });

  it('a missing optimizer file of a committed version is a hard error', async () => {
    await twoVersions();
    unlinkSync(join(models(), optimizerFileName(2)));
    const e = await openError();
    expect(e.code).toBe('missing-checkpoint');
    expect(e.message).toContain(optimizerFileName(2));
  });

  it('an unreadable latest checkpoint is a hard error', async () => {
    await twoVersions();
    const path = join(models(), modelFileName(2));
    truncateSync(path, statSync(path).size - 8);
    const e = await openError();
    expect(e.code).toBe('missing-checkpoint');
    expect(e.message).toMatch(/v000002\.safetensors, the file of model version 2 \(committed by round 2\), is unreadable/);
  });

  it('a latest checkpoint of another version is a hard error', async () => {
    await twoVersions();
    copyFileSync(join(models(), modelFileName(1)), join(models(), modelFileName(2)));
    const e = await openError();
    expect(e.code).toBe('missing-checkpoint');
    expect(e.message).toMatch(/holds model version "1", expected 2/);
  });

  it('an init interrupted before store.json starts over', async () => {
    mkdirSync(models(), { recursive: true });
    writeFileSync(join(models(), modelFileName(0)), 'half');
    writeFileSync(join(models(), `${optimizerFileName(0)}.7-0000.tmp`), 'half');
    writeFileSync(rounds(), '');
    await expect(Store.open(dir)).rejects.toMatchObject({ code: 'no-store' });
    writeFileSync(join(dir, 'lock'), ''); // a crash while taking the lock
    const s = await openStore();
    expect(s.recovery.created).toBe(true);
    expect(s.recovery.staleLockFrom).toBe(-1);
    expect(s.latest().weights).toEqual(weightsFor(0, SIZE));
    expect(readdirSync(models()).sort()).toEqual([optimizerFileName(0), modelFileName(0)].sort());
  });
});

describe('lineage, spec and ownership', () => {
  it('refuses another lineage with a clear message', async () => {
    const s = await openStore();
    await closeStore(s);
    const e = await openError(fixtureInit(N, D, 'lineage-2'));
    expect(e.code).toBe('lineage-mismatch');
    expect(e.message).toContain('holds lineage "test-lineage-1"');
    expect(e.message).toContain('lineage "lineage-2"');
    expect(e.message).toMatch(/use a new data directory, or pass the configuration that matches/);
  });

  it('refuses a changed catalog or model in the same lineage', async () => {
    const s = await openStore();
    expect(s.specDifferences(mfSpec(N, D), itemIds(N))).toEqual([]);
    await closeStore(s);
    const renamed = { ...fixtureInit(N, D), itemIds: itemIds(N).map((id, i) => (i === 3 ? 'sku-new' : id)) };
    let e = await openError(renamed);
    expect(e.code).toBe('spec-mismatch');
    expect(e.message).toMatch(/catalog 20 items \(ids sha256 \w+\) vs 20 items/);
    expect(e.message).toMatch(/use a new data directory/);
    e = await openError(fixtureInit(N, 8));
    expect(e.code).toBe('spec-mismatch');
    expect(e.message).toContain('config.dim 4 vs 8');
  });

  it('needs init to create a store, and refuses a directory that is not one', async () => {
    await expect(Store.open(dir)).rejects.toMatchObject({ code: 'no-store' });
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, 'notes.txt'), 'mine');
    const e = await openError(fixtureInit(N, D));
    expect(e.code).toBe('not-a-store');
    expect(e.message).toContain('notes.txt');
  });

  it('checks init', async () => {
    const bad = { ...fixtureInit(N, D), initialWeights: new Float32Array(5) };
    await expect(Store.open(dir, { init: bad })).rejects.toMatchObject({ code: 'invalid-init' });
    const dup = { ...fixtureInit(N, D), itemIds: itemIds(N).map((id, i) => (i === 1 ? 'sku-0' : id)) };
    await expect(Store.open(dir, { init: dup })).rejects.toMatchObject({ code: 'invalid-init' });
    expect(existsSync(dir)).toBe(false);
  });

  it('one Store per directory: refuses a second open, takes over a dead holder\'s lock', async () => {
    const s = await openStore();
    await expect(Store.open(dir)).rejects.toMatchObject({ code: 'locked' });
    await closeStore(s);
    // Two opens racing in one process: exactly one wins.
    const both = await Promise.allSettled([Store.open(dir), Store.open(dir)]);
    expect(both.map((r) => r.status).sort()).toEqual(['fulfilled', 'rejected']);
    for (const r of both) if (r.status === 'fulfilled') await r.value.close();
    else expect(r.reason).toMatchObject({ code: 'locked' });
    // A live process holds it.
    writeFileSync(join(dir, 'lock'), `${process.ppid}\n`);
    const e = await openError();
    expect(e.code).toBe('locked');
    expect(e.message).toContain(`in use by process ${process.ppid}`);
    // A dead one held it.
    const dead = spawnSync(process.execPath, ['-e', 'console.log(process.pid)'], { encoding: 'utf8' });
    const pid = Number(dead.stdout.trim());
    writeFileSync(join(dir, 'lock'), `${pid}\n`);
    const t = await openStore();
    expect(t.recovery.staleLockFrom).toBe(pid);
    expect(readFileSync(join(dir, 'lock'), 'utf8')).toBe(`${process.pid}\n`);
  });
});
