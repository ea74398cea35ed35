import { describe, expect, it } from 'vitest';
import { Catalog } from '../../recommender/catalog.ts';
import type { ItemMeta } from '../../recommender/types.ts';

const meta = new Map<string, ItemMeta>([
  ['shoe', { category: 'footwear', title: 'Running shoe', price: 80 }],
  ['sock', { category: 'apparel' }],
  ['boot', { category: 'footwear' }],
]);

describe('Catalog', () => {
  const cat = Catalog.fromIds(['sock', 'shoe', 'mug', 'boot'], meta);

  it('maps ids to indices and back', () => {
    expect(cat.size).toBe(4);
    expect(cat.indexOf('shoe')).toBe(1);
    expect(cat.indexOf('nope')).toBe(-1);
    expect(cat.idOf(3)).toBe('boot');
    expect(cat.ids).toEqual(['sock', 'shoe', 'mug', 'boot']);
    expect(() => cat.idOf(4)).toThrow(RangeError);
  });

  it('codes categories densely in item order, -1 when unknown', () => {
    expect(cat.numCategories).toBe(2);
    expect([0, 1, 2, 3].map((i) => cat.categoryIndex(i))).toEqual([0, 1, -1, 1]);
    expect(cat.categoryName(1)).toBe('footwear');
    expect(cat.meta(1)).toEqual({ category: 'footwear', title: 'Running shoe', price: 80 });
    expect(cat.meta(2)).toEqual({});
  });

  it('rejects duplicate ids', () => {
    expect(() => Catalog.fromIds(['a', 'b', 'a'])).toThrow(/duplicate item id "a"/);
  });

  it('round-trips through JSON', () => {
    const json = JSON.parse(JSON.stringify(cat));
    expect(json.categories).toEqual([0, 1, -1, 1]);
    expect(json.titles).toEqual([null, 'Running shoe', null, null]);
    const back = Catalog.fromJSON(json);
    expect(back.ids).toEqual(cat.ids);
    expect([0, 1, 2, 3].map((i) => back.categoryIndex(i))).toEqual([0, 1, -1, 1]);
    expect(back.meta(1)).toEqual(cat.meta(1));
    expect(back.meta(0)).toEqual({ category: 'apparel' });
  });

  it('omits titles and prices when there are none, and validates input', () => {
    const json = Catalog.fromIds(['x', 'y']).toJSON();
    expect(json).toEqual({ version: 1, ids: ['x', 'y'], categoryNames: [], categories: [-1, -1] });
    expect(() => Catalog.fromJSON({ ...json, categories: [-1] })).toThrow(/categories has 1 entries for 2 ids/);
  });
});
