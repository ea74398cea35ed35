// SASRec (Kang & McAuley 2018): causal self-attention over the last L
// interactions. Layer order follows the widely used PyTorch port (pmixer's
// SASRec.pytorch), plus an event-type embedding (view/cart/fav/purchase/rating).
// Item ids inside the model are catalog index + 1; 0 is padding.
//
// Loss: with `negatives` = 1, SASRec's reference binary cross-entropy (one
// random negative per position, not in the user's history). With more
// negatives, gSASRec's generalised BCE (Petrov & Macdonald, RecSys 2023,
// eq. 8): k negatives drawn per user and shared by that user's positions (a
// batched [L, d] × [d, k] product instead of B·L·k gathers; drawing them per
// batch instead leaves most item rows without a gradient in a step, which
// Adam's per-row normalisation turns into erratic steps), each masked when the
// user interacted with it, and
//   L = −1/(k+1) · (β·log σ(s⁺) + Σ_j log(1 − σ(s⁻_j))),
//   β = α·(t·(1 − 1/α) + 1/α) = 1 − t·(1 − α),  α = k / (numItems − 1)  (eq. 11)
// where t = `gbceT` ∈ [0, 1] (0 is plain BCE, 1 fully calibrated).
import { tf } from '../tf.ts';
import { Rng } from '../random.ts';
import { NUM_EVENT_TYPES, type History, type UserSequence } from '../types.ts';
import type { FitOptions, FitResult, Model, ModelSpec, RecommendOptions } from './model.ts';
import { Params, glorotNormal } from './params.ts';
import { bceWithLogits, dense, dropout, gbceWithLogits, layerNorm, sampledSoftmaxWithLogits } from './layers.ts';
import { topK } from './topk.ts';
import { runEpochs } from './train.ts';

export interface SasrecConfig {
  numItems: number;
  dim: number;
  maxLen: number;
  blocks: number;
  heads: number;
  dropout: number;
  /** Sampled negatives: 1 = reference BCE (one per position), more = k per user, shared by its positions. */
  negatives: number;
  /** gBCE calibration t in [0, 1]; 0 = plain BCE. */
  gbceT: number;
  /** 1: sampled softmax over the positive and the user’s negatives instead of (g)BCE (needs negatives > 1). */
  softmax: number;
}

export const SASREC_DEFAULTS: Omit<SasrecConfig, 'numItems'> = {
  dim: 32,
  maxLen: 50,
  blocks: 2,
  heads: 1,
  dropout: 0.2,
  negatives: 1,
  gbceT: 0,
  softmax: 0,
};

/** gSASRec's β for k negatives out of numItems items and calibration t (eq. 11). */
export function gbceBeta(negatives: number, numItems: number, t: number): number {
  const alpha = negatives / Math.max(1, numItems - 1);
  return 1 - t * (1 - Math.min(1, alpha));
}

interface Batch {
  seq: tf.Tensor2D;
  types: tf.Tensor2D;
  pos: tf.Tensor2D;
  /** [B, L] per-position negatives (negatives = 1), or [B, k] per user, shared by the user's positions. */
  neg: tf.Tensor2D;
  /** Shared negatives only: [B, 1, k], 0 where the row's user interacted with the negative. */
  negMask?: tf.Tensor3D;
}

/**
 * [users × k] mask of each user's k negatives (model ids, catalog index + 1,
 * row-major [users, k]): 0 where the user's sequence contains the item (a
 * positive of that user is never pushed down as a negative), 1 elsewhere.
 */
export function seenNegativeMask(users: UserSequence[], negIds: Int32Array, k: number): Float32Array {
  if (negIds.length !== users.length * k) throw new Error(`seenNegativeMask: ${negIds.length} ids for ${users.length} users × ${k}`);
  const mask = new Float32Array(users.length * k).fill(1);
  users.forEach((u, r) => {
    const seen = new Set(u.items);
    for (let j = r * k; j < (r + 1) * k; j++) if (seen.has(negIds[j] - 1)) mask[j] = 0;
  });
  return mask;
}

export class Sasrec implements Model {
  readonly spec: ModelSpec;
  readonly config: SasrecConfig;
  private readonly params = new Params();
  private readonly causalBias: tf.Tensor2D;
  private dropoutRng = new Rng(1);

  constructor(config: Partial<SasrecConfig> & { numItems: number }, seed = 1) {
    this.config = { ...SASREC_DEFAULTS, ...config };
    const { numItems, dim, maxLen, blocks, heads } = this.config;
    if (dim % heads !== 0) throw new Error(`sasrec: dim ${dim} is not divisible by heads ${heads}`);
    const { negatives, gbceT } = this.config;
    if (!Number.isInteger(negatives) || negatives < 1) throw new Error(`sasrec: negatives must be a positive integer, got ${negatives}`);
    if (!(gbceT >= 0 && gbceT <= 1)) throw new Error(`sasrec: gbceT must be in [0, 1], got ${gbceT}`);
    if (this.config.softmax !== 0 && this.config.softmax !== 1) throw new Error(`sasrec: softmax must be 0 or 1, got ${this.config.softmax}`);
    if (this.config.softmax === 1 && negatives < 2) throw new Error('sasrec: the sampled softmax needs negatives > 1');
    const p = this.params;
    let s = seed * 1000;
    p.add('item_emb', [numItems + 1, dim], () => glorotNormal([numItems + 1, dim], s++));
    p.add('pos_emb', [maxLen, dim], () => glorotNormal([maxLen, dim], s++));
    p.add('type_emb', [NUM_EVENT_TYPES + 1, dim], () => glorotNormal([NUM_EVENT_TYPES + 1, dim], s++));
    for (let b = 0; b < blocks; b++) {
      p.add(`block${b}.ln_attn.gamma`, [dim], () => tf.ones([dim]));
      p.add(`block${b}.ln_attn.beta`, [dim], () => tf.zeros([dim]));
      for (const m of ['q', 'k', 'v', 'out']) {
        p.add(`block${b}.attn.${m}.w`, [dim, dim], () => glorotNormal([dim, dim], s++));
        p.add(`block${b}.attn.${m}.b`, [dim], () => tf.zeros([dim]));
      }
      p.add(`block${b}.ln_ffn.gamma`, [dim], () => tf.ones([dim]));
      p.add(`block${b}.ln_ffn.beta`, [dim], () => tf.zeros([dim]));
      for (const m of ['ffn1', 'ffn2']) {
        p.add(`block${b}.${m}.w`, [dim, dim], () => glorotNormal([dim, dim], s++));
        p.add(`block${b}.${m}.b`, [dim], () => tf.zeros([dim]));
      }
    }
    p.add('ln_final.gamma', [dim], () => tf.ones([dim]));
    p.add('ln_final.beta', [dim], () => tf.zeros([dim]));
    this.causalBias = tf.tidy(() =>
      tf.keep(tf.mul(tf.sub(1, tf.linalg.bandPart(tf.ones([maxLen, maxLen]), -1, 0)), -1e9) as tf.Tensor2D),
    );
    // The loss settings do not shape the weights: they enter the spec (and so a
    // federation's lineage and a checkpoint's config) only when not the
    // reference BCE, so specs and lineages from before they existed stay valid.
    const specConfig: Record<string, number> = { ...this.config };
    for (const k of ['negatives', 'gbceT', 'softmax'] as const) if (specConfig[k] === SASREC_DEFAULTS[k]) delete specConfig[k];
    this.spec = { model: 'sasrec', config: specConfig, weights: p.spec, size: p.size };
  }

  getWeights(): Float32Array {
    return this.params.getWeights();
  }

  setWeights(flat: Float32Array): void {
    this.params.setWeights(flat);
  }


  private attention(q: tf.Tensor, x: tf.Tensor, b: number, training: boolean): tf.Tensor {
    const { heads, dim, dropout: rate } = this.config;
    const p = (n: string) => this.params.get(`block${b}.attn.${n}`);
    const [B, L] = x.shape;
    const hd = dim / heads;
    const split = (t: tf.Tensor) =>
      heads === 1 ? t : tf.reshape(tf.transpose(tf.reshape(t, [B, L, heads, hd]), [0, 2, 1, 3]), [B * heads, L, hd]);
    const Q = split(dense(q, p('q.w'), p('q.b')));
    const K = split(dense(x, p('k.w'), p('k.b')));
    const V = split(dense(x, p('v.w'), p('v.b')));
    const scores = tf.add(tf.mul(tf.matMul(Q, K, false, true), 1 / Math.sqrt(hd)), this.causalBias.slice([0, 0], [L, L]));
    const weights = dropout(tf.softmax(scores), rate, training, this.dropoutRng);
    let out = tf.matMul(weights, V);
    if (heads > 1) out = tf.reshape(tf.transpose(tf.reshape(out, [B, heads, L, hd]), [0, 2, 1, 3]), [B, L, dim]);
    return dense(out, p('out.w'), p('out.b'));
  }

  /** Hidden states [B, L, d] for left-padded item ids and type ids. */
  private encode(seq: tf.Tensor2D, types: tf.Tensor2D, training: boolean): tf.Tensor {
    const { dim, blocks, dropout: rate } = this.config;
    const p = (n: string) => this.params.get(n);
    const L = seq.shape[1];
    const mask = tf.expandDims(tf.cast(tf.notEqual(seq, 0), 'float32'), -1);
    let x = tf.mul(tf.gather(p('item_emb'), seq), Math.sqrt(dim));
    x = tf.add(x, p('pos_emb').slice([0, 0], [L, dim]));
    x = tf.add(x, tf.gather(p('type_emb'), types));
    x = tf.mul(dropout(x, rate, training, this.dropoutRng), mask);
    for (let b = 0; b < blocks; b++) {
      const q = layerNorm(x, p(`block${b}.ln_attn.gamma`), p(`block${b}.ln_attn.beta`));
      x = tf.add(q, this.attention(q, x, b, training));
      x = layerNorm(x, p(`block${b}.ln_ffn.gamma`), p(`block${b}.ln_ffn.beta`));
      let f = dropout(dense(x, p(`block${b}.ffn1.w`), p(`block${b}.ffn1.b`)), rate, training, this.dropoutRng);
      f = dropout(dense(tf.relu(f), p(`block${b}.ffn2.w`), p(`block${b}.ffn2.b`)), rate, training, this.dropoutRng);
      x = tf.mul(tf.add(x, f), mask);
    }
    return layerNorm(x, p('ln_final.gamma'), p('ln_final.beta'));
  }

  private loss(batch: Batch): tf.Scalar {
    const { numItems, negatives, gbceT } = this.config;
    const emb = this.params.get('item_emb');
    const h = this.encode(batch.seq, batch.types, true);
    const posLogits = tf.sum(tf.mul(h, tf.gather(emb, batch.pos)), -1);
    const mask = tf.cast(tf.notEqual(batch.pos, 0), 'float32');
    const beta = gbceBeta(negatives, numItems, gbceT);
    if (!batch.negMask) return bceWithLogits(posLogits, tf.sum(tf.mul(h, tf.gather(emb, batch.neg)), -1), mask, beta);
    // [B, L, d] × [B, k, d]ᵀ: each user's positions against that user's k negatives
    const negLogits = tf.matMul(h, tf.gather(emb, batch.neg), false, true);
    if (this.config.softmax) return sampledSoftmaxWithLogits(posLogits, negLogits, mask, batch.negMask);
    return gbceWithLogits(posLogits, negLogits, mask, beta, batch.negMask);
  }

  /** One training example per user: the last L+1 interactions, shifted by one. */
  private makeBatch(seqs: UserSequence[], rng: Rng): Batch {
    const { maxLen: L, numItems, negatives } = this.config;
    const B = seqs.length;
    const seq = new Int32Array(B * L);
    const types = new Int32Array(B * L);
    const pos = new Int32Array(B * L);
    const perPosition = negatives === 1;
    const neg = perPosition ? new Int32Array(B * L) : Int32Array.from({ length: B * negatives }, () => rng.int(numItems) + 1);
    const negMask = perPosition ? undefined : seenNegativeMask(seqs, neg, negatives);
    seqs.forEach((u, r) => {
      const n = u.items.length;
      const len = Math.min(L, n - 1);
      const seen = perPosition ? new Set(u.items) : null;
      for (let j = 0; j < len; j++) {
        const src = n - 1 - len + j; // input position; its target is src + 1
        const dst = r * L + (L - len) + j;
        seq[dst] = u.items[src] + 1;
        types[dst] = u.types[src] + 1;
        pos[dst] = u.items[src + 1] + 1;
        if (!seen) continue;
        let k = rng.int(numItems);
        for (let tries = 0; seen.has(k) && tries < 20; tries++) k = rng.int(numItems);
        neg[dst] = k + 1;
      }
    });
    return {
      seq: tf.tensor2d(seq, [B, L], 'int32'),
      types: tf.tensor2d(types, [B, L], 'int32'),
      pos: tf.tensor2d(pos, [B, L], 'int32'),
      neg: tf.tensor2d(neg, perPosition ? [B, L] : [B, negatives], 'int32'),
      ...(negMask ? { negMask: tf.tensor3d(negMask, [B, 1, negatives], 'float32') } : {}),
    };
  }

  async fitLocal(sequences: UserSequence[], opts: FitOptions): Promise<FitResult> {
    const usable = sequences.filter((s) => s.items.length >= 2);
    this.dropoutRng = new Rng(opts.seed).fork('dropout');
    return runEpochs(this.params, usable, opts, (chunk, rng) => {
      const batch = this.makeBatch(chunk, rng);
      return { loss: () => this.loss(batch), dispose: () => tf.dispose(Object.values(batch)) };
    });
  }

  scoreBatch(histories: History[]): Float32Array {
    const { maxLen: L, numItems, dim } = this.config;
    const B = histories.length;
    const seq = new Int32Array(B * L);
    const types = new Int32Array(B * L);
    histories.forEach((h, r) => {
      const len = Math.min(L, h.items.length);
      for (let j = 0; j < len; j++) {
        const src = h.items.length - len + j;
        seq[r * L + L - len + j] = h.items[src] + 1;
        types[r * L + L - len + j] = h.types[src] + 1;
      }
    });
    // Read the scores outside tidy: tidy walks a returned typed array element by
    // element (tf-core's walkTensorContainer), seconds for a [256, 10k] block.
    const scores = tf.tidy(() => {
      const h = this.encode(tf.tensor2d(seq, [B, L], 'int32'), tf.tensor2d(types, [B, L], 'int32'), false);
      const last = tf.reshape(tf.slice(h, [0, L - 1, 0], [B, 1, dim]), [B, dim]);
      const items = tf.slice(this.params.get('item_emb'), [1, 0], [numItems, dim]);
      return tf.matMul(last, items, false, true);
    });
    try {
      return scores.dataSync() as Float32Array;
    } finally {
      scores.dispose();
    }
  }

  recommend(history: History, k: number, opts: RecommendOptions = {}): number[] {
    const scores = this.scoreBatch([history]);
    return topK(scores, k, opts.includeSeen ? undefined : history.items);
  }

  dispose(): void {
    this.params.dispose();
    this.causalBias.dispose();
  }
}
