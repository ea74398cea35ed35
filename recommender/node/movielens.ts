// `movielens:DIR` — MovieLens 100K (u.data + u.item), 1M (ratings.dat + movies.dat),
// or the CSV releases (ratings.csv + movies.csv: ml-latest, ml-latest-small, 20M, 25M, 32M).
// Every rating becomes a `rating` event; the first genre is the item's category.
import { join } from 'node:path';
import type { BehaviorEvent, ItemMeta } from '../types.ts';
import { BadRowLog } from './badRows.ts';
import { parseId, parseTimestamp, splitCsvLine } from './fields.ts';
import { assertDir, fileExists, readLines } from './lines.ts';
import type { OpenedData } from './openedData.ts';
import { DataError } from '../errors.ts';

/** Genre flag order of the 100K u.item file (as listed in u.genre). */
export const ML100K_GENRES = [
  'unknown', 'Action', 'Adventure', 'Animation', "Children's", 'Comedy', 'Crime', 'Documentary', 'Drama', 'Fantasy',
  'Film-Noir', 'Horror', 'Musical', 'Mystery', 'Romance', 'Sci-Fi', 'Thriller', 'War', 'Western',
] as const;

/** How one file of a layout is split into rows of fields. */
type FileFormat = {
  file: string;
  /** Splits a line into fields; null when it cannot be split (an unterminated quote). */
  split: (line: string) => string[] | null;
} & (
  | {
      /** No header row: every row has exactly this many fields. */
      width: number;
    }
  | {
      /**
       * A header row naming these columns (any order, case-insensitive, extra
       * columns ignored); rows are handed on with these columns first, in this order.
       */
      columns: readonly string[];
    }
);

interface Layout {
  name: string;
  /** Text encoding of both files: the old 100K/1M files are latin-1, the CSV releases UTF-8. */
  encoding: BufferEncoding;
  /** Rows of [user, item, rating, timestamp, ...]. */
  ratings: FileFormat;
  movies: FileFormat;
  /** Parses a movies row into [id, meta], or an error reason. */
  parseMovie: (fields: string[]) => [string, ItemMeta] | string;
}

const ML100K: Layout = {
  name: 'MovieLens 100K',
  encoding: 'latin1',
  ratings: { file: 'u.data', split: (line) => line.trim().split(/\s+/), width: 4 },
  movies: { file: 'u.item', split: (line) => line.split('|'), width: 5 + ML100K_GENRES.length },
  parseMovie: parseUItem,
};

const ML1M: Layout = {
  name: 'MovieLens 1M',
  encoding: 'latin1',
  ratings: { file: 'ratings.dat', split: (line) => line.split('::'), width: 4 },
  movies: { file: 'movies.dat', split: (line) => line.split('::'), width: 3 },
  parseMovie: parseTitleGenres,
};

const ML_CSV: Layout = {
  name: 'MovieLens CSV',
  encoding: 'utf8',
  ratings: { file: 'ratings.csv', split: splitCsvLine, columns: ['userId', 'movieId', 'rating', 'timestamp'] },
  movies: { file: 'movies.csv', split: splitCsvLine, columns: ['movieId', 'title', 'genres'] },
  parseMovie: parseTitleGenres,
};

/** Detection order: the first layout whose ratings file exists. */
const LAYOUTS = [ML100K, ML1M, ML_CSV] as const;

/** u.item: `id|title|release date|video release date|url|19 genre flags`. */
function parseUItem(f: string[]): [string, ItemMeta] | string {
  const id = parseId(f[0], 'movie id');
  if (!id.ok) return id.reason;
  const meta: ItemMeta = { title: f[1] };
  const g = f.slice(5).findIndex((flag) => flag.trim() === '1');
  if (g >= 0) meta.category = ML100K_GENRES[g];
  return [id.value, meta];
}

/** movies.dat / movies.csv: `id, title, Genre|Genre|...` (`(no genres listed)` = none). */
function parseTitleGenres([rawId, title, genres]: string[]): [string, ItemMeta] | string {
  const id = parseId(rawId, 'movie id');
  if (!id.ok) return id.reason;
  const meta: ItemMeta = { title };
  const bar = genres.indexOf('|');
  const first = (bar < 0 ? genres : genres.slice(0, bar)).trim();
  if (first && first !== '(no genres listed)') meta.category = first;
  return [id.value, meta];
}

function detectLayout(dir: string): Layout {
  for (const layout of LAYOUTS) {
    if (fileExists(join(dir, layout.ratings.file))) return layout;
  }
  throw new DataError(
    `movielens directory ${dir} has neither ${ML100K.ratings.file} (MovieLens 100K) nor ${ML1M.ratings.file} (MovieLens 1M) ` +
      `nor ${ML_CSV.ratings.file} (MovieLens CSV: ml-latest, ml-latest-small, 20M, 25M, 32M)`,
  );
}

/**
 * Positions of `columns` in a header row; null when they already are the first
 * fields in order (rows then pass through as split). Throws naming the missing columns.
 */
function headerOrder(header: string[], columns: readonly string[], path: string): number[] | null {
  const names = header.map((h) => h.trim().toLowerCase());
  const order = columns.map((c) => names.indexOf(c.toLowerCase()));
  const missing = columns.filter((_, k) => order[k] < 0);
  if (missing.length > 0) {
    throw new DataError(
      `MovieLens file ${path}: the header row must name the columns ${columns.join(',')} (any order); ` +
        `missing ${missing.join(',')} in header "${header.join(',')}"`,
    );
  }
  return order.every((at, k) => at === k) ? null : order;
}

/**
 * Parsed data rows of one file, streamed line by line. Blank lines and a header
 * row are not rows; rows that cannot be split, have the wrong field count or fail
 * `parse` go to `bad`.
 */
async function* readRows<T>(
  dir: string,
  layout: Layout,
  fmt: FileFormat,
  bad: BadRowLog,
  parse: (fields: string[]) => T | string,
): AsyncGenerator<T> {
  const path = join(dir, fmt.file);
  /** Columns of a header row not read yet. */
  let header = 'columns' in fmt ? fmt.columns : null;
  let width = 'width' in fmt ? fmt.width : 0;
  let order: number[] | null = null;
  for await (const { no, text } of readLines(path, layout.encoding)) {
    if (text.trim() === '') continue;
    const fields = fmt.split(text);
    if (header) {
      if (!fields) throw new DataError(`MovieLens file ${path}: unterminated quote in the header row`);
      order = headerOrder(fields, header, path);
      width = fields.length;
      header = null;
      continue;
    }
    if (!fields) {
      bad.add(no, 'unterminated quote', fmt.file);
      continue;
    }
    if (fields.length !== width) {
      bad.add(no, `expected ${width} fields, got ${fields.length}`, fmt.file);
      continue;
    }
    const parsed = parse(order ? order.map((at) => fields[at]) : fields);
    if (typeof parsed === 'string') bad.add(no, parsed, fmt.file);
    else yield parsed;
  }
}

/** Movie metadata; a missing movies file just means no metadata. */
async function readMovies(dir: string, layout: Layout, bad: BadRowLog): Promise<Map<string, ItemMeta>> {
  const items = new Map<string, ItemMeta>();
  if (!fileExists(join(dir, layout.movies.file))) return items;
  for await (const [id, meta] of readRows(dir, layout, layout.movies, bad, layout.parseMovie)) items.set(id, meta);
  return items;
}

/** `user item rating ts` rows -> rating events. */
function parseRating([u, i, r, t]: string[]): BehaviorEvent | string {
  const user = parseId(u, 'user');
  if (!user.ok) return user.reason;
  const item = parseId(i, 'item');
  if (!item.ok) return item.reason;
  if (!Number.isFinite(Number(r)) || r.trim() === '') return `non-numeric rating "${r}"`;
  const ts = parseTimestamp(t);
  if (!ts.ok) return ts.reason;
  return { user: user.value, item: item.value, type: 'rating', ts: ts.value };
}

export async function openMovieLens(dir: string): Promise<OpenedData> {
  assertDir(dir, 'movielens directory');
  const layout = detectLayout(dir);
  const bad = new BadRowLog();
  const items = await readMovies(dir, layout, bad);
  return { events: readRows(dir, layout, layout.ratings, bad, parseRating), items, bad, describe: `${layout.name} at ${dir}` };
}
