// Seeded pseudo-random numbers. Browser-safe: no Node imports.
//
// Generator: sfc32 (Chris Doty-Humphrey's Small Fast Chaotic PRNG, 128-bit
// state, 32-bit output), seeded from a uint32 seed by four outputs of
// splitmix32, then warmed up by discarding 12 outputs. `next()` has 32 bits
// of resolution (multiples of 2^-32). Streams are reproducible across
// platforms: only 32-bit integer arithmetic (Math.imul, |0, >>>) is used.

const TWO_POW_32 = 4294967296;

/** splitmix32 finaliser: a bijective avalanche mix of a uint32. */
export function mix32(x: number): number {
  let z = x >>> 0;
  z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
  z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
  return (z ^ (z >>> 16)) >>> 0;
}

/** FNV-1a hash of a string's UTF-16 code units, as a uint32. */
export function hashString(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) {
    h = Math.imul(h ^ s.charCodeAt(i), 0x01000193);
  }
  return h >>> 0;
}

function seedToUint32(seed: number): number {
  if (!Number.isFinite(seed)) throw new Error(`Rng seed must be a finite number, got ${seed}`);
  // Integers map to themselves mod 2^32; fractional seeds are hashed by their text.
  return Number.isInteger(seed) ? Number(BigInt.asUintN(32, BigInt(seed))) : hashString(String(seed));
}

function labelToUint32(label: number | string): number {
  if (typeof label === 'number' && Number.isInteger(label)) return seedToUint32(label);
  return hashString(String(label));
}

/**
 * Index i of the first entry with cum[i] > u * total, where cum holds
 * non-decreasing cumulative weights (not necessarily normalised) and
 * u is in [0, 1). Entries with zero weight (cum[i] == cum[i-1]) are never chosen.
 */
export function sampleCumulative(cum: Float64Array, u: number): number {
  const n = cum.length;
  if (n === 0) throw new Error('sampleCumulative: empty weight array');
  const target = u * cum[n - 1];
  let lo = 0;
  let hi = n - 1;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (cum[mid] > target) hi = mid;
    else lo = mid + 1;
  }
  return lo;
}

/** Cumulative sums of non-negative weights, for use with sampleCumulative. */
export function cumulative(weights: ArrayLike<number>): Float64Array {
  const cum = new Float64Array(weights.length);
  let total = 0;
  for (let i = 0; i < weights.length; i++) {
    const w = weights[i];
    if (!(w >= 0) || !Number.isFinite(w)) throw new Error(`weight ${i} must be finite and >= 0, got ${w}`);
    total += w;
    cum[i] = total;
  }
  return cum;
}

export class Rng {
  /** The uint32 seed this stream was created from (forks derive from it). */
  readonly seed: number;
  private a = 0;
  private b = 0;
  private c = 0;
  private d = 0;
  private spareNormal: number | null = null;

  constructor(seed: number) {
    this.seed = seedToUint32(seed);
    let s = this.seed;
    const nextSplit = (): number => {
      s = (s + 0x9e3779b9) >>> 0;
      return mix32(s);
    };
    this.a = nextSplit();
    this.b = nextSplit();
    this.c = nextSplit();
    this.d = nextSplit();
    for (let i = 0; i < 12; i++) this.nextUint32();
  }

  /** Next raw 32-bit output of sfc32, as an unsigned integer. */
  nextUint32(): number {
    const t = (((this.a + this.b) | 0) + this.d) | 0;
    this.d = (this.d + 1) | 0;
    this.a = this.b ^ (this.b >>> 9);
    this.b = (this.c + (this.c << 3)) | 0;
    this.c = (this.c << 21) | (this.c >>> 11);
    this.c = (this.c + t) | 0;
    return t >>> 0;
  }

  /** Uniform in [0, 1). */
  next(): number {
    return this.nextUint32() / TWO_POW_32;
  }

  /** Uniform integer in 0..n-1 (n a positive integer <= 2^32). */
  int(n: number): number {
    if (!Number.isInteger(n) || n < 1 || n > TWO_POW_32) {
      throw new Error(`Rng.int: n must be an integer in 1..2^32, got ${n}`);
    }
    return Math.floor(this.next() * n);
  }

  /** Standard normal N(0, 1) by the Marsaglia polar method. */
  normal(): number {
    if (this.spareNormal !== null) {
      const v = this.spareNormal;
      this.spareNormal = null;
      return v;
    }
    for (;;) {
      const x = 2 * this.next() - 1;
      const y = 2 * this.next() - 1;
      const s = x * x + y * y;
      if (s > 0 && s < 1) {
        const f = Math.sqrt((-2 * Math.log(s)) / s);
        this.spareNormal = y * f;
        return x * f;
      }
    }
  }

  /** Exponential with mean 1. */
  exponential(): number {
    return -Math.log(1 - this.next());
  }

  /** Gamma(shape, scale 1) by Marsaglia–Tsang; shape < 1 via the u^(1/shape) boost. */
  gamma(shape: number): number {
    if (!(shape > 0) || !Number.isFinite(shape)) throw new Error(`Rng.gamma: shape must be > 0, got ${shape}`);
    if (shape < 1) return this.gamma(shape + 1) * Math.pow(this.next(), 1 / shape);
    const d = shape - 1 / 3;
    const c = 1 / Math.sqrt(9 * d);
    for (;;) {
      let x: number;
      let v: number;
      do {
        x = this.normal();
        v = 1 + c * x;
      } while (v <= 0);
      v = v * v * v;
      const u = this.next();
      const x2 = x * x;
      if (u < 1 - 0.0331 * x2 * x2) return d * v;
      if (Math.log(u) < 0.5 * x2 + d * (1 - v + Math.log(v))) return d * v;
    }
  }

  /** A probability vector ~ Dirichlet(alpha). Sums to 1. */
  dirichlet(alpha: readonly number[]): number[] {
    if (alpha.length === 0) throw new Error('Rng.dirichlet: alpha must not be empty');
    const g = alpha.map((a) => this.gamma(a));
    const total = g.reduce((s, x) => s + x, 0);
    if (total > 0 && Number.isFinite(total)) return g.map((x) => x / total);
    // Every draw underflowed (tiny alphas): the limit is a one-hot vector.
    const out = alpha.map(() => 0);
    out[this.choice(alpha)] = 1;
    return out;
  }

  /** Index sampled with probability proportional to (non-cumulative) weights. */
  choice(weights: ArrayLike<number>): number {
    let total = 0;
    for (let i = 0; i < weights.length; i++) total += weights[i];
    if (!(total > 0) || !Number.isFinite(total)) throw new Error('Rng.choice: weights must have a positive finite sum');
    const target = this.next() * total;
    let acc = 0;
    for (let i = 0; i < weights.length; i++) {
      acc += weights[i];
      if (acc > target) return i;
    }
    // Rounding can leave target == acc; return the last positive weight.
    for (let i = weights.length - 1; i >= 0; i--) if (weights[i] > 0) return i;
    return weights.length - 1;
  }

  /** Index sampled from cumulative weights (see sampleCumulative). */
  choiceCumulative(cum: Float64Array): number {
    return sampleCumulative(cum, this.next());
  }

  /** Fisher–Yates shuffle in place; returns the same array. */
  shuffle<T extends { length: number; [i: number]: unknown }>(arr: T): T {
    for (let i = arr.length - 1; i > 0; i--) {
      const j = this.int(i + 1);
      const tmp = arr[i];
      arr[i] = arr[j];
      arr[j] = tmp;
    }
    return arr;
  }

  /**
   * An independent stream derived from this stream's seed and a label.
   * Depends only on (seed, label), not on how many numbers were drawn, so
   * `new Rng(s).fork('x')` always gives the same stream.
   */
  fork(label: number | string): Rng {
    const l = labelToUint32(label);
    const derived = mix32((mix32(this.seed ^ 0x5bd1e995) + mix32((l + 0x6a09e667) >>> 0)) >>> 0);
    return new Rng(derived);
  }
}
