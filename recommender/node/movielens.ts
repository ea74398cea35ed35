// `movielens:DIR` — MovieLens 100K (u.data + u.item) or 1M (ratings.dat + movies.dat).
// Every rating becomes a `rating` event; the first genre is the item's category.
import { join } from 'node:path';
import type { BehaviorEvent, ItemMeta } from '../types.ts';
import { BadRowLog } from './badRows.ts';
import { parseId, parseTimestamp } from './fields.ts';
import { assertDir, fileExists, readLines } from './lines.ts';
import type { OpenedData } from './openedData.ts';
import { DataError } from '../errors.ts';

/** Genre flag order of the 100K u.item file (as listed in u.genre). */
export const ML100K_GENRES = [
  'unknown', 'Action', 'Adventure', 'Animation', "Children's", 'Comedy', 'Crime', 'Documentary', 'Drama', 'Fantasy',
  'Film-Noir', 'Horror', 'Musical', 'Mystery', 'Romance', 'Sci-Fi', 'Thriller', 'War', 'Western',
] as const;

interface Layout {
  name: string;
  ratings: string;
  movies: string;
  /** Splits a ratings line into fields. */
  splitRating: (line: string) => string[];
  /** Parses a movies line into [id, meta], or an error reason. */
  parseMovie: (line: string) => [string, ItemMeta] | string;
}

const ML100K: Layout = {
  name: 'MovieLens 100K',
  ratings: 'u.data',
  movies: 'u.item',
  splitRating: (line) => line.trim().split(/\s+/),
  parseMovie: parseUItem,
};

const ML1M: Layout = {
  name: 'MovieLens 1M',
  ratings: 'ratings.dat',
  movies: 'movies.dat',
  splitRating: (line) => line.split('::'),
  parseMovie: parseMoviesDat,
};

/** `id|title|release date|video release date|url|19 genre flags`. */
function parseUItem(line: string): [string, ItemMeta] | string {
  const f = line.split('|');
  const want = 5 + ML100K_GENRES.length;
  if (f.length !== want) return `expected ${want} fields, got ${f.length}`;
  const id = parseId(f[0], 'movie id');
  if (!id.ok) return id.reason;
  const meta: ItemMeta = { title: f[1] };
  const g = f.slice(5).findIndex((flag) => flag.trim() === '1');
  if (g >= 0) meta.category = ML100K_GENRES[g];
  return [id.value, meta];
}

/** `MovieID::Title::Genre|Genre|...`. */
function parseMoviesDat(line: string): [string, ItemMeta] | string {
  const f = line.split('::');
  if (f.length !== 3) return `expected 3 fields, got ${f.length}`;
  const id = parseId(f[0], 'movie id');
  if (!id.ok) return id.reason;
  const meta: ItemMeta = { title: f[1] };
  const first = f[2].split('|')[0].trim();
  if (first && first !== '(no genres listed)') meta.category = first;
  return [id.value, meta];
}

function detectLayout(dir: string): Layout {
  for (const layout of [ML100K, ML1M]) {
    if (fileExists(join(dir, layout.ratings))) return layout;
  }
  throw new DataError(
    `movielens directory ${dir} has neither ${ML100K.ratings} (MovieLens 100K) nor ${ML1M.ratings} (MovieLens 1M)`,
  );
}

/** Movie metadata (latin-1); a missing movies file just means no metadata. */
async function readMovies(dir: string, layout: Layout, bad: BadRowLog): Promise<Map<string, ItemMeta>> {
  const items = new Map<string, ItemMeta>();
  const path = join(dir, layout.movies);
  if (!fileExists(path)) return items;
  for await (const { no, text } of readLines(path, 'latin1')) {
    if (text.trim() === '') continue;
    const parsed = layout.parseMovie(text);
    if (typeof parsed === 'string') bad.add(no, parsed, layout.movies);
    else items.set(parsed[0], parsed[1]);
  }
  return items;
}

/** `user item rating ts` rows -> rating events. */
async function* readRatings(dir: string, layout: Layout, bad: BadRowLog): AsyncGenerator<BehaviorEvent> {
  for await (const { no, text } of readLines(join(dir, layout.ratings), 'latin1')) {
    if (text.trim() === '') continue;
    const f = layout.splitRating(text);
    const parsed = f.length === 4 ? parseRating(f) : `expected 4 fields, got ${f.length}`;
    if (typeof parsed === 'string') bad.add(no, parsed, layout.ratings);
    else yield parsed;
  }
}

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
  return { events: readRatings(dir, layout, bad), items, bad, describe: `${layout.name} at ${dir}` };
}
