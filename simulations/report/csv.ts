// Tables for `fedrec simulate` / `fedrec sweep`: RFC 4180 CSV (write and
// read) and GitHub-flavoured Markdown. Browser-safe: no Node imports; the
// caller writes the returned strings wherever it likes.

/**
 * The number format shared by CSV, Markdown and chart tick labels.
 *
 * - Integers (any finite `n` with `Number.isInteger(n)`) are printed exactly
 *   with `Number.prototype.toString` (`-0` prints as `0`; integers of 1e21
 *   and above use JS exponent form, e.g. `1e+21`).
 * - Other finite numbers: `toPrecision(6)` with trailing zeros of the
 *   mantissa (and a dangling `.`) removed, so at most 6 significant digits:
 *   `1/3` → `0.333333`, `0.1` → `0.1`, `1e-7` → `1e-7`,
 *   `1.23456789e-7` → `1.23457e-7`, `1234567.8` → `1.23457e+6`.
 *   Every output is accepted by `Number()` and parses back to the value
 *   rounded to 6 significant digits.
 * - `NaN` → empty string; `±Infinity` → `Infinity` / `-Infinity`.
 */
export function formatNumber(n: number): string {
  if (Number.isNaN(n)) return '';
  if (!Number.isFinite(n)) return n > 0 ? 'Infinity' : '-Infinity';
  if (Number.isInteger(n)) return String(n); // String(-0) === '0'
  const text = n.toPrecision(6);
  const e = text.indexOf('e');
  const mantissa = e < 0 ? text : text.slice(0, e);
  const exponent = e < 0 ? '' : text.slice(e);
  const trimmed = mantissa.includes('.') ? mantissa.replace(/0+$/, '').replace(/\.$/, '') : mantissa;
  return trimmed + exponent;
}

/**
 * One cell's text before any quoting/escaping: null, undefined and NaN are
 * empty; numbers use {@link formatNumber}; strings as they are; booleans and
 * bigints via `String`; valid Dates as ISO 8601 (invalid ones empty);
 * anything else as JSON (falling back to `String` when JSON has no form).
 */
function cellText(value: unknown): string {
  if (value === null || value === undefined) return '';
  if (typeof value === 'number') return formatNumber(value);
  if (typeof value === 'string') return value;
  if (typeof value === 'boolean' || typeof value === 'bigint') return String(value);
  if (value instanceof Date) return Number.isNaN(value.getTime()) ? '' : value.toISOString();
  try {
    const json = JSON.stringify(value);
    if (json !== undefined) return json;
  } catch {
    // cyclic or otherwise unserialisable: fall through
  }
  return String(value);
}

const NEEDS_QUOTES = /[",\r\n]/;

function csvField(text: string): string {
  return NEEDS_QUOTES.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
}

/**
 * RFC 4180 CSV: a header row from `columns` (in that order), then one row per
 * object, taking `row[column]` for each column (missing keys are empty).
 * Values are formatted as described at {@link formatNumber} / cellText: null,
 * undefined and NaN become empty fields. A field (header names included) is
 * wrapped in double quotes when it contains a comma, a double quote, CR or
 * LF; double quotes inside are doubled. Every line, the last included, ends
 * with `\n`.
 */
export function toCsv(rows: ReadonlyArray<Record<string, unknown>>, columns: readonly string[]): string {
  const lines: string[] = [columns.map(csvField).join(',')];
  for (const row of rows) lines.push(columns.map((c) => csvField(cellText(row[c]))).join(','));
  return lines.map((line) => line + '\n').join('');
}

/**
 * Parses RFC 4180 text (what {@link toCsv} writes and more): fields separated
 * by commas, records by LF, CRLF or a lone CR; a field that starts with `"`
 * is quoted and may hold commas, line breaks and doubled quotes. A final line
 * break does not start another record, but a blank line elsewhere is a record
 * with one empty field. A leading byte-order mark is ignored. Lenient where
 * RFC 4180 is silent: a `"` inside an unquoted field is kept as a character,
 * and characters after a closing quote are appended to the field. Rows may
 * have different lengths (they are returned as found).
 *
 * @returns the first record as `header` (empty for empty text) and the rest
 *   as `rows`, all as strings.
 * @throws Error when a quoted field is not closed before the end of the text.
 */
export function parseCsv(text: string): { header: string[]; rows: string[][] } {
  const src = text.charCodeAt(0) === 0xfeff ? text.slice(1) : text;
  const n = src.length;
  const records: string[][] = [];
  let i = 0;
  while (i < n) {
    const record: string[] = [];
    for (;;) {
      let value = '';
      if (src[i] === '"') {
        i++;
        for (;;) {
          const q = src.indexOf('"', i);
          if (q < 0) throw new Error(`parseCsv: unterminated quoted field in record ${records.length + 1}`);
          value += src.slice(i, q);
          if (src[q + 1] === '"') {
            value += '"';
            i = q + 2;
          } else {
            i = q + 1;
            break;
          }
        }
      }
      const start = i;
      while (i < n) {
        const c = src.charCodeAt(i);
        if (c === 44 /* , */ || c === 10 /* \n */ || c === 13 /* \r */) break;
        i++;
      }
      value += src.slice(start, i);
      record.push(value);
      if (i >= n) break;
      if (src[i] === ',') {
        i++;
        continue; // another field follows (possibly empty, even at end of text)
      }
      i += src[i] === '\r' && src[i + 1] === '\n' ? 2 : 1;
      break;
    }
    records.push(record);
  }
  const [header = [], ...rows] = records;
  return { header, rows };
}

function markdownCell(text: string): string {
  return text.replace(/\|/g, '\\|').replace(/\r\n|\r|\n/g, '<br>');
}

/**
 * A GitHub-flavoured Markdown table: `| a | b |`, then `| --- | --- |`, then
 * one line per row, each line ending with `\n`. Cell text follows the same
 * rules as {@link toCsv} (null/undefined/NaN empty, 6 significant digits),
 * with `|` escaped as `\|` and line breaks written as `<br>` (a table cell
 * cannot span lines). No columns → empty string.
 */
export function toMarkdownTable(rows: ReadonlyArray<Record<string, unknown>>, columns: readonly string[]): string {
  if (columns.length === 0) return '';
  const line = (cells: readonly string[]): string => `| ${cells.join(' | ')} |\n`;
  let out = line(columns.map(markdownCell));
  out += line(columns.map(() => '---'));
  for (const row of rows) out += line(columns.map((c) => markdownCell(cellText(row[c]))));
  return out;
}
