// The local training loop shared by the models: seeded shuffling, Adam or SGD,
// an optional FedProx term, progress per epoch, and a yield to the event loop
// so a client's sockets (or a browser page) stay responsive while it trains.
import { tf } from '../tf.ts';
import { Rng } from '../random.ts';
import type { FitOptions, FitResult } from './model.ts';
import type { Params } from './params.ts';
import { FusedAdam } from './adam.ts';
import { FusedSgd } from './sgd.ts';
import { LOCAL_OPTIMIZERS } from './model.ts';

export interface Step {
  loss: () => tf.Scalar;
  dispose: () => void;
}

export type StepBuilder<T> = (chunk: T[], rng: Rng) => Step;

export function validateFitOptions(opts: FitOptions): void {
  const bad = (what: string) => {
    throw new Error(`fitLocal: ${what}`);
  };
  if (!Number.isInteger(opts.epochs) || opts.epochs < 0) bad(`epochs must be a non-negative integer, got ${opts.epochs}`);
  if (!Number.isInteger(opts.batchSize) || opts.batchSize < 1) bad(`batchSize must be a positive integer, got ${opts.batchSize}`);
  if (!(opts.lr > 0) || !Number.isFinite(opts.lr)) bad(`lr must be a positive number, got ${opts.lr}`);
  if (opts.proxMu !== undefined && !(opts.proxMu >= 0)) bad(`proxMu must be >= 0, got ${opts.proxMu}`);
  if (opts.optimizer !== undefined && !LOCAL_OPTIMIZERS.includes(opts.optimizer)) bad(`optimizer must be one of ${LOCAL_OPTIMIZERS.join(', ')}, got ${String(opts.optimizer)}`);
}

const YIELD_EVERY_MS = 25;
const yieldToEventLoop = () => new Promise<void>((resolve) => setTimeout(resolve, 0));

/** One pass over `examples` in a fresh seeded order; returns the mean loss. */
async function runEpoch<T>(
  examples: T[],
  order: number[],
  batchSize: number,
  rng: Rng,
  trained: tf.Variable[],
  optimizer: FusedAdam | FusedSgd,
  build: StepBuilder<T>,
): Promise<{ loss: number; steps: number }> {
  rng.shuffle(order);
  let lossSum = 0;
  let steps = 0;
  let lastYield = performance.now();
  for (let i = 0; i < order.length; i += batchSize) {
    const step = build(order.slice(i, i + batchSize).map((j) => examples[j]), rng);
    try {
      const value = tf.tidy(() => {
        const { value: loss, grads } = tf.variableGrads(step.loss, trained);
        optimizer.step(grads);
        return loss;
      });
      lossSum += (await value.data())[0];
      value.dispose();
    } finally {
      step.dispose();
    }
    steps++;
    if (performance.now() - lastYield > YIELD_EVERY_MS) {
      await yieldToEventLoop();
      lastYield = performance.now();
    }
  }
  return { loss: steps > 0 ? lossSum / steps : NaN, steps };
}

/**
 * Trains `params` (shared, FedProx-anchored) and `localVars` (never shared, e.g.
 * MF user embeddings) with one Adam for `opts.epochs` epochs.
 */
export async function runEpochs<T>(
  params: Params,
  examples: T[],
  opts: FitOptions,
  build: StepBuilder<T>,
  localVars: tf.Variable[] = [],
): Promise<FitResult> {
  validateFitOptions(opts);
  const started = performance.now();
  const rng = new Rng(opts.seed);
  const trained = [...params.vars, ...localVars];
  // Adam with betas as SASRec's reference implementation, or plain SGD; FedProx pulls only the shared weights.
  const optimizer =
    opts.optimizer === 'sgd'
      ? new FusedSgd(trained, { lr: opts.lr, proxMu: opts.proxMu, anchored: params.vars })
      : new FusedAdam(trained, { lr: opts.lr, beta1: 0.9, beta2: 0.98, proxMu: opts.proxMu, anchored: params.vars });
  const order = Array.from(examples.keys());
  let steps = 0;
  let loss = NaN;
  let epochs = 0;
  for (let epoch = 1; epoch <= opts.epochs; epoch++) {
    const t0 = performance.now();
    const r = await runEpoch(examples, order, opts.batchSize, rng, trained, optimizer, build);
    steps += r.steps;
    loss = r.loss;
    epochs = epoch;
    const verdict = await opts.onEpoch?.({ epoch, loss, seconds: (performance.now() - t0) / 1000 });
    if (verdict === 'stop') break;
  }
  return { loss, epochs, steps, examples: examples.length, seconds: (performance.now() - started) / 1000 };
}
