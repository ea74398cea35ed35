// Field parsers shared by the loaders. Each returns a value or an error reason string.
import { isEventType } from '../types.ts';
import type { EventType } from '../types.ts';

export type Parsed<T> = { ok: true; value: T } | { ok: false; reason: string };

const TYPE_ALIASES: Record<string, EventType> = {
  pv: 'view',
  buy: 'purchase',
  addtocart: 'cart',
  add_to_cart: 'cart',
};

/** EVENT_TYPES names (case-insensitive) plus aliases pv, buy, addtocart, add_to_cart. */
export function parseEventType(raw: string): Parsed<EventType> {
  const s = raw.trim().toLowerCase();
  if (isEventType(s)) return { ok: true, value: s };
  const alias = TYPE_ALIASES[s];
  if (alias) return { ok: true, value: alias };
  return { ok: false, reason: `unknown type "${raw}"` };
}

const NUMERIC = /^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/;
const ISO_DATE = /^\d{4}-\d{2}-\d{2}([T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?)?(Z|[+-]\d{2}:?\d{2})?$/;

/**
 * Unix seconds: a number, or an ISO-8601 date string (converted to seconds;
 * a date-time without zone is read as UTC so results do not depend on the machine).
 */
export function parseTimestamp(raw: string | number): Parsed<number> {
  if (typeof raw === 'number') {
    return Number.isFinite(raw) ? { ok: true, value: raw } : { ok: false, reason: `non-numeric time "${raw}"` };
  }
  const s = raw.trim();
  if (NUMERIC.test(s)) return { ok: true, value: Number(s) };
  if (ISO_DATE.test(s)) {
    const iso = s.replace(' ', 'T');
    const withZone = /T/.test(iso) && !/(Z|[+-]\d{2}:?\d{2})$/.test(iso) ? `${iso}Z` : iso;
    const ms = Date.parse(withZone);
    if (Number.isFinite(ms)) return { ok: true, value: ms / 1000 };
  }
  return { ok: false, reason: `non-numeric time "${raw}"` };
}

/** Non-empty trimmed id (numbers are accepted and stringified, as JSON ids often are). */
export function parseId(raw: unknown, what: string): Parsed<string> {
  if (typeof raw === 'number' && Number.isFinite(raw)) return { ok: true, value: String(raw) };
  if (typeof raw !== 'string') return { ok: false, reason: raw === undefined ? `missing ${what}` : `${what} is not a string` };
  const s = raw.trim();
  return s ? { ok: true, value: s } : { ok: false, reason: `empty ${what}` };
}

/** Splits one CSV line; handles "quoted, fields" and "" escapes. Null when a quote is unterminated. */
export function splitCsvLine(line: string, sep = ','): string[] | null {
  if (!line.includes('"')) return line.split(sep);
  const out: string[] = [];
  let i = 0;
  for (;;) {
    let field = '';
    if (line[i] === '"') {
      const end = readQuoted(line, i + 1);
      if (end === null) return null;
      field = end.value;
      i = end.next;
      const nextSep = line.indexOf(sep, i);
      field += line.slice(i, nextSep < 0 ? line.length : nextSep);
      i = nextSep < 0 ? line.length : nextSep;
    } else {
      const nextSep = line.indexOf(sep, i);
      field = line.slice(i, nextSep < 0 ? line.length : nextSep);
      i = nextSep < 0 ? line.length : nextSep;
    }
    out.push(field);
    if (i >= line.length) return out;
    i += sep.length;
  }
}

function readQuoted(line: string, from: number): { value: string; next: number } | null {
  let value = '';
  let i = from;
  for (;;) {
    const q = line.indexOf('"', i);
    if (q < 0) return null;
    value += line.slice(i, q);
    if (line[q + 1] === '"') {
      value += '"';
      i = q + 2;
    } else {
      return { value, next: q + 1 };
    }
  }
}
