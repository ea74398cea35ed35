// What a client sends back for one task: its model delta, shaped by the task's
// privacy settings.
//
// - mode 'none': one delta from training on all local data, clipped to
//   clipNorm if set, weighted by the number of examples.
// - mode 'central', unit 'client': the same delta clipped to clipNorm; one
//   contribution (weight 1).
// - mode 'central', unit 'user' (DP-FedAvg with user-level privacy, McMahan et
//   al. 2018, Algorithm 1): each local user is included independently with
//   probability sampleRate; each included user's delta comes from training a
//   fresh copy of the global model on that user's data alone and is clipped to
//   clipNorm; the payload is the SUM of the clipped deltas, projected onto the
//   ball of radius W·clipNorm (W = the task's maxContributions), and the weight
//   their count.
//
// What the user-level guarantee needs from this file, and how it holds:
// - One user's data moves the sum by at most clipNorm. Each user's training is
//   seeded from (client id, the user's id, round) — never from the user's
//   position in the list — so adding or removing a user leaves every other
//   user's delta bit for bit the same (test/client/contributionNeighbours.test.ts).
// - A delta that is not finite (training diverged on that user's data) is
//   replaced by zero and counted here, never sent: a NaN would pass any clip
//   and get the whole update refused, so whether a merchant counts would
//   depend on one shopper's data.
// - The clipped deltas are added exactly (privacy/central ContributionSum: a
//   fixed-point grid of step C·2⁻²⁶, integers in float64), and the sum is
//   projected in float64 onto the ball of radius W·C before it is rounded to
//   float32 (projection onto a convex set moves neighbours no further apart),
//   so the coordinator never has a reason to refuse it on its weight or norm:
//   it applies the same projection (privacy/central/sensitivity.ts has the bound).
// - Whether a sampled user is trained must not depend on the other users'
//   data. Each user trains on at most their last `maxInteractionsPerUser`
//   interactions, so the work per user is bounded; before training, the
//   client times one synthetic user of that size (a probe, data-independent, timed warm)
//   and trains at most as many sampled users as fit before its cutoff, picked
//   at random. So who is trained depends only on how many were sampled: when
//   more are sampled than fit, adding one user can displace one other (2·C,
//   not covered; the client warns when fewer than W fit, and the README asks
//   for a deadline that fits W). A wall-clock guard still stops training at
//   the cutoff if the machine is slower than the probe said; the update is
//   then partial, which depends on timing, not on the users' data.
// - The update is sent at the cutoff, not when training ends (ClientCore,
//   holdUntilCutoff), so when it arrives says nothing about the sample.
import { ProtocolError, type Task } from '../protocol/index.ts';
import { ContributionSum, MAX_CONTRIBUTIONS_PER_SUM, clipInPlace } from '../privacy/index.ts';
import { hashString, type Model, type UserSequence } from '../recommender/index.ts';

export interface Contribution {
  /** The payload: a delta, or the sum of clipped per-user deltas. */
  delta: Float32Array;
  weight: number;
  numExamples: number;
  /** Σ(2·1[norm ≤ clip] − 1), when the task asks for it. */
  clipCount?: number;
  /** Mean training loss over the trained units (NaN when nothing trained). */
  loss: number;
  trainSeconds: number;
  /** Contributions trained, and how many of them the clip shortened. */
  units: number;
  clipped: number;
  /** Largest pre-clip norm among the units (0 when none). */
  maxNorm: number;
  /** Units whose delta was not finite and was replaced by zero. */
  nonFinite: number;
  /** Sampled users left untrained: more were sampled than fit before the cutoff, or the clock ran out. */
  skipped: number;
  /** How many users fit before the cutoff at the probe's pace (Infinity when no probe was needed). */
  fits: number;
  /** Whether the W·C projection shortened the sum. */
  projected: boolean;
}

export interface ContributionDeps {
  clientId: string;
  /** Uniform [0, 1) for sampling users: a CSPRNG unless a simulation seeds it. */
  random: () => number;
  /** Now, in ms (default Date.now). */
  now?: () => number;
  /** When training must stop, on the `now` clock (default trainingStopsAt(task.deadline, now())). */
  cutoff?: number;
}

/** Budgets longer than this (simulations run with a day) fit any sample: no probe is timed. */
export const PROBE_SKIP_MS = 3_600_000;
/** The probe's time is stretched by this much when counting how many users fit. */
export const PROBE_SAFETY = 1.25;

/** The seed of one user's local training in one round: from stable ids only, never from a position in a list. */
export function userSeed(clientId: string, user: string, round: number): number {
  return hashString(`${clientId}\u0000${user}\u0000${round}`);
}

/**
 * When a client under user-level DP stops training more users: the task's
 * deadline minus a margin for encoding and upload (10% of the time left, at
 * least one second).
 */
export function trainingStopsAt(deadline: number, now: number): number {
  return deadline - Math.max(1000, 0.1 * (deadline - now));
}

function trainOptions(task: Task, seed: number) {
  return { epochs: task.train.epochs, batchSize: task.train.batchSize, lr: task.train.lr, proxMu: task.train.proxMu, optimizer: task.train.optimizer, seed };
}

/** Trains on `seqs` from `global` and returns the delta (local − global), the model left at the local weights. */
async function trainDelta(model: Model, global: Float32Array, seqs: UserSequence[], task: Task, seed: number) {
  model.setWeights(global);
  const fit = await model.fitLocal(seqs, trainOptions(task, seed));
  const delta = model.getWeights();
  for (let i = 0; i < delta.length; i++) delta[i] -= global[i];
  return { delta, fit };
}

/** Zeroes `delta` if any value is NaN or infinite; returns whether it did. */
function zeroIfNonFinite(delta: Float32Array): boolean {
  for (let i = 0; i < delta.length; i++) {
    if (!Number.isFinite(delta[i])) {
      delta.fill(0);
      return true;
    }
  }
  return false;
}

/** One delta over all local data (mode 'none', or unit 'client'). */
async function wholeClient(model: Model, global: Float32Array, train: UserSequence[], task: Task, deps: ContributionDeps): Promise<Contribution> {
  const central = task.privacy.mode === 'central';
  const seed = (hashString(deps.clientId) ^ task.round) >>> 0;
  const { delta, fit } = await trainDelta(model, global, train, task, seed);
  // under DP a diverged delta becomes zero (counted), so that whether this client counts does not depend on its data;
  // without DP it is sent as it is and the coordinator refuses it as non-finite
  const nonFinite = central && zeroIfNonFinite(delta) ? 1 : 0;
  const clip = task.privacy.clipNorm;
  const norm = clipInPlace(delta, clip);
  const clipped = clip !== null && norm > clip ? 1 : 0;
  return {
    delta,
    weight: central ? 1 : fit.examples,
    numExamples: fit.examples,
    ...(task.privacy.reportClipCount ? { clipCount: clipped ? -1 : 1 } : {}),
    loss: fit.loss,
    trainSeconds: fit.seconds,
    units: 1,
    clipped,
    maxNorm: norm,
    nonFinite,
    skipped: 0,
    fits: Infinity,
    projected: false,
  };
}

/** The users included this round (Poisson rate q), in a random order (which users a deadline cuts off is random too). */
function sampleUsers(train: UserSequence[], q: number, random: () => number): UserSequence[] {
  const sampled = train.filter(() => random() < q);
  for (let i = sampled.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [sampled[i], sampled[j]] = [sampled[j], sampled[i]];
  }
  return sampled;
}

/** At most the last `cap` interactions of a user (views, no copies). */
function lastInteractions(seq: UserSequence, cap: number | undefined): UserSequence {
  const n = seq.items.length;
  if (cap === undefined || n <= cap) return seq;
  return { ...seq, items: seq.items.subarray(n - cap), types: seq.types.subarray(n - cap), ts: seq.ts.subarray(n - cap) };
}

/** A synthetic user of `length` interactions (no one's data): what the probe trains. */
function probeUser(length: number, numItems: number, round: number): UserSequence {
  const items = Int32Array.from({ length }, (_, i) => (i * 7919 + round) % numItems);
  return { user: '\u0000fedrec-probe', items, types: new Uint8Array(length), ts: Float64Array.from(items, (_, i) => i) };
}

/**
 * How many users fit before `stopAt` at the pace of one synthetic user of the
 * largest size (data-independent); Infinity when the budget is a day-long
 * simulation's or users are not bounded.
 */
async function usersThatFit(model: Model, global: Float32Array, task: Task, now: () => number, stopAt: number): Promise<number> {
  const cap = task.privacy.maxInteractionsPerUser;
  const budget = stopAt - now();
  if (cap === undefined || budget > PROBE_SKIP_MS) return Infinity;
  if (budget <= 0) return 0;
  // timed on its second run: the first call of a shape can pay one-off costs (buffer allocation, kernel warm-up)
  // that every later user does not, and would make the client train fewer users than fit
  const probe = probeUser(cap, model.spec.config.numItems, task.round);
  await trainDelta(model, global, [probe], task, task.round >>> 0);
  const t0 = now();
  await trainDelta(model, global, [probe], task, task.round >>> 0);
  const spent = now() - t0;
  return Math.max(0, Math.floor((stopAt - now()) / (PROBE_SAFETY * Math.max(spent, 1))));
}

/** The sum of per-user clipped deltas over a Poisson sample of the local users, projected onto the W·C ball. */
async function perUser(model: Model, global: Float32Array, train: UserSequence[], task: Task, deps: ContributionDeps): Promise<Contribution> {
  const { sampleRate: q, clipNorm: clip, maxContributions: maxUsers, maxInteractionsPerUser: cap } = task.privacy;
  if (q === undefined || clip === null || maxUsers === undefined) {
    throw new ProtocolError('schema', `task of round ${task.round}: user-level DP needs privacy.sampleRate, privacy.clipNorm and privacy.maxContributions`);
  }
  const now = deps.now ?? Date.now;
  const stopAt = deps.cutoff ?? trainingStopsAt(task.deadline, now());
  const sampled = sampleUsers(train, q, deps.random);
  // decided before any user trains, from the sample's size and a data-independent probe only
  const fits = await usersThatFit(model, global, task, now, stopAt);
  // beyond 2²⁶ users a round's exact sum would leave float64's integer range: the rest are skipped too
  const chosen = sampled.slice(0, Math.min(sampled.length, fits, MAX_CONTRIBUTIONS_PER_SUM));
  const sum = new ContributionSum(global.length, clip);
  let units = 0;
  let clipped = 0;
  let nonFinite = 0;
  let examples = 0;
  let lossSum = 0;
  let lossCount = 0;
  let seconds = 0;
  let maxNorm = 0;
  for (const seq of chosen) {
    // the machine slower than the probe said: stop at the cutoff (the update is partial)
    if (now() >= stopAt) break;
    const { delta, fit } = await trainDelta(model, global, [lastInteractions(seq, cap)], task, userSeed(deps.clientId, seq.user, task.round));
    if (zeroIfNonFinite(delta)) nonFinite++;
    const norm = clipInPlace(delta, clip);
    sum.add(delta);
    units++;
    if (norm > clip) clipped++;
    maxNorm = Math.max(maxNorm, norm);
    examples += fit.examples;
    seconds += fit.seconds;
    if (Number.isFinite(fit.loss)) {
      lossSum += fit.loss;
      lossCount++;
    }
  }
  model.setWeights(global);
  const { sum: payload, projected } = sum.finish(maxUsers * clip);
  return {
    delta: payload,
    weight: units,
    numExamples: examples,
    ...(task.privacy.reportClipCount ? { clipCount: units - 2 * clipped } : {}),
    loss: lossCount > 0 ? lossSum / lossCount : NaN,
    trainSeconds: seconds,
    units,
    clipped,
    maxNorm,
    nonFinite,
    skipped: sampled.length - units,
    fits,
    projected,
  };
}

/** The contribution a task asks for, trained from the model's current (global) weights. */
export async function contribute(model: Model, train: UserSequence[], task: Task, deps: ContributionDeps): Promise<Contribution> {
  const global = model.getWeights();
  if (task.privacy.mode === 'central' && task.privacy.unit === 'user') return perUser(model, global, train, task, deps);
  return wholeClient(model, global, train, task, deps);
}
