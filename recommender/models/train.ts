// The local training loop shared by the models: seeded shuffling, Adam,
// an optional FedProx term, progress per epoch, and a yield to the event loop
// so a client's sockets (or a browser page) stay responsive while it trains.
import { tf } from '../tf.ts';
import { Rng } from '../random.ts';
import type { FitOptions, FitResult } from './model.ts';
import type { Params } from './params.ts';
import { addProximalGradients } from './layers.ts';

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
}

const YIELD_EVERY_MS = 25;
const yieldToEventLoop = () => new Promise<void>((resolve) => setTimeout(resolve, 0));

/**
 * Trains `params` (shared, FedProx-anchored) and `localVars` (never shared, e.g.
 * MF user embeddings) with one Adam optimizer for `opts.epochs` epochs.
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
  const optimizer = tf.train.adam(opts.lr, 0.9, 0.98);
  const mu = opts.proxMu ?? 0;
  const anchors = mu > 0 ? params.snapshot() : null;
  const order = Array.from(examples.keys());
  let steps = 0;
  let lastLoss = NaN;
  let lastYield = performance.now();
  let epochsRun = 0;
  try {
    for (let epoch = 1; epoch <= opts.epochs; epoch++) {
      const epochStart = performance.now();
      rng.shuffle(order);
      let lossSum = 0;
      let batches = 0;
      for (let i = 0; i < order.length; i += opts.batchSize) {
        const chunk = order.slice(i, i + opts.batchSize).map((j) => examples[j]);
        const step = build(chunk, rng);
        try {
          const value = tf.tidy(() => {
            const { value: loss, grads } = tf.variableGrads(step.loss, [...params.vars, ...localVars]);
            const all = anchors ? { ...grads, ...addProximalGradients(grads, params.vars, anchors, mu) } : grads;
            optimizer.applyGradients(all as Parameters<typeof optimizer.applyGradients>[0]);
            return loss;
          });
          lossSum += (await value.data())[0];
          value.dispose();
        } finally {
          step.dispose();
        }
        batches++;
        steps++;
        if (performance.now() - lastYield > YIELD_EVERY_MS) {
          await yieldToEventLoop();
          lastYield = performance.now();
        }
      }
      lastLoss = batches > 0 ? lossSum / batches : NaN;
      epochsRun = epoch;
      const verdict = await opts.onEpoch?.({ epoch, loss: lastLoss, seconds: (performance.now() - epochStart) / 1000 });
      if (verdict === 'stop') break;
    }
  } finally {
    optimizer.dispose();
    anchors?.forEach((t) => t.dispose());
  }
  return { loss: lastLoss, epochs: epochsRun, steps, examples: examples.length, seconds: (performance.now() - started) / 1000 };
}
