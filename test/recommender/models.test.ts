// The two models behind the Model interface (recommender/models): weight
// layout, round trips, memory hygiene, learning, determinism, FedProx,
// recommendation, top-k, checkpoints and option validation.
// Tiny models and data throughout (numItems 20, dim 8, maxLen 10).
import { beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../../recommender/backend/index.ts';
import {
  CHECKPOINT_FORMAT,
  MatrixFactorization,
  createModel,
  encodeCheckpoint,
  encodeWeights,
  loadModel,
  readCheckpoint,
  specOf,
  topK,
  type FitOptions,
  type Model,
  type ModelName,
} from '../../recommender/models/index.ts';
import { Rng } from '../../recommender/random.ts';
import { encodeSafetensors, type NamedTensor } from '../../recommender/safetensors.ts';
import { tf } from '../../recommender/tf.ts';
import { NUM_EVENT_TYPES, type History, type UserSequence } from '../../recommender/types.ts';

const N = 20;
const D = 8;
const L = 10;
const CONFIGS: Record<ModelName, Record<string, number> & { numItems: number }> = {
  sasrec: { numItems: N, dim: D, maxLen: L, blocks: 2, heads: 1, dropout: 0.2 },
  mf: { numItems: N, dim: D, negatives: 2 },
};
const MODELS: ModelName[] = ['sasrec', 'mf'];

/** Every user walks the fixed cycle 0 → 1 → … → N-1 → 0, user u starting at item u mod N. */
function cycleData(users: number, len: number, numItems = N): UserSequence[] {
  return Array.from({ length: users }, (_, u) => {
    const items = Int32Array.from({ length: len }, (_, j) => (u + j) % numItems);
    return { user: `u${u}`, items, types: new Uint8Array(len), ts: Float64Array.from(items, (_, j) => j) };
  });
}

function history(items: number[], user?: string): History {
  const h: History = { items: Int32Array.from(items), types: new Uint8Array(items.length) };
  if (user !== undefined) h.user = user;
  return h;
}

function fitOpts(over: Partial<FitOptions> = {}): FitOptions {
  return { epochs: 2, batchSize: 20, lr: 0.01, seed: 3, ...over };
}

function l2(a: Float32Array, b: Float32Array): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += (a[i] - b[i]) ** 2;
  return Math.sqrt(s);
}

/** Indices by score descending, ties by lower index; NaN and excluded skipped; first k. */
function referenceTopK(scores: ArrayLike<number>, k: number, exclude: Iterable<number> = []): number[] {
  const skip = new Set(exclude);
  return Array.from({ length: scores.length }, (_, i) => i)
    .filter((i) => !skip.has(i) && !Number.isNaN(scores[i]))
    .sort((a, b) => scores[b] - scores[a] || a - b)
    .slice(0, Math.max(0, k));
}

const DATA = cycleData(40, 12);

beforeAll(async () => {
  await initBackend('wasm');
});

describe('weight layout (spec)', () => {
  /** By hand from the architecture, not from the code. */
  function sasrecSize(n: number, d: number, len: number, blocks: number): number {
    const embeddings = (n + 1) * d + len * d + (NUM_EVENT_TYPES + 1) * d; // items + padding row, positions, 5 types + padding
    const layerNorm = 2 * d; // gamma, beta
    const denseLayer = d * d + d; // w, b
    const block = 2 * layerNorm + 4 * denseLayer /* q, k, v, out */ + 2 * denseLayer /* ffn1, ffn2 */;
    return embeddings + blocks * block + layerNorm /* final */;
  }

  it('the hand formula reproduces the PyTorch reference count for the defaults (78,816)', () => {
    expect(NUM_EVENT_TYPES + 1).toBe(6);
    expect(sasrecSize(2000, 32, 50, 2)).toBe(78_816);
    // and it is the same as the brief's closed form (N+1)d + Ld + 6d + b(4d²+4d + 2d²+2d + 4d) + 2d
    const [n, d, len, b] = [2000, 32, 50, 2];
    expect((n + 1) * d + len * d + 6 * d + b * (4 * d * d + 4 * d + 2 * d * d + 2 * d + 4 * d) + 2 * d).toBe(78_816);
  });

  it('sasrec with default hyper-parameters has 78,816 shared values', () => {
    expect(specOf('sasrec', { numItems: 2000 }).size).toBe(78_816);
  });

  it.each([
    [20, 8, 10, 2, 1],
    [20, 8, 10, 1, 2],
    [37, 12, 7, 3, 3],
  ])('sasrec N=%i d=%i L=%i blocks=%i heads=%i: size = hand formula = Σ shape products = getWeights().length', (n, d, len, blocks, heads) => {
    const m = createModel('sasrec', { numItems: n, dim: d, maxLen: len, blocks, heads });
    try {
      const fromShapes = m.spec.weights.reduce((s, w) => s + w.shape.reduce((a, b) => a * b, 1), 0);
      expect(m.spec.size).toBe(sasrecSize(n, d, len, blocks));
      expect(fromShapes).toBe(m.spec.size);
      expect(m.getWeights().length).toBe(m.spec.size);
      expect(new Set(m.spec.weights.map((w) => w.name)).size).toBe(m.spec.weights.length);
      expect(m.spec.weights.find((w) => w.name === 'item_emb')?.shape).toEqual([n + 1, d]);
      // heads > 1 still scores: one row of numItems per history
      expect(m.scoreBatch([history([1, 2, 3])]).length).toBe(n);
    } finally {
      m.dispose();
    }
  });

  it('mf shares only item_emb and item_bias: N·d + N values, however many users it trained', async () => {
    const m = createModel('mf', { numItems: N, dim: D }) as MatrixFactorization;
    try {
      expect(m.spec.weights.map((w) => w.name)).toEqual(['item_emb', 'item_bias']);
      expect(m.spec.weights.map((w) => w.shape)).toEqual([[N, D], [N]]);
      expect(m.spec.size).toBe(N * D + N);
      expect(m.getWeights().length).toBe(N * D + N);
      await m.fitLocal(cycleData(5, 6), fitOpts({ epochs: 1 }));
      expect(m.users.size).toBe(5);
      expect(m.getWeights().length).toBe(N * D + N);
      await m.fitLocal(cycleData(30, 6), fitOpts({ epochs: 1 }));
      expect(m.users.size).toBe(30);
      expect(m.getWeights().length).toBe(N * D + N);
      expect(m.spec.size).toBe(N * D + N);
    } finally {
      m.dispose();
    }
  });
});

describe.each(MODELS)('%s', (name) => {
  const make = (seed = 1, over: Record<string, number> = {}) => createModel(name, { ...CONFIGS[name], ...over }, seed);

  it('scoreBatch reads its scores outside tf.tidy (tidy walks a returned typed array element by element: 7x slower evaluation)', () => {
    const m = make(1);
    const engine = tf.engine();
    const original = engine.tidy.bind(engine);
    const returned: unknown[] = [];
    engine.tidy = ((nameOrFn: unknown, fn?: unknown) => {
      const out = original(nameOrFn as never, fn as never);
      returned.push(out);
      return out;
    }) as typeof engine.tidy;
    try {
      const scores = m.scoreBatch([{ items: Int32Array.from([1, 2, 3]), types: new Uint8Array(3) }]);
      expect(scores.length).toBe(CONFIGS[name].numItems);
      expect(returned.some((r) => ArrayBuffer.isView(r))).toBe(false);
    } finally {
      engine.tidy = original;
      m.dispose();
    }
  });

  it('setWeights(getWeights()) round-trips exactly; a vector of the wrong length is rejected naming both lengths', () => {
    const a = make(1);
    const b = make(2);
    try {
      const wa = a.getWeights();
      expect(l2(wa, b.getWeights())).toBeGreaterThan(0); // different seeds, different init
      b.setWeights(wa);
      expect(b.getWeights()).toEqual(wa);
      // arbitrary values (not just init values) survive too
      const rng = new Rng(5);
      const custom = Float32Array.from({ length: a.spec.size }, () => rng.normal());
      a.setWeights(custom);
      expect(a.getWeights()).toEqual(custom);
      const size = a.spec.size;
      expect(() => a.setWeights(new Float32Array(size - 1))).toThrow(new RegExp(`\\b${size - 1}\\b.*\\b${size}\\b`));
      expect(() => a.setWeights(new Float32Array(size + 3))).toThrow(new RegExp(`\\b${size + 3}\\b.*\\b${size}\\b`));
      expect(a.getWeights()).toEqual(custom); // a rejected vector changes nothing
    } finally {
      a.dispose();
      b.dispose();
    }
  });

  it('leaks no tensors: fitLocal + scoreBatch + recommend keep the count; dispose returns to the count before creation', async () => {
    // warm-up so that any one-time backend allocations are not counted
    const warm = make(1);
    await warm.fitLocal(DATA, fitOpts({ epochs: 1 }));
    warm.scoreBatch([history([1, 2])]);
    warm.dispose();

    const beforeCreate = tf.memory().numTensors;
    const m = make(1);
    const afterCreate = tf.memory().numTensors;
    expect(afterCreate).toBeGreaterThan(beforeCreate);
    await m.fitLocal(DATA, fitOpts({ epochs: 2, proxMu: 0.5 }));
    m.scoreBatch([history([1, 2, 3]), history([4], 'u4'), history([])]);
    m.recommend(history([5, 6, 7]), 5);
    m.recommend(history([5, 6, 7], 'u5'), 5, { includeSeen: true });
    expect(tf.memory().numTensors).toBe(afterCreate);
    // a rejected fitLocal leaks nothing either
    await expect(m.fitLocal(DATA, fitOpts({ batchSize: 0 }))).rejects.toThrow();
    expect(tf.memory().numTensors).toBe(afterCreate);
    m.dispose();
    expect(tf.memory().numTensors).toBe(beforeCreate);
  });

  it('fitLocal lowers the training loss on a learnable cycle', async () => {
    const m = make(1, { dropout: 0 });
    try {
      const losses: number[] = [];
      const r = await m.fitLocal(DATA, fitOpts({ epochs: 30, lr: 0.02, seed: 3, onEpoch: (e) => void losses.push(e.loss) }));
      expect(losses.length).toBe(30);
      expect(r.epochs).toBe(30);
      expect(r.loss).toBe(losses[29]);
      for (const l of losses) expect(Number.isFinite(l)).toBe(true);
      expect(losses[29]).toBeLessThan(losses[0]);
      // the loss is BCE of one positive and negatives: starts near 2·ln 2 (sasrec) / ln 2 (mf, mean over logits)
      expect(losses[29]).toBeLessThan(0.5 * losses[0]);
      if (name === 'sasrec') {
        // For a window of L items of the cycle (as in training) ending in item e, the
        // next item of the cycle, (e + 1) mod N, is ranked first: e.g. … 6, 7 → 8 and … 18, 19 → 0.
        const hits: number[] = [];
        for (let end = 0; end < N; end++) {
          const window = Array.from({ length: L }, (_, j) => (end - (L - 1) + j + N) % N);
          if (m.recommend(history(window), 1)[0] === (end + 1) % N) hits.push(end);
        }
        // chance level would be about 1 in N - L = 10; allow two misses for numerical drift
        expect(hits.length, `next item ranked first only after ${hits.join(',')}`).toBeGreaterThanOrEqual(N - 2);
      }
    } finally {
      m.dispose();
    }
  });

  it('is deterministic: same seeds → identical weights after fitLocal; another seed → different', async () => {
    const run = async (modelSeed: number, fitSeed: number) => {
      const m = make(modelSeed);
      try {
        await m.fitLocal(DATA, fitOpts({ epochs: 2, seed: fitSeed }));
        return { weights: m.getWeights(), scores: m.scoreBatch([history([1, 2, 3])]) };
      } finally {
        m.dispose();
      }
    };
    const a = await run(1, 3);
    const b = await run(1, 3);
    expect(b.weights).toEqual(a.weights);
    expect(b.scores).toEqual(a.scores);
    const otherFit = await run(1, 4);
    expect(l2(otherFit.weights, a.weights)).toBeGreaterThan(1e-4);
    const otherInit = await run(2, 3);
    expect(l2(otherInit.weights, a.weights)).toBeGreaterThan(1e-4);
  });

  it('FedProx: proxMu = 10 keeps the weights closer to where fitLocal started than proxMu = 0', async () => {
    const moved = async (proxMu: number | undefined) => {
      const m = make(1);
      try {
        const start = m.getWeights();
        await m.fitLocal(DATA, fitOpts({ epochs: 5, proxMu }));
        return l2(m.getWeights(), start);
      } finally {
        m.dispose();
      }
    };
    const free = await moved(0);
    const prox = await moved(10);
    expect(free).toBeGreaterThan(0);
    expect(prox).toBeLessThan(0.5 * free);
    expect(await moved(undefined)).toBe(free); // proxMu 0 = no proximal term
  });

  it('recommend: k distinct unseen items in descending score order; includeSeen admits history items', async () => {
    const m = make(1);
    try {
      await m.fitLocal(DATA, fitOpts({ epochs: 1 }));
      for (const h of [history([3, 4, 5, 3, 6]), history([0, 19], 'u0'), history([7])]) {
        const row = m.scoreBatch([h]);
        expect(row.length).toBe(N);
        const seen = new Set(h.items);
        const rec = m.recommend(h, 5);
        expect(rec.length).toBe(5);
        expect(new Set(rec).size).toBe(5);
        for (const i of rec) {
          expect(Number.isInteger(i) && i >= 0 && i < N).toBe(true);
          expect(seen.has(i)).toBe(false);
        }
        for (let j = 1; j < rec.length; j++) expect(row[rec[j - 1]]).toBeGreaterThanOrEqual(row[rec[j]]);
        expect(rec).toEqual(referenceTopK(row, 5, seen));
        // asking for more than there are candidates gives every unseen item
        const all = m.recommend(h, 1000);
        expect(all.length).toBe(N - seen.size);
        expect(all).toEqual(referenceTopK(row, N, seen));
        // includeSeen: the full ranking, history items included
        const withSeen = m.recommend(h, N, { includeSeen: true });
        expect(withSeen).toEqual(referenceTopK(row, N));
        for (const i of seen) expect(withSeen).toContain(i);
        expect(m.recommend(h, 3, { includeSeen: true })).toEqual(referenceTopK(row, 3));
      }
    } finally {
      m.dispose();
    }
  });

  it('scoreBatch of several histories equals scoring each alone', () => {
    const m = make(1);
    try {
      const hs = [history([1, 2, 3]), history([9]), history([4, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14])];
      const batch = m.scoreBatch(hs);
      expect(batch.length).toBe(hs.length * N);
      hs.forEach((h, r) => {
        const alone = m.scoreBatch([h]);
        alone.forEach((v, i) => expect(batch[r * N + i]).toBeCloseTo(v, 4));
      });
    } finally {
      m.dispose();
    }
  });

  it('checkpoint: encodeCheckpoint → loadModel restores identical weights, scores and metadata', async () => {
    const m = make(3);
    try {
      await m.fitLocal(DATA, fitOpts({ epochs: 1 }));
      const ids = Array.from({ length: N }, (_, i) => `item-${i}`);
      const bytes = encodeCheckpoint(m, { itemIds: ids, extra: { round: '7' } });
      const { model: loaded, checkpoint } = loadModel(bytes);
      try {
        expect(checkpoint.model).toBe(name);
        expect(checkpoint.itemIds).toEqual(ids);
        expect(checkpoint.extra).toEqual({ round: '7' });
        expect(loaded.spec.size).toBe(m.spec.size);
        expect(loaded.spec.weights).toEqual(m.spec.weights);
        expect(loaded.getWeights()).toEqual(m.getWeights());
        // histories without a user id: no local state involved, so the scores must match exactly
        const hs = [history([1, 2, 3]), history([11, 12])];
        expect(loaded.scoreBatch(hs)).toEqual(m.scoreBatch(hs));
      } finally {
        loaded.dispose();
      }
    } finally {
      m.dispose();
    }
  });

  describe('checkpoint rejection', () => {
    /** A safetensors file built by hand from the model's own tensors, with edits. */
    function foreign(
      m: Model,
      edit: (tensors: NamedTensor[], meta: Record<string, string>) => void,
    ): Uint8Array {
      const flat = m.getWeights();
      let off = 0;
      const tensors: NamedTensor[] = m.spec.weights.map((w) => {
        const n = w.shape.reduce((a, b) => a * b, 1);
        const t: NamedTensor = { name: w.name, dtype: 'F32', shape: [...w.shape], data: flat.slice(off, off + n) };
        off += n;
        return t;
      });
      const meta: Record<string, string> = { format: CHECKPOINT_FORMAT, model: name, config: JSON.stringify(m.spec.config) };
      edit(tensors, meta);
      return encodeSafetensors(tensors, meta);
    }

    it('the unedited hand-built file loads (so the rejections below are due to the edits)', () => {
      const m = make(1);
      try {
        const { model } = loadModel(foreign(m, () => {}));
        expect(model.getWeights()).toEqual(m.getWeights());
        model.dispose();
      } finally {
        m.dispose();
      }
    });

    it.each([
      ['wrong format metadata (a PyTorch file)', (_t: NamedTensor[], meta: Record<string, string>) => void (meta.format = 'pt'), /format.*"pt"/],
      ['no format metadata', (_t: NamedTensor[], meta: Record<string, string>) => void delete meta.format, /not a fedrec checkpoint/],
      ['unknown model name', (_t: NamedTensor[], meta: Record<string, string>) => void (meta.model = 'bert4rec'), /bert4rec/],
      ['config without numItems', (_t: NamedTensor[], meta: Record<string, string>) => void (meta.config = '{"dim":8}'), /numItems/],
      ['a missing tensor', (t: NamedTensor[]) => void t.splice(1, 1), /lacks weight \S+/],
      [
        'a tensor of the wrong shape',
        (t: NamedTensor[]) => {
          const w = t.find((x) => x.name === 'item_emb')!;
          w.shape = [w.shape[1], w.shape[0]]; // transposed: same size, wrong layout
        },
        /item_emb.*shape/,
      ],
      [
        'a tensor of the wrong dtype',
        (t: NamedTensor[]) => {
          const w = t.find((x) => x.name === 'item_emb')!;
          w.dtype = 'F64';
          w.data = Float64Array.from(w.data as Float32Array);
        },
        /item_emb.*F64/,
      ],
    ])('rejects %s with a message saying what is wrong', (_what, edit, message) => {
      const m = make(1);
      try {
        const bytes = foreign(m, edit);
        expect(() => readCheckpoint(bytes)).toThrow(message);
        expect(() => loadModel(bytes)).toThrow(message);
      } finally {
        m.dispose();
      }
    });

    it('rejects a missing tensor by name', () => {
      const m = make(1);
      try {
        const dropped = m.spec.weights[1].name;
        expect(() => loadModel(foreign(m, (t) => void t.splice(1, 1)))).toThrow(dropped);
      } finally {
        m.dispose();
      }
    });

    it('rejects corrupt bytes (truncated file, garbage) with an error', () => {
      const m = make(1);
      try {
        const good = encodeCheckpoint(m);
        expect(() => loadModel(good.subarray(0, 4))).toThrow();
        expect(() => loadModel(good.subarray(0, good.length - 16))).toThrow();
        expect(() => loadModel(new Uint8Array(64).fill(0xff))).toThrow();
      } finally {
        m.dispose();
      }
    });

    it('rejects item_ids whose count differs from the model’s numItems', () => {
      const m = make(1);
      try {
        const short = encodeCheckpoint(m, { itemIds: Array.from({ length: N - 1 }, (_, i) => `i${i}`) });
        expect(() => readCheckpoint(short)).toThrow(new RegExp(`${N - 1}.*${N}|${N}.*${N - 1}`));
        const dup = encodeCheckpoint(m, { itemIds: Array.from({ length: N }, (_, i) => `i${Math.min(i, 3)}`) });
        expect(() => readCheckpoint(dup)).toThrow(/item/);
      } finally {
        m.dispose();
      }
    });

    it('encodeWeights rejects a vector that does not fit the spec, naming both lengths', () => {
      const m = make(1);
      try {
        expect(() => encodeWeights(m.spec, new Float32Array(m.spec.size - 2))).toThrow(
          new RegExp(`${m.spec.size - 2}.*${m.spec.size}`),
        );
      } finally {
        m.dispose();
      }
    });
  });

  it.each([
    [{ epochs: -1 }, /epochs.*-1/],
    [{ epochs: 1.5 }, /epochs/],
    [{ batchSize: 0 }, /batchSize.*0/],
    [{ lr: NaN }, /lr.*NaN/],
    [{ lr: 0 }, /lr/],
    [{ lr: Infinity }, /lr/],
    [{ proxMu: -1 }, /proxMu/],
  ] as Array<[Partial<FitOptions>, RegExp]>)('fitLocal rejects %o with a clear error', async (bad, message) => {
    const m = make(1);
    try {
      const before = m.getWeights();
      await expect(m.fitLocal(DATA, fitOpts(bad))).rejects.toThrow(message);
      expect(m.getWeights()).toEqual(before);
    } finally {
      m.dispose();
    }
  });
});

describe('cpu and wasm agree', () => {
  it.each(MODELS)('%s: scoreBatch for the same weights matches across backends', async (name) => {
    const hs = [history([1, 2, 3, 4]), history([17, 3])];
    const weights = Float32Array.from({ length: specOf(name, CONFIGS[name]).size }, (_, i) => Math.sin(i) * 0.3);
    const scoresOn = async (backend: 'cpu' | 'wasm') => {
      await initBackend(backend);
      const m = createModel(name, CONFIGS[name]);
      try {
        m.setWeights(weights);
        return m.scoreBatch(hs);
      } finally {
        m.dispose();
      }
    };
    try {
      const cpu = await scoresOn('cpu');
      const wasm = await scoresOn('wasm');
      expect(wasm.length).toBe(cpu.length);
      cpu.forEach((v, i) => expect(wasm[i]).toBeCloseTo(v, 3));
    } finally {
      await initBackend('wasm');
    }
  });
});

describe('topK', () => {
  it('matches a sort (score desc, lower index first on ties) on random arrays with ties and exclusions', () => {
    const rng = new Rng(99);
    for (let trial = 0; trial < 300; trial++) {
      const n = rng.int(25);
      // few distinct values → many ties
      const scores = Float32Array.from({ length: n }, () => rng.int(5) - 2);
      const exclude = Int32Array.from({ length: rng.int(6) }, () => rng.int(n + 2) - 1); // incl. -1 and ≥ n
      const k = 1 + rng.int(n + 3);
      const got = topK(scores, k, exclude);
      expect(got).toEqual(referenceTopK(scores, k, exclude));
    }
  });

  it('hand-worked example', () => {
    const s = Float32Array.from([0.5, 2, 2, -1, 3, 2]);
    expect(topK(s, 3)).toEqual([4, 1, 2]);
    expect(topK(s, 3, [4, 2])).toEqual([1, 5, 0]);
    expect(topK(s, 10, [0, 1, 2, 3, 4, 5])).toEqual([]);
    expect(topK(s, 6)).toEqual([4, 1, 2, 5, 0, 3]);
  });

  it('NaN scores are never returned', () => {
    const s = Float32Array.from([1, NaN, 3, NaN, 2]);
    expect(topK(s, 5)).toEqual([2, 4, 0]);
    expect(topK(Float32Array.from([NaN, NaN]), 2)).toEqual([]);
  });

  it('k = 0 (or negative) gives a plain empty array', () => {
    const s = Float32Array.from([1, 3, 2]);
    expect(topK(s, 0)).toEqual([]);
    expect(Object.keys(topK(s, 0))).toEqual([]);
    expect(Object.keys(topK(s, -1))).toEqual([]);
  });
});
