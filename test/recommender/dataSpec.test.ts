import { existsSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { loadDataset, parseDataSpec } from '../../recommender/node/index.ts';
import { DataError } from '../../recommender/index.ts';

describe('parseDataSpec', () => {
  it('parses file kinds and synthetic params', () => {
    expect(parseDataSpec('events:data/shop.csv')).toEqual({ kind: 'events', path: 'data/shop.csv', params: {} });
    expect(parseDataSpec('movielens:C:\\data\\ml-1m')).toEqual({ kind: 'movielens', path: 'C:\\data\\ml-1m', params: {} });
    expect(parseDataSpec('taobao:/x/UserBehavior.csv').kind).toBe('taobao');
    expect(parseDataSpec('sequences:s.txt').path).toBe('s.txt');
    expect(parseDataSpec('synthetic')).toEqual({ kind: 'synthetic', params: {} });
    expect(parseDataSpec('synthetic:users=10, items=5,')).toEqual({ kind: 'synthetic', params: { users: '10', items: '5' } });
  });

  it('rejects unknown kinds with the valid kinds and an example', () => {
    expect(() => parseDataSpec('csv:data.csv')).toThrow(/unknown kind "csv".*valid kinds: events:FILE.*movielens:DIR.*taobao:FILE.*sequences:FILE.*synthetic.*e\.g\. movielens:/);
    expect(() => parseDataSpec('data.csv')).toThrow(/unknown kind "data.csv"/);
    expect(() => parseDataSpec('')).toThrow(/missing kind/);
    expect(() => parseDataSpec('csv:data.csv')).toThrow(DataError);
  });

  it('rejects a file kind without a path and malformed synthetic params', () => {
    expect(() => parseDataSpec('events')).toThrow(/events needs a path, as in events:FILE/);
    expect(() => parseDataSpec('movielens: ')).toThrow(/movielens:DIR/);
    expect(() => parseDataSpec('synthetic:users')).toThrow(/expected key=value, got "users"/);
    expect(() => parseDataSpec('synthetic:=3')).toThrow(/expected key=value/);
  });
});

const hasSynthetic = existsSync(new URL('../../recommender/synthetic.ts', import.meta.url));

describe.runIf(hasSynthetic)('loadDataset(synthetic)', () => {
  it('generates and builds a small dataset', async () => {
    const { dataset, bad, describe } = await loadDataset('synthetic:users=30,items=40,categories=4,seed=3');
    expect(dataset.stats.users).toBe(30);
    expect(dataset.stats.items).toBeLessThanOrEqual(40);
    expect(dataset.catalog.numCategories).toBeGreaterThan(0);
    expect(bad.count).toBe(0);
    expect(describe).toContain('synthetic');
  });

  it('keeps the full item list with fixedVocabulary', async () => {
    const { dataset } = await loadDataset('synthetic:users=5,items=40,categories=4', { fixedVocabulary: true });
    expect(dataset.catalog.size).toBe(40);
  });
});
