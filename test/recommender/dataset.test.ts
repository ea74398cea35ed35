import { describe, expect, it } from 'vitest';
import { Catalog } from '../../recommender/catalog.ts';
import { buildDataset, datasetFromSequences } from '../../recommender/dataset.ts';
import type { BehaviorEvent, EventType, ItemMeta, UserSequence } from '../../recommender/types.ts';

function ev(user: string, item: string, type: EventType, ts: number, merchant?: string): BehaviorEvent {
  return merchant ? { user, item, type, ts, merchant } : { user, item, type, ts };
}

/** Compact view of a sequence: [user, item ids, type names, ts]. */
function show(catalog: Catalog, s: UserSequence) {
  const names = ['view', 'cart', 'fav', 'purchase', 'rating'];
  return [s.user, Array.from(s.items, (i) => catalog.idOf(i)), Array.from(s.types, (t) => names[t]), Array.from(s.ts)];
}

/** One user per string, items by letter, ts = position, type view. */
function usersFrom(rows: Record<string, string>): BehaviorEvent[] {
  return Object.entries(rows).flatMap(([user, items]) => [...items].map((item, ts) => ev(user, item, 'view', ts)));
}

describe('buildDataset', () => {
  it('sorts by ts (ties in input order) and collapses consecutive same-item events', async () => {
    const ds = await buildDataset([
      ev('u1', 'A', 'view', 10),
      ev('u1', 'B', 'view', 5),
      ev('u1', 'A', 'cart', 10),
      ev('u1', 'A', 'purchase', 12),
      ev('u2', 'C', 'view', 1),
      ev('u1', 'B', 'fav', 20),
    ]);
    // u1 by time: B@5, A@10 view, A@10 cart, A@12 purchase, B@20 -> B, A(purchase, first ts 10), B(fav).
    expect(ds.sequences.map((s) => show(ds.catalog, s))).toEqual([
      ['u1', ['B', 'A', 'B'], ['view', 'purchase', 'fav'], [5, 10, 20]],
      ['u2', ['C'], ['view'], [1]],
    ]);
    expect(ds.catalog.ids).toEqual(['A', 'B', 'C']);
    expect(ds.stats).toEqual({ users: 2, items: 3, interactions: 4, events: 6, droppedItems: 0, droppedUsers: 0, unknownItemEvents: 0 });
  });

  it('merges types by strength view < fav < cart < purchase < rating', async () => {
    const ds = await buildDataset([
      ev('u', 'D', 'cart', 1),
      ev('u', 'D', 'fav', 2),
      ev('u', 'E', 'rating', 3),
      ev('u', 'E', 'purchase', 4),
      ev('u', 'F', 'rating', 5),
      ev('u', 'F', 'rating', 6),
      ev('u', 'G', 'fav', 7),
      ev('u', 'G', 'view', 8),
    ]);
    expect(show(ds.catalog, ds.sequences[0])).toEqual(['u', ['D', 'E', 'F', 'G'], ['cart', 'rating', 'rating', 'fav'], [1, 3, 5, 7]]);
  });

  it('does not merge non-consecutive repeats', async () => {
    const ds = await buildDataset([ev('u', 'A', 'view', 1), ev('u', 'B', 'view', 2), ev('u', 'A', 'view', 3)]);
    expect(show(ds.catalog, ds.sequences[0])[1]).toEqual(['A', 'B', 'A']);
  });

  it('iterates k-core to a fixed point', async () => {
    // Counts: A3 B2 C2 D1. k=2 drops D -> u4 = [C] too short -> C has 1 -> dropped
    // -> u3 = [A] too short -> A has 2. Fixed point: u1, u2 = A B.
    const ds = await buildDataset(usersFrom({ u1: 'AB', u2: 'AB', u3: 'AC', u4: 'CD' }), { kcore: 2 });
    expect(ds.sequences.map((s) => show(ds.catalog, s).slice(0, 2))).toEqual([
      ['u1', ['A', 'B']],
      ['u2', ['A', 'B']],
    ]);
    expect(ds.catalog.ids).toEqual(['A', 'B']);
    expect(ds.stats).toMatchObject({ users: 2, items: 2, interactions: 4, droppedItems: 2, droppedUsers: 2 });
  });

  it('re-collapses repeats made adjacent by dropping an item', async () => {
    // X occurs once -> dropped with k=2; u1 A X A B becomes A A B -> A B (type of the stronger A).
    const events = [ev('u1', 'A', 'view', 1), ev('u1', 'X', 'view', 2), ev('u1', 'A', 'purchase', 3), ev('u1', 'B', 'view', 4)];
    events.push(ev('u2', 'A', 'view', 1), ev('u2', 'B', 'view', 2));
    const ds = await buildDataset(events, { kcore: 2 });
    expect(ds.sequences.map((s) => show(ds.catalog, s))).toEqual([
      ['u1', ['A', 'B'], ['purchase', 'view'], [1, 4]],
      ['u2', ['A', 'B'], ['view', 'view'], [1, 2]],
    ]);
    expect(ds.stats.droppedItems).toBe(1);
  });

  it('minLength drops short users only', async () => {
    const ds = await buildDataset(usersFrom({ u1: 'ABC', u2: 'AB', u3: 'D' }), { minLength: 3 });
    expect(ds.sequences.map((s) => s.user)).toEqual(['u1']);
    expect(ds.catalog.ids).toEqual(['A', 'B', 'C']);
    expect(ds.stats).toMatchObject({ droppedUsers: 2, droppedItems: 1 });
  });

  it('keeps a fixed vocabulary in its order and counts events on unknown items', async () => {
    const items = new Map<string, ItemMeta>([
      ['Z', { category: 'z' }],
      ['A', { category: 'a' }],
      ['B', {}],
    ]);
    const ds = await buildDataset(
      [ev('u1', 'A', 'view', 1), ev('u1', 'Q', 'view', 2), ev('u1', 'B', 'view', 3), ev('u2', 'Q', 'view', 1)],
      { items },
    );
    expect(ds.catalog.ids).toEqual(['Z', 'A', 'B']);
    expect(ds.catalog.categoryIndex(1)).toBe(1);
    expect(ds.sequences.map((s) => [s.user, Array.from(s.items)])).toEqual([['u1', [1, 2]]]);
    expect(ds.stats).toMatchObject({ users: 1, items: 3, interactions: 2, events: 4, unknownItemEvents: 2 });
  });

  it('reads metadata from `meta` after streaming, accepts async input, records the merchant', async () => {
    const meta = new Map<string, ItemMeta>();
    async function* stream() {
      yield ev('u1', 'A', 'view', 1);
      yield ev('u1', 'B', 'view', 2, 'shop2');
      yield ev('u1', 'C', 'view', 3, 'shop1');
      meta.set('B', { category: 'bags' });
    }
    const ds = await buildDataset(stream(), { meta });
    expect(ds.sequences[0].merchant).toBe('shop2');
    expect(ds.catalog.meta(1)).toEqual({ category: 'bags' });
    expect(ds.catalog.numCategories).toBe(1);
  });

  it('rejects events with an unknown type or a non-finite ts', async () => {
    await expect(buildDataset([{ user: 'u', item: 'i', type: 'click' as EventType, ts: 1 }])).rejects.toThrow(/unknown event type "click"/);
    await expect(buildDataset([ev('u', 'i', 'view', Number.NaN)])).rejects.toThrow(/non-finite ts/);
  });

  it('handles many events (growable columns) and an empty stream', async () => {
    const events: BehaviorEvent[] = [];
    for (let i = 0; i < 5000; i++) events.push(ev(`u${i % 100}`, `i${i % 37}`, 'view', 5000 - i));
    const ds = await buildDataset(events);
    expect(ds.stats).toMatchObject({ users: 100, items: 37, interactions: 5000 });
    expect(ds.sequences[0].ts[0]).toBe(5000 - 4900);
    const empty = await buildDataset([]);
    expect(empty.stats).toMatchObject({ users: 0, items: 0, interactions: 0 });
  });
});

describe('datasetFromSequences', () => {
  it('wraps sequences with stats', () => {
    const catalog = Catalog.fromIds(['a', 'b']);
    const s: UserSequence = { user: 'u', items: Int32Array.of(0, 1), types: Uint8Array.of(0, 0), ts: Float64Array.of(1, 2) };
    expect(datasetFromSequences(catalog, [s]).stats).toMatchObject({ users: 1, items: 2, interactions: 2 });
  });
});
