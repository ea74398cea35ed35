// The coordinator's data directory: model versions, optimizer state and the
// round log, crash-safe (the coordinator may be `kill -9`ed at any point).
//
// Layout of DIR:
//
//   store.json                           written once, at init: { format: "fedrec-store-1",
//                                        lineage, createdAt, spec } where spec summarises the
//                                        model (name, config, weight shapes, size) and the
//                                        catalog (item count, sha256 of the item ids)
//   rounds.jsonl                         one RoundRecord JSON per line, in round order
//                                        (rounds 1, 2, 3, ...). The privacy ledger is the
//                                        records' `privacy` fields: there is ONE log.
//   models/v000042.safetensors           model version 42: a fedrec checkpoint (recommender's
//                                        `encodeWeights`, with item_ids, lineage, model_version
//                                        and round in the metadata); served as is over HTTP
//   models/v000042.optimizer.safetensors the strategy's StrategyState after making version 42:
//                                        its vectors as 1-D F32 tensors; name, step, params in
//                                        the metadata
//   lock                                 pid of the process that has the store open
//   *.tmp                                temp files of writes in progress (deleted on open)
//
// Version 0 is the initial model; round n's record says which version it
// trained from (`fromVersion`) and which it produced (`modelVersion`: +1 when
// committed, unchanged when abandoned or budget-exhausted), so the versions on
// disk are exactly 0..current.
//
// Commit protocol (commitRound): for a committed round, the checkpoint and the
// optimizer file are each written to a temp file in models/, fsynced and
// renamed into place, then models/ is fsynced; THEN the record line is
// appended to rounds.jsonl in one write and fsynced. That fsync is the commit
// point: a round is committed iff its line, newline included, is in the log.
// Abandoned and budget-exhausted rounds only append their line. Writes are
// sequential (a promise chain): a commit in flight blocks the next.
//
// Recovery (open): a last line of rounds.jsonl that lacks its newline or is not
// JSON is a torn write and is cut away; the last record's modelVersion is the
// current version; model/optimizer files of newer versions (written before a
// crash, never committed) and temp files are deleted. A committed version whose
// files are missing, or a latest version whose files do not decode, is a hard
// error: the disk lost a write it had acknowledged. So nothing committed is
// lost, nothing half-written is read, and a restart gives byte-identical
// weights and optimizer state.
import { mkdir, readdir, readFile, stat } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import type { ModelSpec } from '../../recommender/index.ts';
import type { RoundRecord, StrategyState } from '../types.ts';
import {
  checkSpecSummary,
  checkStrategyState,
  compareSpecSummaries,
  copyStrategyState,
  decodeModelFile,
  decodeOptimizerFile,
  encodeModelFile,
  encodeOptimizerFile,
  specFromSummary,
  summarizeSpec,
  type SpecSummary,
} from './codec.ts';
import { StoreError } from './errors.ts';
import {
  TEMP_SUFFIX,
  appendDurably,
  fsyncDir,
  lockDir,
  removeIfExists,
  truncateDurably,
  writeFileAtomic,
  type DirLock,
} from './files.ts';
import { KEY_FILE, readOrCreateKey, type CoordinatorKey } from './key.ts';
import { EMPTY_POSITION, advance, deepFreeze, parseRoundsLog, sequenceProblem, type LogPosition, type TornTail } from './log.ts';

export const STORE_FORMAT = 'fedrec-store-1';
export const STORE_FILE = 'store.json';
export const ROUNDS_FILE = 'rounds.jsonl';
export const MODELS_DIR = 'models';

const VERSION_FILE = /^v(\d{6,})\.(optimizer\.)?safetensors$/;

export function modelFileName(version: number): string {
  return `v${String(version).padStart(6, '0')}.safetensors`;
}

export function optimizerFileName(version: number): string {
  return `v${String(version).padStart(6, '0')}.optimizer.safetensors`;
}

/** What creating a store needs (ignored, but checked for a match, when the store exists). */
export interface StoreInit {
  /** Names this run of training; a changed model or catalog needs a new one (and a new directory). */
  lineage: string;
  spec: ModelSpec;
  /** The catalog's item ids in index order (the checkpoints carry them). */
  itemIds: readonly string[];
  /** Model version 0. */
  initialWeights: Float32Array;
  /** The strategy's state before any round. */
  strategyState: StrategyState;
}

export interface StoreOpenOptions {
  /** Creates the store when DIR has none; when it has one, must match its lineage and spec. */
  init?: StoreInit;
}

interface StoreMeta {
  format: string;
  lineage: string;
  createdAt: string;
  spec: SpecSummary;
}

/** What open found and repaired. */
export interface RecoveryReport {
  /** The store was created by this open. */
  created: boolean;
  /** A torn last line of rounds.jsonl that was cut away. */
  tornTail: TornTail | null;
  /** Model/optimizer files of never-committed versions that were deleted (paths relative to DIR). */
  deletedOrphans: string[];
  /** Temp files of interrupted writes that were deleted (paths relative to DIR). */
  deletedTemps: string[];
  /** Pid of a dead process whose lock was taken over, if any. */
  staleLockFrom: number | null;
  /** Records in the log and the current model version after recovery. */
  rounds: number;
  modelVersion: number;
}

export interface LatestState {
  modelVersion: number;
  /** Last round in the log (0 before any). */
  round: number;
  /** A copy: the caller may modify it. */
  weights: Float32Array;
  /** A copy: the caller may modify it. */
  strategyState: StrategyState;
  itemIds: readonly string[];
}

interface Current {
  modelVersion: number;
  weights: Float32Array;
  strategyState: StrategyState;
  /** The model file's bytes, served as is. */
  bytes: Uint8Array;
}

interface PendingFiles {
  model: Uint8Array;
  optimizer: Uint8Array;
  weights: Float32Array;
  strategyState: StrategyState;
}

export class Store {
  readonly dir: string;
  readonly lineage: string;
  readonly createdAt: string;
  readonly specSummary: SpecSummary;
  readonly spec: ModelSpec;
  readonly itemIds: readonly string[];
  readonly recovery: RecoveryReport;
  /** The coordinator's signing key (coordinator-key.json in the directory). */
  key!: CoordinatorKey;

  private readonly lock: DirLock;
  private log: RoundRecord[];
  private position: LogPosition;
  private logSize: number;
  private current: Current;
  private chain: Promise<unknown> = Promise.resolve();
  private failure: StoreError | null = null;
  private closing = false;

  private constructor(a: {
    dir: string;
    meta: StoreMeta;
    itemIds: readonly string[];
    lock: DirLock;
    log: RoundRecord[];
    logSize: number;
    current: Current;
    recovery: RecoveryReport;
  }) {
    this.dir = a.dir;
    this.lineage = a.meta.lineage;
    this.createdAt = a.meta.createdAt;
    this.specSummary = a.meta.spec;
    this.spec = specFromSummary(a.meta.spec);
    this.itemIds = Object.freeze([...a.itemIds]);
    this.lock = a.lock;
    this.log = a.log;
    this.position = a.log.length > 0 ? advance(EMPTY_POSITION, a.log[a.log.length - 1]) : EMPTY_POSITION;
    this.logSize = a.logSize;
    this.current = a.current;
    this.recovery = a.recovery;
  }

  /**
   * Opens the store in `dir`, recovering from a crash, or creates it from
   * `init`. Throws a StoreError when the directory is not a store, belongs to
   * another lineage or spec, is in use, or has lost committed data.
   */
  static async open(dir: string, opts: StoreOpenOptions = {}): Promise<Store> {
    const { init } = opts;
    if (init) checkInit(init);
    try {
      const st = await stat(dir);
      if (!st.isDirectory()) throw new StoreError('not-a-store', `${dir} is not a directory`);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
      if (!init) throw noStore(dir);
      await mkdir(dir, { recursive: true });
      await fsyncDir(dirname(resolve(dir)));
    }
    const lock = await lockDir(dir);
    try {
      const meta = await readMeta(dir);
      let store: Store;
      if (!meta) {
        if (!init) throw noStore(dir);
        store = await Store.create(dir, init, lock);
      } else {
        if (init) checkMatches(dir, meta, init);
        store = await Store.recover(dir, meta, lock);
      }
      store.key = await readOrCreateKey(dir);
      return store;
    } catch (e) {
      await lock.release().catch(() => {});
      throw e;
    }
  }

  private static async create(dir: string, init: StoreInit, lock: DirLock): Promise<Store> {
    const deletedTemps = await checkFreshDir(dir);
    const models = join(dir, MODELS_DIR);
    await mkdir(models, { recursive: true });
    const meta: StoreMeta = {
      format: STORE_FORMAT,
      lineage: init.lineage,
      createdAt: new Date().toISOString(),
      spec: summarizeSpec(init.spec, init.itemIds),
    };
    const tags = { modelVersion: 0, round: 0, lineage: init.lineage };
    const model = encodeModelFile(init.spec, init.initialWeights, init.itemIds, tags);
    const optimizer = encodeOptimizerFile(init.strategyState, tags);
    await writeFileAtomic(join(models, modelFileName(0)), model);
    await writeFileAtomic(join(models, optimizerFileName(0)), optimizer);
    await fsyncDir(models);
    await writeFileAtomic(join(dir, ROUNDS_FILE), new Uint8Array(0));
    await fsyncDir(dir); // models/ and rounds.jsonl are durable before store.json can be
    // store.json last: until it is in place, the directory is not a store and init starts over.
    await writeFileAtomic(join(dir, STORE_FILE), new TextEncoder().encode(`${JSON.stringify(meta, null, 2)}\n`));
    await fsyncDir(dir);
    return new Store({
      dir,
      meta,
      itemIds: init.itemIds,
      lock,
      log: [],
      logSize: 0,
      current: {
        modelVersion: 0,
        weights: init.initialWeights.slice(),
        strategyState: copyStrategyState(init.strategyState),
        bytes: model,
      },
      recovery: {
        created: true,
        tornTail: null,
        deletedOrphans: [],
        deletedTemps,
        staleLockFrom: lock.staleFrom,
        rounds: 0,
        modelVersion: 0,
      },
    });
  }

  private static async recover(dir: string, meta: StoreMeta, lock: DirLock): Promise<Store> {
    const roundsPath = join(dir, ROUNDS_FILE);
    let logBytes: Uint8Array;
    try {
      logBytes = await readBytes(roundsPath);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
      throw new StoreError('corrupt-log', `${roundsPath} is missing although ${STORE_FILE} exists: the data directory is damaged; restore it from a backup`);
    }
    const parsed = parseRoundsLog(logBytes, meta.lineage, roundsPath);
    const version = parsed.position.modelVersion;

    // Check before repairing anything: every committed version's files are there.
    const models = join(dir, MODELS_DIR);
    const names = await listDir(models);
    const present = new Set(names);
    const committedBy = new Map<number, number>([[0, 0]]);
    for (const r of parsed.records) if (r.outcome === 'committed') committedBy.set(r.modelVersion, r.round);
    for (const [v, round] of committedBy) {
      for (const name of [modelFileName(v), optimizerFileName(v)]) {
        if (!present.has(name)) throw lostFile(join(models, name), v, round);
      }
    }
    const spec = specFromSummary(meta.spec);
    const expect = { lineage: meta.lineage, modelVersion: version, itemIdsSha256: meta.spec.itemIdsSha256 };
    const latestRound = committedBy.get(version) ?? 0;
    const modelPath = join(models, modelFileName(version));
    const optimizerPath = join(models, optimizerFileName(version));
    const bytes = await readBytes(modelPath);
    let model: { weights: Float32Array; itemIds: string[] };
    let strategyState: StrategyState;
    try {
      model = decodeModelFile(bytes, spec, expect);
    } catch (e) {
      throw unreadable(modelPath, version, latestRound, e);
    }
    try {
      strategyState = decodeOptimizerFile(await readBytes(optimizerPath), expect);
    } catch (e) {
      throw unreadable(optimizerPath, version, latestRound, e);
    }

    // Repair: cut the torn tail, delete never-committed versions and temp files.
    if (parsed.torn) await truncateDurably(roundsPath, parsed.validBytes);
    const deletedOrphans: string[] = [];
    const deletedTemps: string[] = [];
    for (const name of names) {
      const m = VERSION_FILE.exec(name);
      if (name.endsWith(TEMP_SUFFIX)) {
        if (await removeIfExists(join(models, name))) deletedTemps.push(`${MODELS_DIR}/${name}`);
      } else if (m && Number(m[1]) > version) {
        if (await removeIfExists(join(models, name))) deletedOrphans.push(`${MODELS_DIR}/${name}`);
      }
    }
    if (deletedOrphans.length + deletedTemps.length > 0) await fsyncDir(models);
    const topTemps: string[] = [];
    for (const name of await listDir(dir)) {
      if (name.endsWith(TEMP_SUFFIX) && (await removeIfExists(join(dir, name)))) topTemps.push(name);
    }
    if (topTemps.length > 0) await fsyncDir(dir);
    deletedTemps.push(...topTemps);

    return new Store({
      dir,
      meta,
      itemIds: model.itemIds,
      lock,
      log: parsed.records.map(deepFreeze),
      logSize: parsed.validBytes,
      current: { modelVersion: version, weights: model.weights, strategyState, bytes },
      recovery: {
        created: false,
        tornTail: parsed.torn,
        deletedOrphans,
        deletedTemps,
        staleLockFrom: lock.staleFrom,
        rounds: parsed.records.length,
        modelVersion: version,
      },
    });
  }

  // ---------------------------------------------------------------- writing

  /**
   * Appends a round's record; for a committed round, first writes the model
   * version it produced (`next`). Resolves once the record is durable (the
   * commit point) with the stored, frozen copy of the record. Commits run one
   * at a time in call order. `record` and `next` are copied when called.
   *
   * Rejects with StoreError 'invalid-commit' (nothing written) when the record
   * does not follow the log (rounds contiguous from 1, `fromVersion` = the
   * current version, `modelVersion` = current + 1 iff committed, the store's
   * lineage) or `next` is missing / superfluous / mis-sized. A failed write of
   * the model files leaves the store as it was; a failed write of the log makes
   * the store refuse further writes ('broken') until reopened.
   */
  async commitRound(record: RoundRecord, next?: { weights: Float32Array; strategyState: StrategyState }): Promise<RoundRecord> {
    this.assertWritable();
    const committed = record?.outcome === 'committed';
    if (committed && !next) throw invalid(record, 'is committed but no next weights and strategy state were given');
    if (!committed && next) throw invalid(record, `is ${record?.outcome}: it produces no model, so it takes no next weights`);
    let files: PendingFiles | null = null;
    if (next) {
      if (!(next.weights instanceof Float32Array) || next.weights.length !== this.spec.size) {
        throw invalid(record, `comes with ${next.weights?.length} weights, the model has ${this.spec.size}`);
      }
      try {
        checkStrategyState(next.strategyState);
      } catch (e) {
        throw invalid(record, `comes with a strategy state that cannot be stored: ${(e as Error).message}`);
      }
      const tags = { modelVersion: record.modelVersion, round: record.round, lineage: this.lineage };
      files = {
        model: encodeModelFile(this.spec, next.weights, this.itemIds, tags),
        optimizer: encodeOptimizerFile(next.strategyState, tags),
        weights: next.weights.slice(),
        strategyState: copyStrategyState(next.strategyState),
      };
    }
    // What is stored is what a restart reads back: the parsed line.
    const line = `${JSON.stringify(record)}\n`;
    const stored = deepFreeze(JSON.parse(line) as RoundRecord);
    const run = this.chain.then(() => this.write(stored, new TextEncoder().encode(line), files));
    this.chain = run.catch(() => {});
    return run;
  }

  private async write(record: RoundRecord, line: Uint8Array, files: PendingFiles | null): Promise<RoundRecord> {
    if (this.failure) throw this.failure;
    const problem = sequenceProblem(record, this.position, this.lineage);
    if (problem) throw invalid(record, problem);
    const v = record.modelVersion;
    if (files) {
      // Not yet referenced by the log: a failure here leaves orphans that the
      // next attempt overwrites or the next open deletes.
      const models = join(this.dir, MODELS_DIR);
      await writeFileAtomic(join(models, modelFileName(v)), files.model);
      await writeFileAtomic(join(models, optimizerFileName(v)), files.optimizer);
      await fsyncDir(models);
    }
    try {
      this.logSize = await appendDurably(join(this.dir, ROUNDS_FILE), this.logSize, line);
    } catch (e) {
      this.failure = new StoreError(
        'broken',
        `writing round ${record.round} to ${ROUNDS_FILE} failed (${(e as Error).message}); the store takes no more writes: ` +
          'restart the coordinator, and recovery will read what reached the disk',
        { cause: e },
      );
      throw this.failure;
    }
    this.log.push(record);
    this.position = advance(this.position, record);
    if (files) this.current = { modelVersion: v, weights: files.weights, strategyState: files.strategyState, bytes: files.model };
    return record;
  }

  private assertWritable(): void {
    if (this.closing) throw new StoreError('closed', `the store in ${this.dir} is closed`);
    if (this.failure) throw this.failure;
  }

  /** Refuses new commits, waits for those already called, then releases the directory. */
  async close(): Promise<void> {
    if (this.closing) return;
    this.closing = true;
    await this.chain;
    await this.lock.release();
  }

  // ---------------------------------------------------------------- reading

  /** The current model version (0 = the initial model). */
  get modelVersion(): number {
    return this.position.modelVersion;
  }

  /** The last round in the log (0 before any); the next round is this + 1. */
  get round(): number {
    return this.position.round;
  }

  /** What a restarted coordinator resumes from. Weights and state are copies. */
  latest(): LatestState {
    return {
      modelVersion: this.current.modelVersion,
      round: this.position.round,
      weights: this.current.weights.slice(),
      strategyState: copyStrategyState(this.current.strategyState),
      itemIds: this.itemIds,
    };
  }

  /** The current model file's bytes (cached; do not modify them). */
  latestModelBytes(): { modelVersion: number; bytes: Uint8Array } {
    return { modelVersion: this.current.modelVersion, bytes: this.current.bytes };
  }

  /**
   * A model version's checkpoint file, as stored (for HTTP serving); null for
   * a version that does not exist. The latest comes from memory (do not
   * modify it), older ones from disk.
   */
  async modelBytes(version: number): Promise<Uint8Array | null> {
    if (!Number.isSafeInteger(version) || version < 0 || version > this.current.modelVersion) return null;
    if (version === this.current.modelVersion) return this.current.bytes;
    try {
      return await readBytes(join(this.dir, MODELS_DIR, modelFileName(version)));
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return null;
      throw e;
    }
  }

  /** Round records in order (frozen); `from` is a round number (default 1), `limit` a count. */
  records(opts: { from?: number; limit?: number } = {}): RoundRecord[] {
    const from = Math.max(1, Math.floor(opts.from ?? 1));
    const end = opts.limit === undefined ? undefined : from - 1 + Math.max(0, Math.floor(opts.limit));
    return this.log.slice(from - 1, end);
  }

  /** Round `n`'s record (frozen), or undefined. */
  record(n: number): RoundRecord | undefined {
    return Number.isSafeInteger(n) && n >= 1 ? this.log[n - 1] : undefined;
  }

  get recordCount(): number {
    return this.log.length;
  }

  /** Differences between this store's model/catalog and `spec` + `itemIds` (empty: they match). */
  specDifferences(spec: ModelSpec, itemIds: readonly string[]): string[] {
    return compareSpecSummaries(this.specSummary, summarizeSpec(spec, itemIds));
  }
}

// ---------------------------------------------------------------- helpers

function noStore(dir: string): StoreError {
  return new StoreError('no-store', `no fedrec store in ${dir}: start the coordinator with a model and catalog to create one`);
}

function invalid(record: RoundRecord, problem: string): StoreError {
  return new StoreError('invalid-commit', `cannot commit round ${record?.round}: the record ${problem}`);
}

function lostFile(path: string, version: number, round: number): StoreError {
  const by = version === 0 ? 'the initial model (version 0)' : `model version ${version}, committed by round ${round},`;
  return new StoreError(
    'missing-checkpoint',
    `${path} is missing, but ${by} is in the store: the disk lost a write it had acknowledged. ` +
      'Restore the data directory from a backup, or move it aside and start a new lineage.',
  );
}

function unreadable(path: string, version: number, round: number, e: unknown): StoreError {
  const by = version === 0 ? 'the initial model (version 0)' : `model version ${version} (committed by round ${round})`;
  return new StoreError(
    'missing-checkpoint',
    `${path}, the file of ${by}, is unreadable: ${(e as Error).message}. The disk damaged a committed write; ` +
      'restore the data directory from a backup, or move it aside and start a new lineage.',
    { cause: e },
  );
}

/** A file's bytes as a plain Uint8Array (not a Buffer), so memory and disk copies compare equal. */
async function readBytes(path: string): Promise<Uint8Array> {
  const b = await readFile(path);
  return new Uint8Array(b.buffer, b.byteOffset, b.byteLength);
}

async function listDir(dir: string): Promise<string[]> {
  try {
    return await readdir(dir);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw e;
  }
}

async function readMeta(dir: string): Promise<StoreMeta | null> {
  const path = join(dir, STORE_FILE);
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw e;
  }
  let meta: StoreMeta;
  try {
    meta = JSON.parse(text) as StoreMeta;
    if (typeof meta !== 'object' || meta === null) throw new Error('not an object');
  } catch (e) {
    throw new StoreError('not-a-store', `${path} is not valid JSON (${(e as Error).message}): the data directory is damaged`);
  }
  if (meta.format !== STORE_FORMAT) {
    throw new StoreError('not-a-store', `${path} has format ${JSON.stringify(meta.format)}; this fedrec reads ${STORE_FORMAT}`);
  }
  if (typeof meta.lineage !== 'string' || meta.lineage === '') throw new StoreError('not-a-store', `${path} names no lineage`);
  try {
    checkSpecSummary(meta.spec);
  } catch (e) {
    throw new StoreError('not-a-store', `${path}: ${(e as Error).message}`);
  }
  return meta;
}

/**
 * Without store.json, DIR may only hold the leftovers of an interrupted init
 * (which then starts over); anything else means it is not ours to write in.
 * Returns the temp files it deleted.
 */
async function checkFreshDir(dir: string): Promise<string[]> {
  const foreign: string[] = [];
  for (const name of await listDir(dir)) {
    if (name === 'lock' || name === MODELS_DIR || name === KEY_FILE || name.endsWith(TEMP_SUFFIX)) continue;
    if (name === ROUNDS_FILE && (await stat(join(dir, name))).size === 0) continue;
    foreign.push(name);
  }
  const models = join(dir, MODELS_DIR);
  for (const name of await listDir(models)) {
    if (!VERSION_FILE.test(name) && !name.endsWith(TEMP_SUFFIX)) foreign.push(`${MODELS_DIR}/${name}`);
  }
  if (foreign.length > 0) {
    throw new StoreError(
      'not-a-store',
      `${dir} has no ${STORE_FILE} but is not empty (${foreign.slice(0, 5).join(', ')}${foreign.length > 5 ? ', ...' : ''}): ` +
        'use an empty or new data directory for a new store',
    );
  }
  const deleted: string[] = [];
  // Everything left in models/ is from the interrupted init: start over.
  for (const name of await listDir(models)) {
    if ((await removeIfExists(join(models, name))) && name.endsWith(TEMP_SUFFIX)) deleted.push(`${MODELS_DIR}/${name}`);
  }
  for (const name of await listDir(dir)) {
    if (name.endsWith(TEMP_SUFFIX) && (await removeIfExists(join(dir, name)))) deleted.push(name);
  }
  return deleted;
}

function checkInit(init: StoreInit): void {
  const bad = (msg: string) => new StoreError('invalid-init', `cannot create a store: ${msg}`);
  if (typeof init.lineage !== 'string' || init.lineage === '') throw bad('lineage must be a non-empty string');
  const total = init.spec.weights.reduce((n, w) => n + w.shape.reduce((a, b) => a * b, 1), 0);
  if (total !== init.spec.size) throw bad(`spec lists ${total} weight values but size ${init.spec.size}`);
  if (!(init.initialWeights instanceof Float32Array) || init.initialWeights.length !== init.spec.size) {
    throw bad(`initial weights have ${init.initialWeights?.length} values, the spec needs ${init.spec.size}`);
  }
  if (!init.itemIds.every((id) => typeof id === 'string')) throw bad('item ids must be strings');
  if (new Set(init.itemIds).size !== init.itemIds.length) throw bad('item ids have duplicates');
  const numItems = init.spec.config.numItems;
  if (numItems !== undefined && numItems !== init.itemIds.length) {
    throw bad(`the catalog has ${init.itemIds.length} item ids, the model ${numItems} items`);
  }
  try {
    checkStrategyState(init.strategyState);
  } catch (e) {
    throw bad((e as Error).message);
  }
}

function checkMatches(dir: string, meta: StoreMeta, init: StoreInit): void {
  const diffs = compareSpecSummaries(meta.spec, summarizeSpec(init.spec, init.itemIds));
  if (meta.lineage !== init.lineage) {
    throw new StoreError(
      'lineage-mismatch',
      `data directory ${dir} holds lineage ${JSON.stringify(meta.lineage)}, but the configuration is for lineage ` +
        `${JSON.stringify(init.lineage)}${diffs.length ? ` (${diffs.join('; ')})` : ''}. ` +
        'A changed model or catalog starts a new lineage: use a new data directory, or pass the configuration that matches this one.',
    );
  }
  if (diffs.length > 0) {
    throw new StoreError(
      'spec-mismatch',
      `data directory ${dir} (lineage ${JSON.stringify(meta.lineage)}) was made for another model or catalog: ${diffs.join('; ')} ` +
        '(stored vs configured). A changed model or catalog starts a new lineage: use a new data directory, or pass the configuration that matches this one.',
    );
  }
}
