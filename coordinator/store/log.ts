// rounds.jsonl: one RoundRecord JSON per line, in round order. A line counts
// only when it ends with '\n' (the store writes line and newline in one write
// and fsyncs; the fsync is the commit point). Parsing finds the torn tail a
// crash can leave; the sequence rules are shared by recovery and commitRound.
import type { RoundOutcome, RoundRecord } from '../types.ts';
import { StoreError } from './errors.ts';

const OUTCOMES: readonly RoundOutcome[] = ['committed', 'abandoned', 'budget-exhausted'];

/** Where the log stands: the last round and model version it commits to. */
export interface LogPosition {
  round: number;
  modelVersion: number;
}

export const EMPTY_POSITION: LogPosition = { round: 0, modelVersion: 0 };

/**
 * Why `record` cannot follow `pos` in a log of `lineage` (null when it can):
 * rounds are contiguous from 1, each starts from the current version, a
 * committed round makes the next version, other outcomes keep it.
 */
export function sequenceProblem(record: unknown, pos: LogPosition, lineage: string): string | null {
  const r = record as Partial<RoundRecord> | null;
  if (typeof r !== 'object' || r === null || Array.isArray(r)) return 'is not a JSON object';
  if (!Number.isSafeInteger(r.round)) return `has no integer round (${JSON.stringify(r.round)})`;
  if (!OUTCOMES.includes(r.outcome as RoundOutcome)) return `has unknown outcome ${JSON.stringify(r.outcome)}`;
  if (!Number.isSafeInteger(r.fromVersion) || !Number.isSafeInteger(r.modelVersion)) return 'lacks integer fromVersion/modelVersion';
  if (r.lineage !== lineage) return `belongs to lineage ${JSON.stringify(r.lineage)}, the store is ${JSON.stringify(lineage)}`;
  if (r.round !== pos.round + 1) return `is round ${r.round}, expected round ${pos.round + 1}`;
  if (r.fromVersion !== pos.modelVersion) return `starts from model version ${r.fromVersion}, the current version is ${pos.modelVersion}`;
  const want = r.outcome === 'committed' ? pos.modelVersion + 1 : pos.modelVersion;
  if (r.modelVersion !== want) return `is ${r.outcome} with modelVersion ${r.modelVersion}, expected ${want}`;
  return null;
}

export function advance(pos: LogPosition, record: RoundRecord): LogPosition {
  return { round: record.round, modelVersion: record.modelVersion };
}

export interface TornTail {
  /** Byte offset the log is cut back to. */
  offset: number;
  /** Bytes cut away. */
  bytes: number;
  reason: 'incomplete line' | 'unparseable line';
  /** The start of what was cut, for the log. */
  preview: string;
}

export interface ParsedLog {
  records: RoundRecord[];
  position: LogPosition;
  /** Bytes of whole, valid lines. */
  validBytes: number;
  torn: TornTail | null;
}

const decoder = new TextDecoder('utf-8', { fatal: true });

function preview(bytes: Uint8Array): string {
  return new TextDecoder('utf-8').decode(bytes.subarray(0, 80)).replace(/[^\x20-\x7e]/g, '?');
}

/**
 * Parses the round log. A last line without its newline, or a last line that
 * is not JSON, is a torn write: reported in `torn`, not an error. Anything
 * else wrong is a StoreError ('corrupt-log') naming the line.
 */
export function parseRoundsLog(bytes: Uint8Array, lineage: string, file = 'rounds.jsonl'): ParsedLog {
  const records: RoundRecord[] = [];
  let pos = EMPTY_POSITION;
  let start = 0;
  let line = 0;
  while (start < bytes.length) {
    line++;
    const nl = bytes.indexOf(0x0a, start);
    const tornHere = (reason: TornTail['reason']): ParsedLog => ({
      records,
      position: pos,
      validBytes: start,
      torn: { offset: start, bytes: bytes.length - start, reason, preview: preview(bytes.subarray(start)) },
    });
    if (nl < 0) return tornHere('incomplete line');
    const isLast = nl === bytes.length - 1;
    let value: unknown;
    try {
      value = JSON.parse(decoder.decode(bytes.subarray(start, nl)));
    } catch {
      if (isLast) return tornHere('unparseable line');
      throw new StoreError(
        'corrupt-log',
        `${file} line ${line} (byte ${start}) is not valid JSON and is not the last line, so it is not a torn write: ` +
          'the log is damaged; restore the data directory from a backup',
      );
    }
    const problem = sequenceProblem(value, pos, lineage);
    if (problem) {
      throw new StoreError('corrupt-log', `${file} line ${line}: the record ${problem}; the log is damaged or was edited by hand`);
    }
    records.push(value as RoundRecord);
    pos = advance(pos, value as RoundRecord);
    start = nl + 1;
  }
  return { records, position: pos, validBytes: start, torn: null };
}

/** Freezes a parsed record (and everything in it) so readers cannot change the store's copy. */
export function deepFreeze<T>(x: T): T {
  if (typeof x === 'object' && x !== null && !Object.isFrozen(x)) {
    Object.freeze(x);
    for (const v of Object.values(x)) deepFreeze(v);
  }
  return x;
}
