import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { BadRowLog, loadDataset, openDataSpec } from '../../recommender/node/index.ts';
import type { BehaviorEvent } from '../../recommender/types.ts';

const dir = mkdtempSync(join(tmpdir(), 'fedrec-loaders-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function write(name: string, lines: string[], opts: { newline?: boolean; encoding?: BufferEncoding } = {}): string {
  const path = join(dir, name);
  mkdirSync(join(path, '..'), { recursive: true });
  const text = lines.join('\n') + (opts.newline === false ? '' : '\n');
  writeFileSync(path, Buffer.from(text, opts.encoding ?? 'utf8'));
  return path;
}

async function collect(spec: string) {
  const opened = await openDataSpec(spec);
  const events: BehaviorEvent[] = [];
  for await (const e of opened.events) events.push(e);
  return { ...opened, events };
}

const badLines = (bad: BadRowLog) => bad.first.map((r) => [r.file, r.line, r.reason].filter((x) => x !== undefined));

/** 19 genre flags of u.item with the given positions set. */
const GENRES_ADV_COMEDY = '0|0|1|0|0|1|0|0|0|0|0|0|0|0|0|0|0|0|0'; // Adventure (2), Comedy (5)
const GENRES_ANIMATION = '0|0|0|1|1|1|0|0|0|0|0|0|0|0|0|0|0|0|0'; // Animation (3), Children's, Comedy

describe('BadRowLog', () => {
  it('counts everything, keeps the first 5', () => {
    const log = new BadRowLog();
    expect(log.summary()).toBe('no bad rows');
    log.add(4, 'unknown type "foo"');
    expect(log.summary()).toBe('skipped 1 bad row (line 4: unknown type "foo")');
    for (let i = 0; i < 6; i++) log.add(10 + i, 'x', i === 0 ? 'u.item' : undefined);
    expect(log.count).toBe(7);
    expect(log.first.length).toBe(5);
    expect(log.summary()).toBe(
      'skipped 7 bad rows (line 4: unknown type "foo"; u.item line 10: x; line 11: x; line 12: x; line 13: x; ...)',
    );
  });
});

describe('events:FILE (CSV)', () => {
  const path = write(
    'events.csv',
    [
      'ts,Type,user,item,merchant,extra',
      '100,view,u1,i1,shopA,x',
      '2024-01-01T00:00:00Z,pv,u1,i2,shopA,x',
      '101,foo,u2,i1,shopB,x',
      '',
      'abc,buy,u2,i3,shopB,x',
      '102,add_to_cart,,i3,shopB,x',
      '103,addtocart,u2,i3,,x',
      '104,buy,u2,i3',
      '105,"purchase",u3,"i,4",m,"x ""y"""',
      '106,view,u3',
    ],
    { newline: false },
  );

  it('reads columns in any order, aliases, ISO dates, quoted fields; skips bad rows with line numbers', async () => {
    const { events, bad, items, describe } = await collect(`events:${path}`);
    expect(events).toEqual([
      { user: 'u1', item: 'i1', type: 'view', ts: 100, merchant: 'shopA' },
      { user: 'u1', item: 'i2', type: 'view', ts: 1704067200, merchant: 'shopA' },
      { user: 'u2', item: 'i3', type: 'cart', ts: 103 },
      { user: 'u3', item: 'i,4', type: 'purchase', ts: 105, merchant: 'm' },
    ]);
    expect(bad.count).toBe(5);
    expect(bad.summary()).toBe(
      'skipped 5 bad rows (line 4: unknown type "foo"; line 6: non-numeric time "abc"; line 7: empty user; ' +
        'line 9: expected 6 fields, got 4; line 11: expected 6 fields, got 3)',
    );
    expect(items.size).toBe(0);
    expect(describe).toContain('CSV');
  });

  it('skips a row with an unterminated quote', async () => {
    const path = write('quote.csv', ['user,item,type,ts', 'u1,"i1,view,1', 'u1,i2,view,2']);
    const { events, bad } = await collect(`events:${path}`);
    expect(events.map((e) => e.item)).toEqual(['i2']);
    expect(badLines(bad)).toEqual([[2, 'unterminated quote']]);
  });

  it('needs a header naming user,item,type,ts', async () => {
    const noHeader = write('noheader.csv', ['u1,i1,view,1']);
    await expect(loadDataset(`events:${noHeader}`)).rejects.toThrow(/missing user,item,type,ts/);
    const partial = write('partial.csv', ['user,item,type,time', 'u1,i1,view,1']);
    await expect(loadDataset(`events:${partial}`)).rejects.toThrow(/missing ts in header "user,item,type,time"/);
  });

  it('reports a missing file clearly', async () => {
    const missing = join(dir, 'nope.csv');
    await expect(openDataSpec(`events:${missing}`)).rejects.toThrow(`events file not found: ${missing}`);
  });

  it('loads into a dataset', async () => {
    const { dataset, bad } = await loadDataset(`events:${path}`);
    expect(dataset.sequences.map((s) => [s.user, s.items.length, s.merchant])).toEqual([
      ['u1', 2, 'shopA'],
      ['u2', 1, undefined],
      ['u3', 1, 'm'],
    ]);
    expect(bad.count).toBe(5);
  });
});

describe('events:FILE (JSONL)', () => {
  const lines = [
    '{"user":"u1","item":"i1","type":"view","ts":5}',
    '{"user":7,"item":"i2","type":"buy","ts":"2024-01-01T00:00:10Z","merchant":"m1"}',
    '{"user":"u1","item":"i1","type":"rate","ts":6}',
    '[1,2]',
    '{"user":"u1","item":"i3","type":"view"}',
    '{"user":"u1","item":"i3","type":"CART","ts":9}',
    '{"user":"u2","item":"i4","ty',
  ];

  it.each(['events.jsonl', 'events.ndjson'])('reads %s, skipping bad rows and a truncated last line', async (name) => {
    const path = write(name, lines, { newline: false });
    const { events, bad, describe } = await collect(`events:${path}`);
    expect(events).toEqual([
      { user: 'u1', item: 'i1', type: 'view', ts: 5 },
      { user: '7', item: 'i2', type: 'purchase', ts: 1704067210, merchant: 'm1' },
      { user: 'u1', item: 'i3', type: 'cart', ts: 9 },
    ]);
    expect(badLines(bad)).toEqual([
      [3, 'unknown type "rate"'],
      [4, 'expected a JSON object'],
      [5, 'missing ts'],
      [7, 'invalid JSON'],
    ]);
    expect(describe).toContain('JSONL');
  });
});

describe('movielens:DIR', () => {
  it('reads MovieLens 100K with latin-1 titles and first-genre categories', async () => {
    const ml = join(dir, 'ml-100k');
    write('ml-100k/u.data', ['1\t10\t5\t881250949', '1\t20\t3\t881250950', '2\t10\t4\t881250951', '2\t30\t4', '3\t30\tfive\t881250952', '3\t10'], {
      newline: false,
    });
    const uItem = write(
      'ml-100k/u.item',
      [
        `10|Misérables, Les (1995)|01-Jan-1995||http://example/10|${GENRES_ADV_COMEDY}`,
        `20|Toy Story (1995)|01-Jan-1995||http://example/20|${GENRES_ANIMATION}`,
        '30|Short row',
      ],
      { encoding: 'latin1' },
    );
    const bytes = readFileSync(uItem);
    expect(bytes.includes(0xe9)).toBe(true); // é as one latin-1 byte,
    expect(bytes.includes(0xc3)).toBe(false); // not UTF-8

    const { dataset, bad, describe } = await loadDataset(`movielens:${ml}`);
    expect(describe).toBe(`MovieLens 100K at ${ml}`);
    const { catalog, sequences } = dataset;
    expect(catalog.ids).toEqual(['10', '20']);
    expect(catalog.meta(0)).toEqual({ title: 'Misérables, Les (1995)', category: 'Adventure' });
    expect(catalog.meta(1).category).toBe('Animation');
    expect(sequences.map((s) => [s.user, Array.from(s.items, (i) => catalog.idOf(i)), Array.from(s.types)])).toEqual([
      ['1', ['10', '20'], [4, 4]],
      ['2', ['10'], [4]],
    ]);
    expect(Array.from(sequences[0].ts)).toEqual([881250949, 881250950]);
    expect(badLines(bad)).toEqual([
      ['u.item', 3, 'expected 24 fields, got 2'],
      ['u.data', 4, 'expected 4 fields, got 3'],
      ['u.data', 5, 'non-numeric rating "five"'],
      ['u.data', 6, 'expected 4 fields, got 2'],
    ]);
  });

  it('reads MovieLens 1M', async () => {
    const ml = join(dir, 'ml-1m');
    write('ml-1m/ratings.dat', ['1::1193::5::978300760', '1::661::3::978302109', '2::1193::4::978298413', '2::661::x::978298414', '3::661']);
    write('ml-1m/movies.dat', ["1193::One Flew Over the Cuckoo's Nest (1975)::Drama", '661::Misérables, Les (1995)::Musical|Drama'], {
      encoding: 'latin1',
    });
    const { dataset, bad, describe } = await loadDataset(`movielens:${ml}`);
    expect(describe).toBe(`MovieLens 1M at ${ml}`);
    const { catalog, sequences } = dataset;
    expect(catalog.ids).toEqual(['1193', '661']);
    expect(catalog.meta(1)).toEqual({ title: 'Misérables, Les (1995)', category: 'Musical' });
    expect(catalog.meta(0).category).toBe('Drama');
    expect(sequences.map((s) => [s.user, Array.from(s.items, (i) => catalog.idOf(i))])).toEqual([
      ['1', ['1193', '661']],
      ['2', ['1193']],
    ]);
    expect(badLines(bad)).toEqual([
      ['ratings.dat', 4, 'non-numeric rating "x"'],
      ['ratings.dat', 5, 'expected 4 fields, got 2'],
    ]);
  });

  it('names both expected files when neither exists, and reports a missing directory', async () => {
    const empty = join(dir, 'ml-empty');
    mkdirSync(empty);
    await expect(openDataSpec(`movielens:${empty}`)).rejects.toThrow(/neither u\.data \(MovieLens 100K\) nor ratings\.dat \(MovieLens 1M\)/);
    await expect(openDataSpec(`movielens:${join(dir, 'nope')}`)).rejects.toThrow(`movielens directory not found: ${join(dir, 'nope')}`);
  });
});

describe('taobao:FILE', () => {
  it('maps pv/cart/fav/buy, records categories, skips bad rows', async () => {
    const path = write(
      'UserBehavior.csv',
      [
        '1,100,7,pv,1511544070',
        '1,101,8,buy,1511544071',
        '2,100,7,cart,1511544072',
        '2,102,9,fav,1511544073',
        '2,103,9,click,1511544074',
        '3,100,7,pv',
        '3,104,9,pv,soon',
        '3,,9,pv,1511544075',
        '3,105,9,pv,15115',
      ],
      { newline: false },
    );
    const { events, items, bad } = await collect(`taobao:${path}`);
    expect(events.map((e) => [e.user, e.item, e.type, e.ts])).toEqual([
      ['1', '100', 'view', 1511544070],
      ['1', '101', 'purchase', 1511544071],
      ['2', '100', 'cart', 1511544072],
      ['2', '102', 'fav', 1511544073],
      ['3', '105', 'view', 15115],
    ]);
    expect([...items].map(([id, m]) => [id, m.category])).toEqual([
      ['100', '7'],
      ['101', '8'],
      ['102', '9'],
      ['105', '9'],
    ]);
    expect(badLines(bad)).toEqual([
      [5, 'unknown type "click"'],
      [6, 'expected 5 fields, got 4'],
      [7, 'non-numeric time "soon"'],
      [8, 'empty item'],
    ]);
  });

  it('puts categories into the catalog via loadDataset', async () => {
    const path = write('tb.csv', ['1,100,7,pv,1', '1,101,8,pv,2', '2,102,7,pv,3']);
    const { dataset } = await loadDataset(`taobao:${path}`);
    expect([0, 1, 2].map((i) => dataset.catalog.categoryIndex(i))).toEqual([0, 1, 0]);
  });

  it('reports a missing file', async () => {
    await expect(openDataSpec(`taobao:${join(dir, 'x.csv')}`)).rejects.toThrow(`taobao file not found: ${join(dir, 'x.csv')}`);
  });
});

describe('sequences:FILE', () => {
  it('reads one user per line (id = line number, ts = position, type view)', async () => {
    const path = write('seqs.txt', ['a b c', '', 'b c', '  c   a\td  '], { newline: false });
    const { events, bad } = await collect(`sequences:${path}`);
    expect(events.filter((e) => e.user === '1')).toEqual([
      { user: '1', item: 'a', type: 'view', ts: 0 },
      { user: '1', item: 'b', type: 'view', ts: 1 },
      { user: '1', item: 'c', type: 'view', ts: 2 },
    ]);
    expect(events.map((e) => `${e.user}:${e.item}@${e.ts}`)).toEqual(['1:a@0', '1:b@1', '1:c@2', '3:b@0', '3:c@1', '4:c@0', '4:a@1', '4:d@2']);
    expect(bad.count).toBe(0);
    const { dataset } = await loadDataset(`sequences:${path}`);
    expect(dataset.sequences.map((s) => s.user)).toEqual(['1', '3', '4']);
    expect(dataset.catalog.ids).toEqual(['a', 'b', 'c', 'd']);
  });

  it('reports a missing file', async () => {
    await expect(openDataSpec(`sequences:${join(dir, 's.txt')}`)).rejects.toThrow(`sequences file not found: ${join(dir, 's.txt')}`);
  });
});
