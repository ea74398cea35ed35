import { beforeAll, describe, expect, it } from 'vitest';
import type { Dataset, UserSequence } from '../../recommender/index.ts';
import { loadDataset } from '../../recommender/node/index.ts';
import {
  categorySkew,
  formatPartition,
  parsePartition,
  partitionUsers,
  type Partition,
  type PartitionSpec,
} from '../../simulations/partition.ts';
import { SimulationConfigError } from '../../simulations/config.ts';

/** A user sequence with the given catalog indices (types and times are irrelevant here). */
function seq(user: string, items: number[]): UserSequence {
  return {
    user,
    items: Int32Array.from(items),
    types: new Uint8Array(items.length),
    ts: Float64Array.from(items, (_, i) => i),
  };
}

/** Category lookup from a plain table; indices missing from it have no category. */
const categories =
  (table: (string | undefined)[]) =>
  (item: number): string | undefined =>
    table[item];

/** n users with one item each (item 0, category 'a'). */
const plainUsers = (n: number): UserSequence[] => Array.from({ length: n }, (_, u) => seq(`u${u}`, [0]));

/** Client index of every user, as an array. */
const assignment = (p: Partition, users: number): number[] => Array.from({ length: users }, (_, u) => p.clientOfUser(u));

/** Checks the structural invariants every partition must satisfy; returns the client sizes. */
function expectValidPartition(p: Partition, users: number): number[] {
  const seen = new Array<number>(users).fill(0);
  const sizes = p.clients.map((id, c) => {
    const members = p.usersOf(id);
    expect([...members]).toEqual([...members].sort((x, y) => x - y));
    for (const u of members) {
      seen[u]++;
      expect(p.clientOfUser(u)).toBe(c);
    }
    return members.length;
  });
  expect(seen.every((n) => n === 1)).toBe(true);
  return sizes;
}

describe('parsePartition / formatPartition', () => {
  it('accepts every form, with alpha defaulting to 0.3', () => {
    expect(parsePartition('per-user')).toEqual({ kind: 'per-user' });
    expect(parsePartition('iid:10')).toEqual({ kind: 'iid', clients: 10 });
    expect(parsePartition('iid:1')).toEqual({ kind: 'iid', clients: 1 });
    expect(parsePartition('merchants:5')).toEqual({ kind: 'merchants', clients: 5, alpha: 0.3 });
    expect(parsePartition('merchants:5:alpha=0.1')).toEqual({ kind: 'merchants', clients: 5, alpha: 0.1 });
    expect(parsePartition('merchants:2:alpha=100')).toEqual({ kind: 'merchants', clients: 2, alpha: 100 });
    expect(parsePartition('merchants:3:alpha=.5')).toEqual({ kind: 'merchants', clients: 3, alpha: 0.5 });
    expect(parsePartition('merchants:3:alpha=1e-3')).toEqual({ kind: 'merchants', clients: 3, alpha: 0.001 });
    expect(parsePartition('  iid:4 ')).toEqual({ kind: 'iid', clients: 4 });
  });

  it.each([
    ['merchants', /merchants needs a client count/],
    ['merchants:0', /client count K must be an integer >= 1, got "0"/],
    ['iid:x', /client count K must be an integer >= 1, got "x"/],
    ['iid:2.5', /client count K must be an integer >= 1, got "2.5"/],
    ['iid:-3', /client count K must be an integer >= 1, got "-3"/],
    ['iid', /iid needs a client count/],
    ['iid:2:3', /iid takes only a client count, got extra "3"/],
    ['merchants:5:alpha=-1', /alpha must be a number > 0, got "-1"/],
    ['merchants:5:alpha=0', /alpha must be a number > 0, got "0"/],
    ['merchants:5:alpha=', /alpha must be a number > 0, got ""/],
    ['merchants:5:alpha=Infinity', /alpha must be a number > 0, got "Infinity"/],
    ['merchants:5:beta=1', /expected alpha=A after the client count, got "beta=1"/],
    ['merchants:5:alpha=1:x', /got extra "x"/],
    ['per-user:3', /per-user takes no parameters, got "3"/],
    ['foo', /unknown kind "foo"/],
    ['', /missing kind/],
  ])('rejects %j naming the problem', (text, problem) => {
    expect(() => parsePartition(text)).toThrow(problem);
    expect(() => parsePartition(text)).toThrow(`bad partition "${text}"`);
    expect(() => parsePartition(text)).toThrow(SimulationConfigError);
    expect(() => parsePartition(text)).toThrow(/accepted forms: per-user, iid:K, merchants:K, merchants:K:alpha=A/);
  });

  it('formats canonically and round-trips', () => {
    for (const text of ['per-user', 'iid:7', 'merchants:5:alpha=0.3', 'merchants:12:alpha=1e-7', 'merchants:2:alpha=100']) {
      expect(formatPartition(parsePartition(text))).toBe(text);
    }
    expect(formatPartition(parsePartition('merchants:5'))).toBe('merchants:5:alpha=0.3');
    expect(formatPartition(parsePartition('merchants:5:alpha=.25'))).toBe('merchants:5:alpha=0.25');
    const specs: PartitionSpec[] = [
      { kind: 'per-user' },
      { kind: 'iid', clients: 3 },
      { kind: 'merchants', clients: 9, alpha: 0.123456789 },
      { kind: 'merchants', clients: 1, alpha: 2.5e-12 },
    ];
    for (const spec of specs) expect(parsePartition(formatPartition(spec))).toEqual(spec);
  });
});

describe('partitionUsers: per-user', () => {
  it('gives client i exactly user i', () => {
    const users = plainUsers(7);
    const p = partitionUsers(users, { kind: 'per-user' }, () => 'a', 1);
    expect(p.spec).toEqual({ kind: 'per-user' });
    expect(p.clients).toEqual(['c00000', 'c00001', 'c00002', 'c00003', 'c00004', 'c00005', 'c00006']);
    p.clients.forEach((id, i) => {
      expect(p.usersOf(id)).toEqual([i]);
      expect(p.clientOfUser(i)).toBe(i);
    });
    expect(expectValidPartition(p, 7)).toEqual([1, 1, 1, 1, 1, 1, 1]);
  });

  it('rejects unknown client ids and user indices out of range', () => {
    const p = partitionUsers(plainUsers(3), { kind: 'per-user' }, () => 'a', 1);
    expect(() => p.usersOf('c00003')).toThrow(/unknown client id "c00003"/);
    expect(() => p.usersOf('c0')).toThrow(/unknown client id/);
    expect(() => p.clientOfUser(3)).toThrow(/out of range/);
    expect(() => p.clientOfUser(-1)).toThrow(/out of range/);
  });
});

describe('partitionUsers: iid', () => {
  const users = plainUsers(103);
  const spec: PartitionSpec = { kind: 'iid', clients: 10 };

  it('puts every user in exactly one client, sizes differing by at most 1', () => {
    const p = partitionUsers(users, spec, () => 'a', 7);
    expect(p.clients).toHaveLength(10);
    const sizes = expectValidPartition(p, 103);
    // 103 = 10 * 10 + 3: three clients of 11, seven of 10.
    expect([...sizes].sort((a, b) => a - b)).toEqual([10, 10, 10, 10, 10, 10, 10, 11, 11, 11]);
  });

  it('is deterministic for a seed and differs for another seed', () => {
    const a = assignment(partitionUsers(users, spec, () => 'a', 7), 103);
    expect(assignment(partitionUsers(users, spec, () => 'a', 7), 103)).toEqual(a);
    expect(assignment(partitionUsers(users, spec, () => 'a', 8), 103)).not.toEqual(a);
  });

  it('handles K = users and K = 1, and rejects K > users', () => {
    expect(expectValidPartition(partitionUsers(plainUsers(5), { kind: 'iid', clients: 5 }, () => 'a', 1), 5)).toEqual([1, 1, 1, 1, 1]);
    expect(expectValidPartition(partitionUsers(plainUsers(5), { kind: 'iid', clients: 1 }, () => 'a', 1), 5)).toEqual([5]);
    expect(() => partitionUsers(plainUsers(5), { kind: 'iid', clients: 8 }, () => 'a', 1)).toThrow(/8 clients but only 5 users/);
  });

  it('pads client ids to at least 5 digits so they sort like numbers', () => {
    const p = partitionUsers(plainUsers(12), { kind: 'iid', clients: 12 }, () => 'a', 1);
    expect(p.clients[11]).toBe('c00011');
    expect([...p.clients].sort()).toEqual(p.clients);
  });

  it('rejects hand-built specs that the parser would reject', () => {
    expect(() => partitionUsers(plainUsers(5), { kind: 'iid', clients: 0 }, () => 'a', 1)).toThrow(/client count/);
    expect(() => partitionUsers(plainUsers(5), { kind: 'iid', clients: 2.5 }, () => 'a', 1)).toThrow(/client count/);
    expect(() => partitionUsers(plainUsers(5), { kind: 'merchants', clients: 2, alpha: 0 }, () => 'a', 1)).toThrow(/alpha/);
  });
});

describe('partitionUsers: merchants', () => {
  // Items 0..3 in categories a, b, c, d; item 4 has none.
  const cat = categories(['a', 'b', 'c', 'd']);
  const mixed = Array.from({ length: 200 }, (_, u) => seq(`u${u}`, [u % 4, (u * 7) % 5, u % 3]));

  it('puts every user in exactly one client with no client empty, deterministically per seed', () => {
    const spec: PartitionSpec = { kind: 'merchants', clients: 6, alpha: 0.3 };
    const p = partitionUsers(mixed, spec, cat, 3);
    expect(p.spec).toEqual(spec);
    expect(p.clients).toHaveLength(6);
    expect(expectValidPartition(p, 200).every((n) => n > 0)).toBe(true);
    const a = assignment(p, 200);
    expect(assignment(partitionUsers(mixed, spec, cat, 3), 200)).toEqual(a);
    expect(assignment(partitionUsers(mixed, spec, cat, 4), 200)).not.toEqual(a);
  });

  it('fills empty merchants: with K = users every merchant ends with exactly one user', () => {
    // All users share dominant category a; with tiny alpha most merchants put ~0 weight on a,
    // so the raw draw leaves merchants empty and the fix must spread users one per merchant.
    const users = Array.from({ length: 10 }, (_, u) => seq(`u${u}`, u === 0 ? [0, 0, 1] : [0]));
    for (const seed of [1, 2, 3, 4, 5]) {
      const p = partitionUsers(users, { kind: 'merchants', clients: 10, alpha: 0.01 }, cat, seed);
      expect(expectValidPartition(p, 10)).toEqual(new Array(10).fill(1));
    }
    expect(() => partitionUsers(users, { kind: 'merchants', clients: 11, alpha: 1 }, cat, 1)).toThrow(/11 clients but only 10 users/);
  });

  it('depends on a user only through the dominant category (ties to the lowest category index)', () => {
    // Category index = order of the lowest item carrying it: item 0 is 'zeta' (index 0), item 1 is 'alpha' (index 1).
    const named = categories(['zeta', 'alpha', undefined]);
    // Even users vary; odd users are fixed, alternating pure 'alpha' and pure 'zeta' so both categories always occur.
    const build = (even: number[]) =>
      Array.from({ length: 60 }, (_, u) => seq(`u${u}`, u % 2 === 0 ? even : u % 4 === 1 ? [1] : [0]));
    const spec: PartitionSpec = { kind: 'merchants', clients: 4, alpha: 0.5 };
    const run = (even: number[]) => assignment(partitionUsers(build(even), spec, named, 11), 60);
    const pureZeta = run([0]);
    // A 1:1 tie between zeta and alpha goes to zeta, the lower index, in either item order.
    expect(run([0, 1])).toEqual(pureZeta);
    expect(run([1, 0])).toEqual(pureZeta);
    // A majority decides: 2 x alpha beats 1 x zeta.
    expect(run([1, 0, 1])).toEqual(run([1]));
    expect(run([1])).not.toEqual(pureZeta);
    // Uncategorised items (item 2) count as '(none)'; users of mostly such items match users without items.
    expect(run([2, 2])).toEqual(run([]));
    expect(run([2, 2, 0])).toEqual(run([]));
    expect(run([2, 0, 0])).not.toEqual(run([]));
  });

  describe('on synthetic data', () => {
    let dataset: Dataset;
    let categoryOf: (item: number) => string | undefined;
    const users = 2000;
    const K = 20;
    const seeds = [1, 2, 3];
    const skew = (spec: PartitionSpec, seed: number) =>
      categorySkew(dataset.sequences, partitionUsers(dataset.sequences, spec, categoryOf, seed), categoryOf);
    const meanSkew = (spec: PartitionSpec) => seeds.reduce((s, seed) => s + skew(spec, seed), 0) / seeds.length;

    beforeAll(async () => {
      ({ dataset } = await loadDataset(`synthetic:users=${users},merchants=1`, { fixedVocabulary: true }));
      categoryOf = (item) => dataset.catalog.meta(item).category;
    });

    it('covers every user with no empty merchant', () => {
      expect(dataset.sequences).toHaveLength(users);
      const p = partitionUsers(dataset.sequences, { kind: 'merchants', clients: K, alpha: 0.1 }, categoryOf, 1);
      expect(expectValidPartition(p, users).every((n) => n > 0)).toBe(true);
    });

    it('is clearly non-IID for small alpha and close to IID for large alpha', () => {
      const iid = meanSkew({ kind: 'iid', clients: K });
      const sharp = meanSkew({ kind: 'merchants', clients: K, alpha: 0.1 });
      const flat = meanSkew({ kind: 'merchants', clients: K, alpha: 100 });
      expect(iid).toBeGreaterThan(0);
      expect(sharp).toBeGreaterThan(2 * iid);
      expect(flat).toBeLessThan(sharp);
      expect(Math.abs(flat - iid)).toBeLessThan(Math.abs(sharp - iid) / 2);
    });
  });
});

describe('categorySkew', () => {
  const cat = categories(['a', 'b', 'c', 'd']);

  it('is 0 when every client has the overall mix (hand-built partition)', () => {
    // Client 0: users 0, 1 -> a, b, a, b; client 1: users 2, 3 -> a, a, b, b. Both 50/50, like the total.
    const users = [seq('u0', [0, 1]), seq('u1', [0, 1]), seq('u2', [0, 0]), seq('u3', [1, 1])];
    const members = [[0, 1], [2, 3]];
    const handBuilt: Partition = {
      spec: { kind: 'iid', clients: 2 },
      clients: ['c00000', 'c00001'],
      usersOf: (id) => members[Number(id.slice(1))],
      clientOfUser: (u) => (u < 2 ? 0 : 1),
    };
    expect(categorySkew(users, handBuilt, cat)).toBe(0);
  });

  it('is 0.5 for two equal clients with disjoint categories', () => {
    // Overall 50/50; each client is 100/0, so TV = (|1 - 0.5| + |0 - 0.5|) / 2 = 0.5 for both.
    const users = [seq('u0', [0, 0, 0]), seq('u1', [1, 1, 1])];
    expect(categorySkew(users, partitionUsers(users, { kind: 'per-user' }, cat, 1), cat)).toBeCloseTo(0.5, 12);
  });

  it('is 1 - 1/K for K equal clients with disjoint categories', () => {
    // Each client: TV = (|1 - 1/4| + 3 * 1/4) / 2 = 0.75.
    const users = [0, 1, 2, 3].map((c) => seq(`u${c}`, [c, c]));
    expect(categorySkew(users, partitionUsers(users, { kind: 'per-user' }, cat, 1), cat)).toBeCloseTo(0.75, 12);
  });

  it('averages clients without weighting by size', () => {
    // Overall 3/4 a, 1/4 b. Client [a,a,a]: TV = (0.25 + 0.25) / 2 = 0.25; client [b]: (0.75 + 0.75) / 2 = 0.75. Mean 0.5.
    const users = [seq('u0', [0, 0, 0]), seq('u1', [1])];
    expect(categorySkew(users, partitionUsers(users, { kind: 'per-user' }, cat, 1), cat)).toBeCloseTo(0.5, 12);
  });

  it("counts uncategorised items as a '(none)' category and leaves out clients without items", () => {
    // Item 4 has no category: [none, none] vs [a, a] is two disjoint equal clients -> 0.5; the empty user is skipped.
    const users = [seq('u0', [4, 4]), seq('u1', [0, 0]), seq('u2', [])];
    expect(categorySkew(users, partitionUsers(users, { kind: 'per-user' }, cat, 1), cat)).toBeCloseTo(0.5, 12);
  });
});
