// Splits a data set's users into virtual federated clients for `fedrec simulate`.
// Browser-safe: no Node imports.
//
// Partition specs (text form in parentheses):
// - per-user (`per-user`): one client per user; client i holds user i.
// - iid (`iid:K`): users shuffled with the seed and dealt round-robin into K
//   clients, so sizes differ by at most 1.
// - merchants (`merchants:K[:alpha=A]`, default A = 0.3): K merchants with
//   Dirichlet(A) category mixes; a user joins a merchant with probability
//   proportional to that merchant's weight on the user's dominant category
//   (see partitionUsers). Small A = specialised merchants = strongly non-IID.
//
// Categories: items whose category is undefined or '' fall into one extra bin,
// '(none)', which exists when some item lacks a category or some user has no
// items. Real categories are numbered by the lowest item index carrying them
// (for `i => catalog.meta(i).category` this is the catalog's category order);
// '(none)' comes last.
import { Rng, type UserSequence } from '../recommender/index.ts';
import { SimulationConfigError } from './errors.ts';

export type PartitionSpec =
  | { kind: 'per-user' }
  | { kind: 'merchants'; clients: number; alpha: number }
  | { kind: 'iid'; clients: number };

export interface Partition {
  spec: PartitionSpec;
  /** Client ids in order: 'c00000', 'c00001', ... (zero-padded to at least 5 digits, so ids sort like numbers). */
  clients: string[];
  /** Indices into the `sequences` array given to partitionUsers, per client, ascending; throws on an unknown client id. */
  usersOf(clientId: string): readonly number[];
  /** Client index of a user index. */
  clientOfUser(userIndex: number): number;
}

const DEFAULT_ALPHA = 0.3;
const ACCEPTED_FORMS =
  'accepted forms: per-user, iid:K, merchants:K, merchants:K:alpha=A (K an integer >= 1, A a number > 0, default alpha 0.3)';
const COUNT_PATTERN = /^\d+$/;
const NUMBER_PATTERN = /^(?:\d+(?:\.\d*)?|\.\d+)(?:e[+-]?\d+)?$/i;

function partitionError(text: string, problem: string): Error {
  return new SimulationConfigError(`bad partition "${text}": ${problem}; ${ACCEPTED_FORMS}`);
}

function parseClientCount(text: string, part: string): number {
  const k = Number(part);
  if (!COUNT_PATTERN.test(part) || !Number.isSafeInteger(k) || k < 1) {
    throw partitionError(text, `client count K must be an integer >= 1, got "${part}"`);
  }
  return k;
}

function parseAlpha(text: string, part: string): number {
  if (!part.startsWith('alpha=')) throw partitionError(text, `expected alpha=A after the client count, got "${part}"`);
  const value = part.slice('alpha='.length);
  const alpha = Number(value);
  if (!NUMBER_PATTERN.test(value) || !(alpha > 0) || !Number.isFinite(alpha)) {
    throw partitionError(text, `alpha must be a number > 0, got "${value}"`);
  }
  return alpha;
}

/** Parses 'per-user' | 'merchants:K' | 'merchants:K:alpha=A' | 'iid:K' (K integer >= 1, A > 0, default alpha 0.3). Throws an Error whose message names the bad part and shows the accepted forms. */
export function parsePartition(text: string): PartitionSpec {
  const [kind, ...params] = text.trim().split(':');
  switch (kind) {
    case 'per-user':
      if (params.length > 0) throw partitionError(text, `per-user takes no parameters, got "${params.join(':')}"`);
      return { kind: 'per-user' };
    case 'iid':
      if (params.length === 0) throw partitionError(text, 'iid needs a client count, as in iid:10');
      if (params.length > 1) throw partitionError(text, `iid takes only a client count, got extra "${params.slice(1).join(':')}"`);
      return { kind: 'iid', clients: parseClientCount(text, params[0]) };
    case 'merchants': {
      if (params.length === 0) throw partitionError(text, 'merchants needs a client count, as in merchants:5');
      if (params.length > 2) throw partitionError(text, `merchants takes a client count and alpha only, got extra "${params.slice(2).join(':')}"`);
      const clients = parseClientCount(text, params[0]);
      const alpha = params.length === 2 ? parseAlpha(text, params[1]) : DEFAULT_ALPHA;
      return { kind: 'merchants', clients, alpha };
    }
    default:
      throw partitionError(text, kind ? `unknown kind "${kind}"` : 'missing kind');
  }
}

/** Inverse of parsePartition, in canonical form (alpha always written, e.g. 'merchants:5:alpha=0.3'). */
export function formatPartition(spec: PartitionSpec): string {
  switch (spec.kind) {
    case 'per-user':
      return 'per-user';
    case 'iid':
      return `iid:${spec.clients}`;
    case 'merchants':
      return `merchants:${spec.clients}:alpha=${spec.alpha}`;
  }
}

/** Rejects hand-built specs that parsePartition would not produce. */
function checkSpec(spec: PartitionSpec): void {
  if (spec.kind === 'per-user') return;
  if (spec.kind !== 'iid' && spec.kind !== 'merchants') throw new SimulationConfigError(`unknown partition kind "${(spec as { kind: unknown }).kind}"; ${ACCEPTED_FORMS}`);
  if (!Number.isSafeInteger(spec.clients) || spec.clients < 1) {
    throw new SimulationConfigError(`partition ${spec.kind}: client count must be an integer >= 1, got ${spec.clients}`);
  }
  if (spec.kind === 'merchants' && !(spec.alpha > 0 && Number.isFinite(spec.alpha))) {
    throw new SimulationConfigError(`partition merchants: alpha must be a number > 0, got ${spec.alpha}`);
  }
}

/** Category bin of every item that occurs in the sequences, and the number of bins. */
interface ItemBins {
  /** Bin of item i (only meaningful for items that occur). */
  binOf: Int32Array;
  bins: number;
}

function itemBins(sequences: readonly UserSequence[], categoryOf: (item: number) => string | undefined): ItemBins {
  let maxItem = -1;
  let someUserEmpty = false;
  for (const s of sequences) {
    if (s.items.length === 0) someUserEmpty = true;
    for (const item of s.items) {
      if (item < 0) throw new Error(`partition: user "${s.user}" has negative item index ${item}`);
      if (item > maxItem) maxItem = item;
    }
  }
  const occurs = new Uint8Array(maxItem + 1);
  for (const s of sequences) for (const item of s.items) occurs[item] = 1;
  // Number categories by their lowest item index; -1 marks '(none)' until the count is known.
  const binOf = new Int32Array(maxItem + 1);
  const codes = new Map<string, number>();
  let someItemUncategorised = false;
  for (let i = 0; i <= maxItem; i++) {
    if (!occurs[i]) continue;
    const name = categoryOf(i);
    if (name === undefined || name === '') {
      binOf[i] = -1;
      someItemUncategorised = true;
      continue;
    }
    let code = codes.get(name);
    if (code === undefined) {
      code = codes.size;
      codes.set(name, code);
    }
    binOf[i] = code;
  }
  const none = codes.size;
  for (let i = 0; i <= maxItem; i++) if (binOf[i] === -1) binOf[i] = none;
  return { binOf, bins: none + (someItemUncategorised || someUserEmpty ? 1 : 0) };
}

function clientIds(count: number): string[] {
  const width = Math.max(5, String(Math.max(count - 1, 0)).length);
  return Array.from({ length: count }, (_, c) => `c${String(c).padStart(width, '0')}`);
}

function makePartition(spec: PartitionSpec, clientOf: Int32Array, count: number): Partition {
  const members: number[][] = Array.from({ length: count }, () => []);
  for (let u = 0; u < clientOf.length; u++) members[clientOf[u]].push(u);
  const frozen = members.map((m) => Object.freeze(m));
  const clients = clientIds(count);
  const indexOf = new Map(clients.map((id, c) => [id, c]));
  return {
    spec: { ...spec },
    clients,
    usersOf(clientId: string): readonly number[] {
      const c = indexOf.get(clientId);
      if (c === undefined) {
        throw new Error(`unknown client id "${clientId}" (this partition has ${count} clients${count > 0 ? `, ${clients[0]}..${clients[count - 1]}` : ''})`);
      }
      return frozen[c];
    },
    clientOfUser(userIndex: number): number {
      if (!Number.isInteger(userIndex) || userIndex < 0 || userIndex >= clientOf.length) {
        throw new RangeError(`user index ${userIndex} out of range 0..${clientOf.length - 1}`);
      }
      return clientOf[userIndex];
    },
  };
}

function tooManyClients(spec: Extract<PartitionSpec, { clients: number }>, users: number): Error {
  return new Error(`partition ${formatPartition(spec)}: ${spec.clients} clients but only ${users} users; every client needs a user`);
}

function iidClients(users: number, clients: number, rng: Rng): Int32Array {
  const order = rng.shuffle(Int32Array.from({ length: users }, (_, u) => u));
  const clientOf = new Int32Array(users);
  // Deal the shuffled users round-robin: the first `users mod K` clients get one extra.
  order.forEach((u, position) => {
    clientOf[u] = position % clients;
  });
  return clientOf;
}

/** Each user's dominant bin: most of their items, ties to the lowest bin; users without items get '(none)' (the last bin). */
function dominantBins(sequences: readonly UserSequence[], { binOf, bins }: ItemBins): Int32Array {
  const counts = new Int32Array(bins);
  return Int32Array.from(sequences, (s) => {
    if (s.items.length === 0) return bins - 1;
    let best = -1;
    for (const item of s.items) {
      const b = binOf[item];
      counts[b]++;
      // Only bin b grew, so the new argmax is either the old best or b.
      if (best < 0 || counts[b] > counts[best] || (counts[b] === counts[best] && b < best)) best = b;
    }
    for (const item of s.items) counts[binOf[item]] = 0;
    return best;
  });
}

/** First index with cum[index] > target (cum non-decreasing, target < cum[last]). */
function searchCumulative(cum: Float64Array, start: number, length: number, target: number): number {
  let lo = 0;
  let hi = length - 1;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (cum[start + mid] > target) hi = mid;
    else lo = mid + 1;
  }
  return lo;
}

function merchantClients(
  sequences: readonly UserSequence[],
  clients: number,
  alpha: number,
  categoryOf: (item: number) => string | undefined,
  rng: Rng,
): Int32Array {
  const bins = itemBins(sequences, categoryOf);
  const dominant = dominantBins(sequences, bins);
  // Only bins that are someone's dominant bin need merchant weights: give them compact columns.
  const column = new Int32Array(bins.bins).fill(-1);
  const usedBins: number[] = [];
  for (const b of dominant) {
    if (column[b] < 0) {
      column[b] = usedBins.length;
      usedBins.push(b);
    }
  }
  // cum[j * clients + k] = sum over merchants 0..k of p_merchant[usedBins[j]].
  const cum = new Float64Array(usedBins.length * clients);
  const concentration = new Array<number>(bins.bins).fill(alpha);
  for (let k = 0; k < clients; k++) {
    const mix = rng.dirichlet(concentration);
    usedBins.forEach((b, j) => {
      cum[j * clients + k] = mix[b];
    });
  }
  for (let j = 0; j < usedBins.length; j++) {
    for (let k = 1; k < clients; k++) cum[j * clients + k] += cum[j * clients + k - 1];
  }
  // A user joins merchant k with probability p_k[dominant] / sum_k p_k[dominant].
  const clientOf = Int32Array.from(dominant, (b) => {
    const start = column[b] * clients;
    const total = cum[start + clients - 1];
    // With tiny alpha every merchant's weight on a bin can underflow to 0: then pick uniformly.
    return total > 0 ? searchCumulative(cum, start, clients, rng.next() * total) : rng.int(clients);
  });
  fillEmptyMerchants(clientOf, clients, rng);
  return clientOf;
}

/**
 * Gives every empty merchant (in index order) one user, drawn uniformly from the
 * currently largest merchant (lowest index on ties). With K <= users the largest
 * merchant then holds at least 2 users, so no merchant becomes empty by a move.
 */
function fillEmptyMerchants(clientOf: Int32Array, clients: number, rng: Rng): void {
  const members: number[][] = Array.from({ length: clients }, () => []);
  clientOf.forEach((c, u) => members[c].push(u));
  for (let k = 0; k < clients; k++) {
    if (members[k].length > 0) continue;
    let largest = 0;
    for (let j = 1; j < clients; j++) if (members[j].length > members[largest].length) largest = j;
    const from = members[largest];
    const pick = rng.int(from.length);
    const user = from[pick];
    // Swap-remove: member order does not matter here, makePartition sorts by user index.
    from[pick] = from[from.length - 1];
    from.pop();
    members[k].push(user);
    clientOf[user] = k;
  }
}

/**
 * Splits users (indices into `sequences`) into clients. Deterministic given the seed.
 *
 * - per-user: one client per user (client i holds user i).
 * - iid: users shuffled with the seed and dealt into K groups whose sizes differ by at most 1.
 * - merchants: draws p_k ~ Dirichlet(alpha) over all category bins (see the top of this file)
 *   for each merchant k, gives each user a dominant bin (the bin of most of their items, ties
 *   to the lowest bin; users without items get '(none)'), and assigns the user to merchant k
 *   with probability proportional to p_k[dominant bin] (uniformly if every p_k of that bin
 *   underflowed to 0). Afterwards each empty merchant, in index order, receives one user
 *   drawn uniformly from the then largest merchant, so no merchant is empty; this nudges
 *   the sizes but barely the skew.
 *
 * iid and merchants throw when K exceeds the number of users.
 */
export function partitionUsers(
  sequences: readonly UserSequence[],
  spec: PartitionSpec,
  categoryOf: (item: number) => string | undefined,
  seed: number,
): Partition {
  checkSpec(spec);
  const users = sequences.length;
  switch (spec.kind) {
    case 'per-user':
      return makePartition(spec, Int32Array.from({ length: users }, (_, u) => u), users);
    case 'iid':
      if (spec.clients > users) throw tooManyClients(spec, users);
      return makePartition(spec, iidClients(users, spec.clients, new Rng(seed).fork('partition:iid')), spec.clients);
    case 'merchants': {
      if (spec.clients > users) throw tooManyClients(spec, users);
      const rng = new Rng(seed).fork('partition:merchants');
      return makePartition(spec, merchantClients(sequences, spec.clients, spec.alpha, categoryOf, rng), spec.clients);
    }
  }
}

/**
 * Mean over clients of the total-variation distance 1/2 * sum_b |client share of bin b -
 * overall share of bin b|, where shares count the items of the client's users (every
 * interaction counts) and bins are the categories plus '(none)'. 0 = every client has the
 * overall mix (IID); approaches 1 when clients hold disjoint, individually rare categories
 * (K equal clients with disjoint categories give 1 - 1/K). Clients whose users have no
 * items have no mix and are left out; 0 when no client has items.
 */
export function categorySkew(
  sequences: readonly UserSequence[],
  partition: Partition,
  categoryOf: (item: number) => string | undefined,
): number {
  const { binOf, bins } = itemBins(sequences, categoryOf);
  const overall = new Float64Array(bins);
  let total = 0;
  for (const s of sequences) {
    for (const item of s.items) overall[binOf[item]]++;
    total += s.items.length;
  }
  const counts = new Float64Array(bins);
  let sum = 0;
  let measured = 0;
  for (const id of partition.clients) {
    let n = 0;
    for (const u of partition.usersOf(id)) {
      const s = sequences[u];
      if (s === undefined) throw new RangeError(`categorySkew: client ${id} holds user ${u}, but there are ${sequences.length} sequences`);
      for (const item of s.items) counts[binOf[item]]++;
      n += s.items.length;
    }
    if (n === 0) continue;
    let distance = 0;
    for (let b = 0; b < bins; b++) distance += Math.abs(counts[b] / n - overall[b] / total);
    sum += distance / 2;
    measured++;
    counts.fill(0);
  }
  return measured === 0 ? 0 : sum / measured;
}
