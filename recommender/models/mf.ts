// Matrix factorisation with implicit feedback: score(u, i) = <p_u, q_i> + b_i,
// trained with BCE on each positive and `negatives` uniform negatives.
// Item embeddings q and biases b are the shared weights. User embeddings p stay
// in this object (a client's memory): they are never part of getWeights(), so a
// federation never sees them.
import { tf } from '../tf.ts';
import { Rng, hashString } from '../random.ts';
import type { History, UserSequence } from '../types.ts';
import type { FitOptions, FitResult, Model, ModelSpec, RecommendOptions } from './model.ts';
import { Params, glorotNormal } from './params.ts';
import { topK } from './topk.ts';
import { runEpochs } from './train.ts';

export interface MfConfig {
  numItems: number;
  dim: number;
  negatives: number;
}

export const MF_DEFAULTS: Omit<MfConfig, 'numItems'> = { dim: 32, negatives: 4 };

/** Gradient steps of the fold-in that fits a vector for a user this model has not trained. */
const FOLD_IN_STEPS = 60;

export class MatrixFactorization implements Model {
  readonly spec: ModelSpec;
  readonly config: MfConfig;
  private readonly params = new Params();
  /** Local user embeddings, keyed by user id. */
  readonly users = new Map<string, Float32Array>();
  private readonly seed: number;
  private itemCache: { q: Float32Array; b: Float32Array } | null = null;

  constructor(config: Partial<MfConfig> & { numItems: number }, seed = 1) {
    this.config = { ...MF_DEFAULTS, ...config };
    this.seed = seed;
    const { numItems, dim } = this.config;
    this.params.add('item_emb', [numItems, dim], () => glorotNormal([numItems, dim], seed * 1000));
    this.params.add('item_bias', [numItems], () => tf.zeros([numItems]));
    this.spec = { model: 'mf', config: { ...this.config }, weights: this.params.spec, size: this.params.size };
  }

  getWeights(): Float32Array {
    return this.params.getWeights();
  }

  setWeights(flat: Float32Array): void {
    this.params.setWeights(flat);
    this.itemCache = null;
  }

  private initUser(user: string): Float32Array {
    const rng = new Rng((hashString(user) ^ this.seed) >>> 0);
    const std = Math.sqrt(2 / (1 + this.config.dim));
    return Float32Array.from({ length: this.config.dim }, () => rng.normal() * std);
  }

  async fitLocal(sequences: UserSequence[], opts: FitOptions): Promise<FitResult> {
    const { dim, negatives, numItems } = this.config;
    const ids = sequences.map((s) => s.user);
    const init = new Float32Array(ids.length * dim);
    ids.forEach((u, r) => init.set(this.users.get(u) ?? this.initUser(u), r * dim));
    const userVar = tf.tidy(() => tf.variable(tf.tensor2d(init, [ids.length, dim]), true));
    // One example per (user row, item) interaction.
    const examples: Array<[number, number]> = [];
    sequences.forEach((s, r) => s.items.forEach((item) => examples.push([r, item])));
    const seen = sequences.map((s) => new Set(s.items));
    const syncUsers = () => {
      const trained = userVar.dataSync() as Float32Array;
      ids.forEach((u, r) => this.users.set(u, trained.slice(r * dim, (r + 1) * dim)));
      this.itemCache = null;
    };
    this.itemCache = null;
    try {
      const result = await runEpochs(
        this.params,
        examples,
        {
          ...opts,
          // Scoring inside the callback (validation) must see this epoch's users.
          onEpoch: opts.onEpoch &&
            ((e) => {
              syncUsers();
              return opts.onEpoch!(e);
            }),
        },
        (chunk, rng) => {
          const B = chunk.length;
          const rows = new Int32Array(B);
          const items = new Int32Array(B * (1 + negatives));
          const labels = new Float32Array(B * (1 + negatives));
          chunk.forEach(([row, item], j) => {
            rows[j] = row;
            items[j * (1 + negatives)] = item;
            labels[j * (1 + negatives)] = 1;
            for (let k = 1; k <= negatives; k++) {
              let n = rng.int(numItems);
              for (let t = 0; seen[row].has(n) && t < 20; t++) n = rng.int(numItems);
              items[j * (1 + negatives) + k] = n;
            }
          });
          const tRows = tf.tensor1d(rows, 'int32');
          const tItems = tf.tensor2d(items, [B, 1 + negatives], 'int32');
          const tLabels = tf.tensor2d(labels, [B, 1 + negatives]);
          return {
            loss: () => {
              const u = tf.expandDims(tf.gather(userVar, tRows), 1);
              const q = tf.gather(this.params.get('item_emb'), tItems);
              const logits = tf.add(tf.sum(tf.mul(u, q), -1), tf.gather(this.params.get('item_bias'), tItems));
              return tf.losses.sigmoidCrossEntropy(tLabels, logits) as tf.Scalar;
            },
            dispose: () => tf.dispose([tRows, tItems, tLabels]),
          };
        },
        [userVar],
      );
      syncUsers();
      return result;
    } finally {
      userVar.dispose();
      this.itemCache = null;
    }
  }

  private items(): { q: Float32Array; b: Float32Array } {
    this.itemCache ??= {
      q: this.params.get('item_emb').dataSync() as Float32Array,
      b: this.params.get('item_bias').dataSync() as Float32Array,
    };
    return this.itemCache;
  }

  /**
   * A vector for a history this model did not train on: a few gradient steps of
   * the training loss over the history's items (label 1) and as many seeded
   * uniform negatives (label 0), with the item weights held fixed.
   */
  foldIn(history: History): Float32Array {
    const { dim, numItems } = this.config;
    const { q, b } = this.items();
    const u = new Float32Array(dim);
    const seen = new Set(history.items);
    const rng = new Rng((history.items.length * 2654435761 + (history.items[0] ?? 0)) >>> 0);
    const pairs: Array<[number, number]> = [];
    for (const i of seen) {
      pairs.push([i, 1]);
      let n = rng.int(numItems);
      for (let t = 0; seen.has(n) && t < 20; t++) n = rng.int(numItems);
      pairs.push([n, 0]);
    }
    const grad = new Float32Array(dim);
    const lr = 0.5;
    const l2 = 0.01;
    for (let step = 0; step < FOLD_IN_STEPS && pairs.length > 0; step++) {
      grad.fill(0);
      for (const [i, y] of pairs) {
        let z = b[i];
        for (let k = 0; k < dim; k++) z += u[k] * q[i * dim + k];
        const err = 1 / (1 + Math.exp(-z)) - y;
        for (let k = 0; k < dim; k++) grad[k] += err * q[i * dim + k];
      }
      for (let k = 0; k < dim; k++) u[k] -= lr * (grad[k] / pairs.length + l2 * u[k]);
    }
    return u;
  }

  private userVector(h: History): Float32Array {
    return (h.user !== undefined && this.users.get(h.user)) || this.foldIn(h);
  }

  scoreBatch(histories: History[]): Float32Array {
    const { dim, numItems } = this.config;
    const users = new Float32Array(histories.length * dim);
    histories.forEach((h, r) => users.set(this.userVector(h), r * dim));
    // Read the scores outside tidy (it walks a returned typed array element by element).
    const scores = tf.tidy(() =>
      tf.add(tf.matMul(tf.tensor2d(users, [histories.length, dim]), this.params.get('item_emb'), false, true), this.params.get('item_bias')),
    );
    try {
      return scores.dataSync() as Float32Array;
    } finally {
      scores.dispose();
    }
  }

  recommend(history: History, k: number, opts: RecommendOptions = {}): number[] {
    return topK(this.scoreBatch([history]), k, opts.includeSeen ? undefined : history.items);
  }

  dispose(): void {
    this.params.dispose();
    this.users.clear();
  }
}
