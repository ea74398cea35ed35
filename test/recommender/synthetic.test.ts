import { describe, expect, it } from 'vitest';
import type { BehaviorEvent } from '../../recommender/types.ts';
import {
  SYNTHETIC_PARAM_SPECS,
  buildWorld,
  complementsOf,
  generateSynthetic,
  parseSyntheticParams,
} from '../../recommender/synthetic.ts';

const views = (events: BehaviorEvent[]): BehaviorEvent[] => events.filter((e) => e.type === 'view');
const itemIndex = (id: string): number => Number(id.slice(1));

/** Consecutive (previous item, next item) view pairs within each user. */
function transitions(events: BehaviorEvent[]): Array<[number, number]> {
  const pairs: Array<[number, number]> = [];
  let prevUser = '';
  let prevItem = -1;
  for (const e of views(events)) {
    const item = itemIndex(e.item);
    if (e.user === prevUser) pairs.push([prevItem, item]);
    prevUser = e.user;
    prevItem = item;
  }
  return pairs;
}

function categoryHistogram(events: BehaviorEvent[], category: Map<string, string | undefined>, k: number): number[] {
  const h = new Array<number>(k).fill(0);
  for (const e of events) h[Number(category.get(e.item)!.slice(1))]++;
  const total = h.reduce((a, b) => a + b, 0);
  return h.map((x) => x / total);
}

function totalVariation(p: number[], q: number[]): number {
  return p.reduce((s, x, i) => s + Math.abs(x - q[i]), 0) / 2;
}

describe('parseSyntheticParams', () => {
  it('fills in the documented defaults', () => {
    expect(parseSyntheticParams({})).toEqual({
      seed: 1,
      users: 2000,
      items: 1000,
      categories: 20,
      length: 30,
      zipf: 1,
      tastes: 3,
      drift: 0.05,
      complement: 0.5,
      merchants: 1,
      alpha: 0.5,
      cart: 0.3,
      purchase: 0.5,
      days: 90,
    });
  });

  it('parses strings', () => {
    const p = parseSyntheticParams({ users: ' 12 ', zipf: '1.25', cart: '0' });
    expect(p.users).toBe(12);
    expect(p.zipf).toBe(1.25);
    expect(p.cart).toBe(0);
  });

  it('names the key of a bad value', () => {
    expect(() => parseSyntheticParams({ users: 'abc' })).toThrow(/'users' must be a number, got 'abc'/);
    expect(() => parseSyntheticParams({ users: '' })).toThrow(/'users' must be a number/);
    expect(() => parseSyntheticParams({ items: 2.5 })).toThrow(/'items' must be an integer/);
    expect(() => parseSyntheticParams({ cart: '1.5' })).toThrow(/'cart' must be <= 1/);
    expect(() => parseSyntheticParams({ length: 4 })).toThrow(/'length' must be >= 5/);
    expect(() => parseSyntheticParams({ alpha: 0 })).toThrow(/'alpha' must be > 0/);
    expect(() => parseSyntheticParams({ drift: 'NaN' })).toThrow(/'drift'/);
    expect(() => parseSyntheticParams({ items: 5, categories: 10 })).toThrow(/'items'.*'categories'/);
  });

  it('rejects unknown keys and lists the valid ones', () => {
    let message = '';
    try {
      parseSyntheticParams({ user: 10, colour: 'red' });
    } catch (e) {
      message = (e as Error).message;
    }
    expect(message).toMatch(/unknown .*user, colour/);
    for (const key of Object.keys(SYNTHETIC_PARAM_SPECS)) expect(message).toContain(key);
  });
});

describe('generateSynthetic', () => {
  const data = generateSynthetic({});

  it('is deterministic by seed', () => {
    const a = generateSynthetic({ seed: 5, users: 50 });
    const b = generateSynthetic({ seed: '5', users: '50' });
    const c = generateSynthetic({ seed: 6, users: 50 });
    expect(a.events).toEqual(b.events);
    expect([...a.items]).toEqual([...b.items]);
    expect(a.events).not.toEqual(c.events);
  });

  it('is fast enough for the defaults', () => {
    const t0 = performance.now();
    generateSynthetic({ seed: 2 });
    // Well under a second on a laptop; the bound is loose for slow CI machines.
    expect(performance.now() - t0).toBeLessThan(2000);
  });

  it('uses the id formats and the catalog of the params', () => {
    expect(data.items.size).toBe(1000);
    const categories = new Set([...data.items.values()].map((m) => m.category));
    expect(categories.size).toBe(20);
    for (const c of categories) expect(c).toMatch(/^c\d+$/);
    for (const e of data.events.slice(0, 500)) {
      expect(e.user).toMatch(/^u\d+$/);
      expect(data.items.has(e.item)).toBe(true);
      expect(e.merchant).toBeUndefined();
      expect('merchant' in e).toBe(false);
    }
    const sizes = new Map<string, number>();
    for (const m of data.items.values()) sizes.set(m.category!, (sizes.get(m.category!) ?? 0) + 1);
    for (const s of sizes.values()) expect(s).toBe(50); // 1000 items dealt evenly over 20 categories
  });

  it('gives every user at least 5 interactions and about `length` on average', () => {
    const perUser = new Map<string, number>();
    for (const e of views(data.events)) perUser.set(e.user, (perUser.get(e.user) ?? 0) + 1);
    expect(perUser.size).toBe(2000);
    expect(Math.min(...perUser.values())).toBeGreaterThanOrEqual(5);
    const mean = [...perUser.values()].reduce((a, b) => a + b, 0) / perUser.size;
    // Geometric extra length: sd ≈ 25, so the standard error over 2000 users is ≈ 0.56.
    expect(Math.abs(mean - 30)).toBeLessThan(2);
  });

  it('keeps timestamps strictly increasing within a user and inside the span', () => {
    const last = new Map<string, number>();
    let bad = 0;
    for (const e of data.events) {
      if (e.ts <= (last.get(e.user) ?? -Infinity)) bad++;
      last.set(e.user, e.ts);
    }
    expect(bad).toBe(0);
    const ts = data.events.map((e) => e.ts);
    expect(Math.min(...ts)).toBeGreaterThanOrEqual(1_700_000_000);
    expect(Math.max(...ts)).toBeLessThan(1_700_000_000 + 91 * 86400);
  });

  it('follows the funnel: cart after view of the same item, purchase after cart', () => {
    const ev = data.events;
    const n = { view: 0, cart: 0, purchase: 0 };
    let broken = 0;
    const follows = (k: number, type: string): boolean =>
      k > 0 && ev[k - 1].type === type && ev[k - 1].item === ev[k].item && ev[k - 1].user === ev[k].user;
    for (let k = 0; k < ev.length; k++) {
      const e = ev[k];
      n[e.type as keyof typeof n]++;
      if (e.type === 'cart' && !follows(k, 'view')) broken++;
      if (e.type === 'purchase' && !follows(k, 'cart')) broken++;
    }
    expect(broken).toBe(0);
    expect(n.view + n.cart + n.purchase).toBe(ev.length);
    // 60k views: sd of the cart rate ≈ 0.002, of the purchase rate ≈ 0.004.
    expect(Math.abs(n.cart / n.view - 0.3)).toBeLessThan(0.015);
    expect(Math.abs(n.purchase / n.cart - 0.5)).toBeLessThan(0.02);
  });

  it('skews popularity: the top 10% of items take more than 30% of interactions', () => {
    const counts = new Array<number>(1000).fill(0);
    for (const e of views(data.events)) counts[itemIndex(e.item)]++;
    counts.sort((a, b) => b - a);
    const top = counts.slice(0, 100).reduce((a, b) => a + b, 0);
    const total = counts.reduce((a, b) => a + b, 0);
    expect(top / total).toBeGreaterThan(0.3);
    const flat = generateSynthetic({ zipf: 0, complement: 0, users: 500 });
    const flatCounts = new Array<number>(1000).fill(0);
    for (const e of views(flat.events)) flatCounts[itemIndex(e.item)]++;
    flatCounts.sort((a, b) => b - a);
    const flatTop = flatCounts.slice(0, 100).reduce((a, b) => a + b, 0) / flatCounts.reduce((a, b) => a + b, 0);
    expect(flatTop).toBeLessThan(0.2);
  });

  it('has complement structure far above chance', () => {
    const world = buildWorld(data.params);
    const share = (events: BehaviorEvent[]): number => {
      const pairs = transitions(events);
      const hits = pairs.filter(([a, b]) => complementsOf(world, a).includes(b)).length;
      return hits / pairs.length;
    };
    const withComplements = share(data.events);
    // Same world (the world depends on seed/items/categories, not on `complement`).
    const without = share(generateSynthetic({ complement: 0 }).events);
    // Chance level: an item has at most 3 complements among 1000 items.
    expect(withComplements).toBeGreaterThan(0.3);
    expect(withComplements).toBeGreaterThan(10 * without);
    expect(without).toBeLessThan(0.05);
  });

  it('gives every item 1-3 distinct complements, mostly from the partner category', () => {
    const world = buildWorld(data.params);
    let fromPartner = 0;
    let total = 0;
    for (let i = 0; i < world.numItems; i++) {
      const comps = Array.from(complementsOf(world, i));
      expect(comps.length).toBeGreaterThanOrEqual(1);
      expect(comps.length).toBeLessThanOrEqual(3);
      expect(new Set(comps).size).toBe(comps.length);
      expect(comps).not.toContain(i);
      for (const c of comps) {
        total++;
        if (world.itemCategory[c] === world.partner[world.itemCategory[i]]) fromPartner++;
      }
    }
    expect(fromPartner / total).toBeGreaterThan(0.7);
    for (let c = 0; c < world.numCategories; c++) expect(world.partner[c]).not.toBe(c);
  });

  it('gives merchants measurably different category mixes', () => {
    const category = new Map([...data.items].map(([id, m]) => [id, m.category]));
    const histograms = (alpha: number): number[][] => {
      const d = generateSynthetic({ merchants: 3, alpha });
      const byMerchant = [0, 1, 2].map((k) => views(d.events).filter((e) => e.merchant === `m${k}`));
      expect(byMerchant.reduce((s, l) => s + l.length, 0)).toBe(views(d.events).length);
      return byMerchant.map((l) => categoryHistogram(l, category, 20));
    };
    const pairs = [
      [0, 1],
      [0, 2],
      [1, 2],
    ];
    const skewed = histograms(0.3);
    for (const [a, b] of pairs) expect(totalVariation(skewed[a], skewed[b])).toBeGreaterThan(0.2);
    const even = histograms(1000);
    for (const [a, b] of pairs) expect(totalVariation(even[a], even[b])).toBeLessThan(0.12);
  });

  it('sets merchant on every event when merchants > 1, round-robin by user', () => {
    const d = generateSynthetic({ merchants: 4, users: 40 });
    for (const e of d.events) expect(e.merchant).toBe(`m${Number(e.user.slice(1)) % 4}`);
  });

  it('avoids repeats within a user most of the time', () => {
    const seen = new Set<string>();
    let repeats = 0;
    const v = views(data.events);
    for (const e of v) {
      const key = `${e.user}/${e.item}`;
      if (seen.has(key)) repeats++;
      seen.add(key);
    }
    expect(repeats / v.length).toBeLessThan(0.05);
  });

  it('describes itself in one line', () => {
    expect(data.describe).not.toContain('\n');
    expect(data.describe).toContain('2000 users');
    expect(data.describe).toContain(`${data.events.length} events`);
  });
});
