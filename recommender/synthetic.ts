/**
 * Synthetic e-commerce behaviour with structure a sequence model can learn.
 * Browser-safe: no Node imports.
 *
 * `generateSynthetic(params)` takes string or number values (e.g. from a
 * CLI `--data synthetic:users=500,merchants=3`) and rejects unknown keys.
 *
 * | key          | default | meaning |
 * |--------------|---------|---------|
 * | `seed`       | 1       | uint32 seed; same parameters + seed = same data |
 * | `users`      | 2000    | number of users (`u0`..) |
 * | `items`      | 1000    | catalog size (`i0`..), must be >= `categories` |
 * | `categories` | 20      | categories (`c0`..) of roughly equal size |
 * | `length`     | 30      | mean interactions per user; each user has 5 + Geometric(mean `length`-5), so at least 5 |
 * | `zipf`       | 1.0     | popularity exponent within a category: weight of rank r is 1/(r+1)^zipf (0 = uniform) |
 * | `tastes`     | 3       | taste categories per user (capped at `categories`) |
 * | `drift`      | 0.05    | probability per step that one taste is swapped for another category |
 * | `complement` | 0.5     | probability that an interaction is a complement of the previous item |
 * | `merchants`  | 1       | merchants (`m0`..); users are assigned round-robin (user u → merchant u mod K) |
 * | `alpha`      | 0.5     | Dirichlet concentration of each merchant's category mix (merchants > 1); small = specialised shops |
 * | `cart`       | 0.3     | P(view → cart) |
 * | `purchase`   | 0.5     | P(cart → purchase) |
 * | `days`       | 90      | time span of the data in days, starting at Unix time 1_700_000_000 |
 *
 * The world: items are dealt to categories by a random permutation; within a
 * category, popularity is Zipf over the dealt order. Every category has a fixed
 * random "partner" category, and every item has 1–3 complements (phone → case),
 * each drawn with probability 0.8 from the partner category and otherwise from
 * any category, weighted by popularity. Every merchant has a category mix
 * (Dirichlet(alpha) when merchants > 1, uniform otherwise); every user draws
 * `tastes` distinct categories from their merchant's mix and, with probability
 * `drift` per step, swaps one for a new draw. At each step, with probability
 * `complement` the user picks a (uniform) complement of the previous item, else a
 * taste category (uniform) and then an item by popularity; an already-seen item
 * is resampled up to 8 times and then accepted.
 *
 * Each interaction emits a `view`, then with probability `cart` a `cart` of the
 * same item a few seconds later, then with probability `purchase` a `purchase`.
 * Timestamps (integer seconds) strictly increase within a user; every user is
 * active over a random window of 20–100% of `days`. Events are returned grouped
 * by user (users in id order), each user's events in time order. `merchant` is
 * set on every event when merchants > 1 and omitted otherwise.
 *
 * With the defaults: about 60k interactions (≈30 per user, min 5), ≈60k views,
 * ≈18k carts, ≈9k purchases, so ≈87k events.
 */
import type { BehaviorEvent, EventType, ItemMeta } from './types.ts';
import { Rng, cumulative, sampleCumulative } from './random.ts';

export interface SyntheticParams {
  seed: number;
  users: number;
  items: number;
  categories: number;
  length: number;
  zipf: number;
  tastes: number;
  drift: number;
  complement: number;
  merchants: number;
  alpha: number;
  cart: number;
  purchase: number;
  days: number;
}

interface ParamSpec {
  def: number;
  integer: boolean;
  min: number;
  /** When true, the value must be strictly greater than min. */
  minExclusive?: boolean;
  max?: number;
}

/** Defaults and valid ranges of the synthetic parameters (see the table above). */
export const SYNTHETIC_PARAM_SPECS: Readonly<Record<keyof SyntheticParams, ParamSpec>> = {
  seed: { def: 1, integer: true, min: 0, max: 0xffffffff },
  users: { def: 2000, integer: true, min: 1 },
  items: { def: 1000, integer: true, min: 1 },
  categories: { def: 20, integer: true, min: 1 },
  length: { def: 30, integer: false, min: 5 },
  zipf: { def: 1.0, integer: false, min: 0 },
  tastes: { def: 3, integer: true, min: 1 },
  drift: { def: 0.05, integer: false, min: 0, max: 1 },
  complement: { def: 0.5, integer: false, min: 0, max: 1 },
  merchants: { def: 1, integer: true, min: 1 },
  alpha: { def: 0.5, integer: false, min: 0, minExclusive: true },
  cart: { def: 0.3, integer: false, min: 0, max: 1 },
  purchase: { def: 0.5, integer: false, min: 0, max: 1 },
  days: { def: 90, integer: false, min: 0, minExclusive: true },
};

const PARAM_KEYS = Object.keys(SYNTHETIC_PARAM_SPECS) as Array<keyof SyntheticParams>;

/** Unix time (seconds) of the start of the synthetic time span. */
export const SYNTHETIC_START_TS = 1_700_000_000;
const PARTNER_SHARE = 0.8;
const RESAMPLE_TRIES = 8;

function parseOne(key: keyof SyntheticParams, raw: string | number): number {
  const spec = SYNTHETIC_PARAM_SPECS[key];
  const text = typeof raw === 'string' ? raw.trim() : String(raw);
  const v = typeof raw === 'number' ? raw : text === '' ? Number.NaN : Number(text);
  const where = `synthetic parameter '${key}'`;
  if (!Number.isFinite(v)) throw new Error(`${where} must be a number, got '${text}'`);
  if (spec.integer && !Number.isInteger(v)) throw new Error(`${where} must be an integer, got ${text}`);
  if (spec.minExclusive ? v <= spec.min : v < spec.min) {
    throw new Error(`${where} must be ${spec.minExclusive ? '>' : '>='} ${spec.min}, got ${text}`);
  }
  if (spec.max !== undefined && v > spec.max) throw new Error(`${where} must be <= ${spec.max}, got ${text}`);
  return v;
}

/** Parses and validates parameters; missing keys take their defaults. */
export function parseSyntheticParams(raw: Record<string, string | number> = {}): SyntheticParams {
  const unknown = Object.keys(raw).filter((k) => !(PARAM_KEYS as string[]).includes(k));
  if (unknown.length > 0) {
    throw new Error(`unknown synthetic parameter(s) ${unknown.join(', ')}; valid keys: ${PARAM_KEYS.join(', ')}`);
  }
  const out = {} as SyntheticParams;
  for (const key of PARAM_KEYS) {
    out[key] = key in raw ? parseOne(key, raw[key]) : SYNTHETIC_PARAM_SPECS[key].def;
  }
  if (out.items < out.categories) {
    throw new Error(`synthetic parameter 'items' (${out.items}) must be >= 'categories' (${out.categories})`);
  }
  return out;
}

/** The fixed part of the synthetic world: catalog, popularity, complements, merchant mixes. */
export interface SyntheticWorld {
  numItems: number;
  numCategories: number;
  itemCategory: Int32Array;
  /** Items of each category, most popular first. */
  categoryItems: Int32Array[];
  /** Cumulative Zipf weights aligned with categoryItems. */
  categoryCum: Float64Array[];
  /** partner[c]: the category most complements of c's items come from. */
  partner: Int32Array;
  /** Complements of item i are complements[complementOffsets[i] .. complementOffsets[i+1]). */
  complementOffsets: Int32Array;
  complements: Int32Array;
  /** Per merchant, cumulative category weights. */
  merchantCum: Float64Array[];
  price: Float64Array;
}

export function complementsOf(world: SyntheticWorld, item: number): Int32Array {
  return world.complements.subarray(world.complementOffsets[item], world.complementOffsets[item + 1]);
}

function dealCategories(p: SyntheticParams, rng: Rng): { itemCategory: Int32Array; categoryItems: Int32Array[] } {
  const perm = rng.shuffle(Int32Array.from({ length: p.items }, (_, i) => i));
  const itemCategory = new Int32Array(p.items);
  const lists: number[][] = Array.from({ length: p.categories }, () => []);
  perm.forEach((item, j) => {
    itemCategory[item] = j % p.categories;
    lists[j % p.categories].push(item);
  });
  return { itemCategory, categoryItems: lists.map((l) => Int32Array.from(l)) };
}

function zipfCumulative(n: number, exponent: number): Float64Array {
  return cumulative(Array.from({ length: n }, (_, r) => 1 / Math.pow(r + 1, exponent)));
}

function drawPartners(numCategories: number, rng: Rng): Int32Array {
  const partner = new Int32Array(numCategories);
  if (numCategories === 1) return partner;
  for (let c = 0; c < numCategories; c++) partner[c] = (c + 1 + rng.int(numCategories - 1)) % numCategories;
  return partner;
}

function popularItem(world: Pick<SyntheticWorld, 'categoryItems' | 'categoryCum'>, c: number, rng: Rng): number {
  return world.categoryItems[c][sampleCumulative(world.categoryCum[c], rng.next())];
}

function drawComplements(
  world: Pick<SyntheticWorld, 'categoryItems' | 'categoryCum' | 'itemCategory' | 'partner'>,
  numItems: number,
  rng: Rng,
): { complementOffsets: Int32Array; complements: Int32Array } {
  const offsets = new Int32Array(numItems + 1);
  const flat: number[] = [];
  const numCategories = world.partner.length;
  for (let i = 0; i < numItems; i++) {
    const want = 1 + rng.int(3);
    const mine: number[] = [];
    for (let tries = 0; mine.length < want && tries < 4 * want; tries++) {
      const own = world.partner[world.itemCategory[i]];
      const c = rng.next() < PARTNER_SHARE ? own : rng.int(numCategories);
      const cand = popularItem(world, c, rng);
      if (cand !== i && !mine.includes(cand)) mine.push(cand);
    }
    if (mine.length === 0) mine.push((i + 1) % numItems); // only when the catalog has a single category of 1 item
    flat.push(...mine);
    offsets[i + 1] = flat.length;
  }
  return { complementOffsets: offsets, complements: Int32Array.from(flat) };
}

function drawMerchantMixes(p: SyntheticParams, rng: Rng): Float64Array[] {
  const uniform = new Array<number>(p.categories).fill(1);
  if (p.merchants === 1) return [cumulative(uniform)];
  const alpha = new Array<number>(p.categories).fill(p.alpha);
  return Array.from({ length: p.merchants }, () => cumulative(rng.dirichlet(alpha)));
}

function drawPrices(p: SyntheticParams, itemCategory: Int32Array, rng: Rng): Float64Array {
  const base = Array.from({ length: p.categories }, () => Math.exp(3 + rng.normal()));
  return Float64Array.from(itemCategory, (c) => Math.max(0.5, Math.round(base[c] * Math.exp(0.4 * rng.normal()) * 100) / 100));
}

/** Builds the catalog side of the world; depends only on params (and params.seed). */
export function buildWorld(p: SyntheticParams): SyntheticWorld {
  const rng = new Rng(p.seed).fork('world');
  const { itemCategory, categoryItems } = dealCategories(p, rng);
  const categoryCum = categoryItems.map((l) => zipfCumulative(l.length, p.zipf));
  const partner = drawPartners(p.categories, rng);
  const { complementOffsets, complements } = drawComplements(
    { categoryItems, categoryCum, itemCategory, partner },
    p.items,
    rng,
  );
  const merchantCum = drawMerchantMixes(p, rng);
  const price = drawPrices(p, itemCategory, rng);
  return {
    numItems: p.items,
    numCategories: p.categories,
    itemCategory,
    categoryItems,
    categoryCum,
    partner,
    complementOffsets,
    complements,
    merchantCum,
    price,
  };
}

function interactionCount(mean: number, rng: Rng): number {
  const extraMean = mean - 5;
  if (extraMean <= 0) return 5;
  // Geometric on {0, 1, ...} with mean extraMean: success probability 1/(1+extraMean).
  const q = extraMean / (1 + extraMean);
  return 5 + Math.floor(Math.log(1 - rng.next()) / Math.log(q));
}

/** A category drawn from the mix that is not in `taken` (uniform fallback); -1 if none is left. */
function drawNewCategory(mix: Float64Array, taken: number[], rng: Rng): number {
  for (let t = 0; t < 20; t++) {
    const c = sampleCumulative(mix, rng.next());
    if (!taken.includes(c)) return c;
  }
  const free: number[] = [];
  for (let c = 0; c < mix.length; c++) if (!taken.includes(c)) free.push(c);
  return free.length === 0 ? -1 : free[rng.int(free.length)];
}

function drawTastes(mix: Float64Array, count: number, rng: Rng): number[] {
  const tastes: number[] = [];
  while (tastes.length < count) tastes.push(drawNewCategory(mix, tastes, rng));
  return tastes;
}

function maybeDrift(tastes: number[], mix: Float64Array, drift: number, rng: Rng): void {
  if (drift === 0 || rng.next() >= drift) return;
  const slot = rng.int(tastes.length);
  const c = drawNewCategory(mix, tastes, rng);
  if (c >= 0) tastes[slot] = c;
}

interface UserState {
  rng: Rng;
  tastes: number[];
  prev: number;
  /** seen[i] === stamp when the current user has interacted with item i. */
  seen: Int32Array;
  stamp: number;
}

function candidateItem(world: SyntheticWorld, p: SyntheticParams, s: UserState): number {
  if (s.prev >= 0 && p.complement > 0 && s.rng.next() < p.complement) {
    const comps = complementsOf(world, s.prev);
    return comps[s.rng.int(comps.length)];
  }
  return popularItem(world, s.tastes[s.rng.int(s.tastes.length)], s.rng);
}

function nextItem(world: SyntheticWorld, p: SyntheticParams, s: UserState): number {
  let item = candidateItem(world, p, s);
  for (let t = 1; t < RESAMPLE_TRIES && s.seen[item] === s.stamp; t++) item = candidateItem(world, p, s);
  s.seen[item] = s.stamp;
  s.prev = item;
  return item;
}

/** Start times of n interactions, in seconds, spread over a random window of the span. */
function interactionTimes(n: number, days: number, rng: Rng): Float64Array {
  const span = days * 86400;
  const window = span * (0.2 + 0.8 * rng.next());
  const start = SYNTHETIC_START_TS + rng.next() * (span - window);
  const gaps = Float64Array.from({ length: n + 1 }, () => rng.exponential());
  const scale = window / gaps.reduce((a, b) => a + b, 0);
  const times = new Float64Array(n);
  let t = start;
  for (let k = 0; k < n; k++) {
    t += gaps[k] * scale;
    times[k] = t;
  }
  return times;
}

function generateUser(u: number, world: SyntheticWorld, p: SyntheticParams, seen: Int32Array, out: BehaviorEvent[]): void {
  const rng = new Rng(p.seed).fork(`user:${u}`);
  const merchantIndex = u % p.merchants;
  const mix = world.merchantCum[merchantIndex];
  const user = `u${u}`;
  const merchant = p.merchants > 1 ? `m${merchantIndex}` : undefined;
  const n = interactionCount(p.length, rng);
  const times = interactionTimes(n, p.days, rng);
  const state: UserState = { rng, tastes: drawTastes(mix, Math.min(p.tastes, p.categories), rng), prev: -1, seen, stamp: u + 1 };
  let last = -Infinity;
  const emit = (itemIndex: number, type: EventType, ts: number): void => {
    last = ts;
    const e: BehaviorEvent = { user, item: `i${itemIndex}`, type, ts };
    if (merchant !== undefined) e.merchant = merchant;
    out.push(e);
  };
  for (let k = 0; k < n; k++) {
    if (k > 0) maybeDrift(state.tastes, mix, p.drift, rng);
    const item = nextItem(world, p, state);
    emit(item, 'view', Math.max(Math.floor(times[k]), last + 1));
    if (rng.next() >= p.cart) continue;
    emit(item, 'cart', last + 1 + rng.int(120));
    if (rng.next() < p.purchase) emit(item, 'purchase', last + 1 + rng.int(600));
  }
}

function itemMetadata(world: SyntheticWorld): Map<string, ItemMeta> {
  const items = new Map<string, ItemMeta>();
  for (let i = 0; i < world.numItems; i++) {
    items.set(`i${i}`, { category: `c${world.itemCategory[i]}`, price: world.price[i] });
  }
  return items;
}

function describeData(p: SyntheticParams, events: BehaviorEvent[]): string {
  const counts: Record<string, number> = { view: 0, cart: 0, purchase: 0 };
  for (const e of events) counts[e.type] = (counts[e.type] ?? 0) + 1;
  const perUser = (counts.view / p.users).toFixed(1);
  return (
    `synthetic seed=${p.seed}: ${p.users} users, ${p.items} items in ${p.categories} categories, ` +
    `${p.merchants} merchant${p.merchants === 1 ? '' : `s (alpha=${p.alpha})`}; ` +
    `${events.length} events (${counts.view} views = ${perUser}/user, ${counts.cart} carts, ${counts.purchase} purchases) ` +
    `over ${p.days} days; zipf=${p.zipf}, tastes=${p.tastes}, drift=${p.drift}, complement=${p.complement}`
  );
}

export interface SyntheticData {
  events: BehaviorEvent[];
  items: Map<string, ItemMeta>;
  describe: string;
  params: SyntheticParams;
}

/** Generates synthetic behaviour events; see the top of this file for the parameters. */
export function generateSynthetic(raw: Record<string, string | number> = {}): SyntheticData {
  const params = parseSyntheticParams(raw);
  const world = buildWorld(params);
  const events: BehaviorEvent[] = [];
  const seen = new Int32Array(params.items);
  for (let u = 0; u < params.users; u++) generateUser(u, world, params, seen, events);
  return { events, items: itemMetadata(world), describe: describeData(params, events), params };
}
