// `events:FILE` — generic behaviour-event files: CSV with a header, or JSONL.
import type { BehaviorEvent } from '../types.ts';
import { BadRowLog } from './badRows.ts';
import { parseEventType, parseId, parseTimestamp, splitCsvLine } from './fields.ts';
import type { Parsed } from './fields.ts';
import { assertFile, readLines } from './lines.ts';
import type { OpenedData } from './openedData.ts';
import { DataError } from '../errors.ts';

const REQUIRED = ['user', 'item', 'type', 'ts'] as const;
const COLUMNS = [...REQUIRED, 'merchant'] as const;
type Column = (typeof COLUMNS)[number];

/** A row's raw fields before validation. */
type RawEvent = Partial<Record<Column, unknown>>;

/** `.jsonl` / `.ndjson` -> JSONL, anything else -> CSV with a header row. */
export function isJsonlPath(path: string): boolean {
  return /\.(jsonl|ndjson)$/i.test(path);
}

export function openEventsFile(path: string): OpenedData {
  assertFile(path, 'events file');
  const bad = new BadRowLog();
  const jsonl = isJsonlPath(path);
  return {
    events: jsonl ? readJsonlEvents(path, bad) : readCsvEvents(path, bad),
    items: new Map(),
    bad,
    describe: `events file ${path} (${jsonl ? 'JSONL' : 'CSV'})`,
  };
}

/** Validates one row's fields into an event. */
export function toEvent(raw: RawEvent): Parsed<BehaviorEvent> {
  const user = parseId(raw.user, 'user');
  if (!user.ok) return user;
  const item = parseId(raw.item, 'item');
  if (!item.ok) return item;
  if (typeof raw.type !== 'string') return { ok: false, reason: raw.type === undefined ? 'missing type' : 'type is not a string' };
  const type = parseEventType(raw.type);
  if (!type.ok) return type;
  if (typeof raw.ts !== 'string' && typeof raw.ts !== 'number') return { ok: false, reason: raw.ts === undefined ? 'missing ts' : 'non-numeric time' };
  const ts = parseTimestamp(raw.ts);
  if (!ts.ok) return ts;
  const event: BehaviorEvent = { user: user.value, item: item.value, type: type.value, ts: ts.value };
  const merchant = parseId(raw.merchant, 'merchant');
  if (merchant.ok) event.merchant = merchant.value;
  return { ok: true, value: event };
}

/** Column positions from the header row; throws naming the missing columns. */
function headerColumns(header: string[], path: string): Map<Column, number> {
  const names = header.map((h) => h.trim().toLowerCase());
  const cols = new Map<Column, number>();
  for (const c of COLUMNS) {
    const at = names.indexOf(c);
    if (at >= 0) cols.set(c, at);
  }
  const missing = REQUIRED.filter((c) => !cols.has(c));
  if (missing.length > 0) {
    throw new DataError(
      `events file ${path}: the header row must name the columns user,item,type,ts (merchant optional, any order); ` +
        `missing ${missing.join(',')} in header "${header.join(',')}"`,
    );
  }
  return cols;
}

async function* readCsvEvents(path: string, bad: BadRowLog): AsyncGenerator<BehaviorEvent> {
  let cols: Map<Column, number> | undefined;
  let width = 0;
  for await (const { no, text } of readLines(path)) {
    if (text.trim() === '') continue;
    const fields = splitCsvLine(text);
    if (!cols) {
      if (!fields) throw new DataError(`events file ${path}: unterminated quote in the header row`);
      cols = headerColumns(fields, path);
      width = fields.length;
      continue;
    }
    if (!fields) {
      bad.add(no, 'unterminated quote');
      continue;
    }
    if (fields.length !== width) {
      bad.add(no, `expected ${width} fields, got ${fields.length}`);
      continue;
    }
    const raw: RawEvent = {};
    for (const [c, at] of cols) raw[c] = fields[at];
    const event = toEvent(raw);
    if (event.ok) yield event.value;
    else bad.add(no, event.reason);
  }
}

async function* readJsonlEvents(path: string, bad: BadRowLog): AsyncGenerator<BehaviorEvent> {
  for await (const { no, text } of readLines(path)) {
    if (text.trim() === '') continue;
    let obj: unknown;
    try {
      obj = JSON.parse(text);
    } catch {
      bad.add(no, 'invalid JSON');
      continue;
    }
    if (typeof obj !== 'object' || obj === null || Array.isArray(obj)) {
      bad.add(no, 'expected a JSON object');
      continue;
    }
    const event = toEvent(obj as RawEvent);
    if (event.ok) yield event.value;
    else bad.add(no, event.reason);
  }
}
