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
//   clipNorm; the payload is the SUM of the clipped deltas and the weight their
//   count. One user moves the payload by at most clipNorm however much data
//   they have, which is what the coordinator's noise is calibrated to.
import type { Task } from '../protocol/index.ts';
import { clipInPlace } from '../privacy/index.ts';
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
}

export interface ContributionDeps {
  clientId: string;
  /** Uniform [0, 1) for sampling users: a CSPRNG unless a simulation seeds it. */
  random: () => number;
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

/** One delta over all local data (mode 'none', or unit 'client'). */
async function wholeClient(model: Model, global: Float32Array, train: UserSequence[], task: Task, deps: ContributionDeps): Promise<Contribution> {
  const seed = (hashString(deps.clientId) ^ task.round) >>> 0;
  const { delta, fit } = await trainDelta(model, global, train, task, seed);
  const clip = task.privacy.clipNorm;
  const norm = clipInPlace(delta, clip);
  const clipped = clip !== null && norm > clip ? 1 : 0;
  const central = task.privacy.mode === 'central';
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
  };
}

/** The sum of per-user clipped deltas over a Poisson sample of the local users. */
async function perUser(model: Model, global: Float32Array, train: UserSequence[], task: Task, deps: ContributionDeps): Promise<Contribution> {
  const q = task.privacy.sampleRate;
  const clip = task.privacy.clipNorm;
  if (q === undefined || clip === null) throw new Error(`task of round ${task.round}: user-level DP needs privacy.sampleRate and privacy.clipNorm`);
  const sum = new Float64Array(global.length);
  let units = 0;
  let clipped = 0;
  let examples = 0;
  let lossSum = 0;
  let lossCount = 0;
  let seconds = 0;
  let maxNorm = 0;
  for (let u = 0; u < train.length; u++) {
    if (!(deps.random() < q)) continue;
    const seed = (hashString(`${deps.clientId}/${u}`) ^ task.round) >>> 0;
    const { delta, fit } = await trainDelta(model, global, [train[u]], task, seed);
    const norm = clipInPlace(delta, clip);
    for (let i = 0; i < delta.length; i++) sum[i] += delta[i];
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
  return {
    delta: Float32Array.from(sum),
    weight: units,
    numExamples: examples,
    ...(task.privacy.reportClipCount ? { clipCount: units - 2 * clipped } : {}),
    loss: lossCount > 0 ? lossSum / lossCount : NaN,
    trainSeconds: seconds,
    units,
    clipped,
    maxNorm,
  };
}

/** The contribution a task asks for, trained from the model's current (global) weights. */
export async function contribute(model: Model, train: UserSequence[], task: Task, deps: ContributionDeps): Promise<Contribution> {
  const global = model.getWeights();
  if (task.privacy.mode === 'central' && task.privacy.unit === 'user') return perUser(model, global, train, task, deps);
  return wholeClient(model, global, train, task, deps);
}
