// movielens:DIR with the CSV releases (ratings.csv + movies.csv: ml-latest, ml-latest-small, 20M, 25M, 32M),
// and how the loader picks between 100K, 1M and CSV. Every test writes its own tiny files.
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { DataError } from '../../recommender/index.ts';
import { BadRowLog, loadDataset, openDataSpec } from '../../recommender/node/index.ts';
import type { BehaviorEvent } from '../../recommender/types.ts';

const dir = mkdtempSync(join(tmpdir(), 'fedrec-movielens-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** Writes `lines` (UTF-8 unless told) into DIR/name; returns the path. */
function write(name: string, lines: string[], opts: { eol?: string; bom?: boolean; encoding?: BufferEncoding } = {}): string {
  const path = join(dir, name);
  mkdirSync(join(path, '..'), { recursive: true });
  const text = (opts.bom ? '\ufeff' : '') + lines.join(opts.eol ?? '\n') + (opts.eol ?? '\n');
  writeFileSync(path, Buffer.from(text, opts.encoding ?? 'utf8'));
  return path;
}

async function collect(spec: string) {
  const opened = await openDataSpec(spec);
  const events: BehaviorEvent[] = [];
  for await (const e of opened.events) events.push(e);
  return { ...opened, events };
}

const badLines = (bad: BadRowLog) => bad.first.map((r) => [r.file, r.line, r.reason]);
const rating = (user: string, item: string, ts: number): BehaviorEvent => ({ user, item, type: 'rating', ts });

describe('movielens:DIR (CSV releases)', () => {
  it('maps columns by name, reads quoted titles, UTF-8 and (no genres listed), and skips bad rows with line numbers', async () => {
    const ml = join(dir, 'ml-csv');
    write('ml-csv/ratings.csv', [
      'timestamp,rating,movieId,userId', // header in another order; it is line 1 and not a row
      '964982703,4.0,1,1',
      '964981247,4.5,11,1',
      '', // blank: skipped silently
      '964982224,3.0,11,2',
      '964982225,3.0,1', // line 6: too few fields
      '964982226,abc,1,2', // line 7: non-numeric rating
      'later,3.0,1,2', // line 8: non-numeric timestamp
      '964982227,3.0,1, ', // line 9: empty user
      '964982228,2.5,193609,2',
    ], { eol: '\r\n' });
    const movies = write('ml-csv/movies.csv', [
      'movieId,genres,title',
      '1,Adventure|Animation|Children|Comedy|Fantasy,Toy Story (1995)',
      '11,Comedy|Drama|Romance,"American President, The (1995)"',
      '29,Adventure|Drama,"City of Lost Children, The (Cité des enfants perdus, La) (1995)"',
      '193609,(no genres listed),"Andrew Dice Clay: ""Dice Rules"" (1991)"',
      '42,Drama,"Unterminated, quote', // line 6
      ',Drama,No Id (2000)', // line 7
      '7,Drama', // line 8
    ]);
    const bytes = readFileSync(movies);
    expect(bytes.includes(0xc3)).toBe(true); // é as two UTF-8 bytes (0xc3 0xa9),
    expect(bytes.includes(Buffer.from([0xe9, 0x73]))).toBe(false); // not one latin-1 byte

    const { events, items, bad, describe } = await collect(`movielens:${ml}`);
    expect(describe).toBe(`MovieLens CSV at ${ml}`);
    expect(events).toEqual([
      rating('1', '1', 964982703),
      rating('1', '11', 964981247),
      rating('2', '11', 964982224),
      rating('2', '193609', 964982228),
    ]);
    expect([...items]).toEqual([
      ['1', { title: 'Toy Story (1995)', category: 'Adventure' }],
      ['11', { title: 'American President, The (1995)', category: 'Comedy' }],
      ['29', { title: 'City of Lost Children, The (Cité des enfants perdus, La) (1995)', category: 'Adventure' }],
      ['193609', { title: 'Andrew Dice Clay: "Dice Rules" (1991)' }],
    ]);
    expect(bad.count).toBe(7);
    expect(badLines(bad)).toEqual([
      ['movies.csv', 6, 'unterminated quote'],
      ['movies.csv', 7, 'empty movie id'],
      ['movies.csv', 8, 'expected 3 fields, got 2'],
      ['ratings.csv', 6, 'expected 4 fields, got 3'],
      ['ratings.csv', 7, 'non-numeric rating "abc"'],
    ]);
    expect(bad.summary()).toMatch(/^skipped 7 bad rows \(.*\.\.\.\)$/);
  });

  it('builds a dataset: rating events sorted by time per user, titles and first genres in the catalog', async () => {
    const ml = join(dir, 'ml-csv');
    const { dataset, bad } = await loadDataset(`movielens:${ml}`);
    const { catalog, sequences } = dataset;
    expect(catalog.ids).toEqual(['1', '11', '193609']);
    expect(catalog.meta(catalog.ids.indexOf('11'))).toEqual({ title: 'American President, The (1995)', category: 'Comedy' });
    expect(catalog.meta(catalog.ids.indexOf('193609'))).toEqual({ title: 'Andrew Dice Clay: "Dice Rules" (1991)' });
    expect(sequences.map((s) => [s.user, Array.from(s.items, (i) => catalog.idOf(i)), Array.from(s.ts)])).toEqual([
      ['1', ['11', '1'], [964981247, 964982703]],
      ['2', ['11', '193609'], [964982224, 964982228]],
    ]);
    expect(new Set(sequences.flatMap((s) => Array.from(s.types)))).toEqual(new Set([4])); // EVENT_TYPES index of 'rating'
    expect(dataset.stats).toMatchObject({ users: 2, items: 3 });
    expect(bad.count).toBe(7);
  });

  it('reads the header order of the real files, a UTF-8 BOM, extra columns, and no movies.csv', async () => {
    const ml = join(dir, 'ml-bom');
    const ratings = write('ml-bom/ratings.csv', ['userId,movieId,rating,timestamp', '5,50,1.5,1000', '5,60,5,999'], { bom: true });
    expect([...readFileSync(ratings).subarray(0, 3)]).toEqual([0xef, 0xbb, 0xbf]);
    const { events, items, bad } = await collect(`movielens:${ml}`);
    expect(events).toEqual([rating('5', '50', 1000), rating('5', '60', 999)]);
    expect(items.size).toBe(0);
    expect(bad.count).toBe(0);

    // A BOM before a quoted header name only goes away if the reader strips it (String.trim alone would not unquote it).
    write('ml-bom/movies.csv', ['"movieId","title","genres","imdbId"', '50,Heat (1995),Action|Crime|Thriller,0113277'], { bom: true });
    const withMovies = await collect(`movielens:${ml}`);
    expect([...withMovies.items]).toEqual([['50', { title: 'Heat (1995)', category: 'Action' }]]);
    expect(withMovies.bad.count).toBe(0);

    // Extra columns are ignored; rows must still have the header's field count.
    const extra = join(dir, 'ml-extra');
    write('ml-extra/ratings.csv', ['userId,source,movieId,rating,timestamp', '7,web,70,4,123', '7,70,4,124']);
    const got = await collect(`movielens:${extra}`);
    expect(got.events).toEqual([rating('7', '70', 123)]);
    expect(badLines(got.bad)).toEqual([['ratings.csv', 3, 'expected 5 fields, got 4']]);
  });

  it('rejects a header that lacks a required column, naming the file and the columns found', async () => {
    const noRating = join(dir, 'ml-no-rating');
    write('ml-no-rating/ratings.csv', ['userId,movieId,timestamp', '1,1,964982703']);
    const err = await collect(`movielens:${noRating}`).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(DataError);
    expect((err as Error).message).toBe(
      `MovieLens file ${join(noRating, 'ratings.csv')}: the header row must name the columns userId,movieId,rating,timestamp (any order); ` +
        'missing rating in header "userId,movieId,timestamp"',
    );

    const headerless = join(dir, 'ml-headerless');
    write('ml-headerless/ratings.csv', ['1,1,4.0,964982703']);
    await expect(collect(`movielens:${headerless}`)).rejects.toThrow(
      /ratings\.csv: .*missing userId,movieId,rating,timestamp in header "1,1,4\.0,964982703"/,
    );

    const badMovies = join(dir, 'ml-bad-movies');
    write('ml-bad-movies/ratings.csv', ['userId,movieId,rating,timestamp', '1,1,4.0,964982703']);
    write('ml-bad-movies/movies.csv', ['movieId,name,genres', '1,Toy Story (1995),Comedy']);
    await expect(openDataSpec(`movielens:${badMovies}`)).rejects.toThrow(
      `MovieLens file ${join(badMovies, 'movies.csv')}: the header row must name the columns movieId,title,genres (any order); ` +
        'missing title in header "movieId,name,genres"',
    );
  });

  it('prefers 100K (u.data), then 1M (ratings.dat), then CSV (ratings.csv), and names all three when none exists', async () => {
    const ml = join(dir, 'ml-all');
    write('ml-all/ratings.csv', ['userId,movieId,rating,timestamp', '3,30,4,300']);
    const csv = await collect(`movielens:${ml}`);
    expect(csv.describe).toBe(`MovieLens CSV at ${ml}`);
    expect(csv.events).toEqual([rating('3', '30', 300)]);

    write('ml-all/ratings.dat', ['2::20::4::200']);
    const oneM = await collect(`movielens:${ml}`);
    expect(oneM.describe).toBe(`MovieLens 1M at ${ml}`);
    expect(oneM.events).toEqual([rating('2', '20', 200)]);

    write('ml-all/u.data', ['1\t10\t4\t100']);
    const hundredK = await collect(`movielens:${ml}`);
    expect(hundredK.describe).toBe(`MovieLens 100K at ${ml}`);
    expect(hundredK.events).toEqual([rating('1', '10', 100)]);

    const onlyMovies = join(dir, 'ml-only-movies');
    write('ml-only-movies/movies.csv', ['movieId,title,genres', '1,Toy Story (1995),Comedy']);
    const err = await openDataSpec(`movielens:${onlyMovies}`).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(DataError);
    expect((err as Error).message).toBe(
      `movielens directory ${onlyMovies} has neither u.data (MovieLens 100K) nor ratings.dat (MovieLens 1M) ` +
        'nor ratings.csv (MovieLens CSV: ml-latest, ml-latest-small, 20M, 25M, 32M)',
    );
  });

  it('still reads the 1M movies.dat as latin-1 next to the CSV support', async () => {
    const ml = join(dir, 'ml-1m-latin1');
    write('ml-1m-latin1/ratings.dat', ['1::661::3::978302109']);
    write('ml-1m-latin1/movies.dat', ['661::Misérables, Les (1995)::(no genres listed)'], { encoding: 'latin1' });
    const { items } = await collect(`movielens:${ml}`);
    expect([...items]).toEqual([['661', { title: 'Misérables, Les (1995)' }]]);
  });
});
