// Randomness sources for the exact noise samplers in privacy/noise.
//
// Everything here is browser-safe: the only platform dependency is the global
// `crypto.getRandomValues` (present in browsers and in Node ≥ 19 / 20).
// All uniform draws are exact (rejection sampling, no modulo bias, no floats).

/** A source of exact uniform randomness. */
export interface RandomSource {
  /** A uniform integer in [0, n); n must be ≥ 1. */
  uniformBelow(n: bigint): bigint;
  /** A fair coin. */
  bit(): boolean;
}

const TWO_32 = 0x1_0000_0000;

/**
 * Shared machinery: subclasses only supply uniform 32-bit words; uniform
 * integers below n are built from them by exact rejection sampling.
 */
export abstract class WordRandomSource implements RandomSource {
  private bitWord = 0;
  private bitsLeft = 0;

  /** A uniform integer in [0, 2^32). */
  protected abstract nextWord(): number;

  bit(): boolean {
    if (this.bitsLeft === 0) {
      this.bitWord = this.nextWord();
      this.bitsLeft = 32;
    }
    const b = this.bitWord & 1;
    this.bitWord >>>= 1;
    this.bitsLeft--;
    return b === 1;
  }

  /** Uniform integer in [0, n) for a JS integer 1 ≤ n ≤ 2^32 (exact: all values < 2^53). */
  uniformBelowNumber(n: number): number {
    if (!Number.isInteger(n) || n < 1 || n > TWO_32) {
      throw new RangeError(`uniformBelowNumber: n must be an integer in [1, 2^32], got ${n}`);
    }
    if (n === 1) return 0;
    // Accept only words below the largest multiple of n that fits in 2^32.
    const limit = TWO_32 - (TWO_32 % n);
    for (;;) {
      const w = this.nextWord();
      if (w < limit) return w % n;
    }
  }

  uniformBelow(n: bigint): bigint {
    if (typeof n !== 'bigint' || n < 1n) {
      throw new RangeError(`uniformBelow: n must be a bigint ≥ 1, got ${String(n)}`);
    }
    if (n <= 0x1_0000_0000n) return BigInt(this.uniformBelowNumber(Number(n)));
    // Multi-word: draw bitLength(n-1) bits, reject values ≥ n (acceptance > 1/2).
    const m = n - 1n;
    const bits = m.toString(2).length;
    const words = Math.ceil(bits / 32);
    const topBits = bits - 32 * (words - 1);
    const topMask = topBits === 32 ? 0xffffffff : (1 << topBits) - 1;
    for (;;) {
      let r = BigInt((this.nextWord() & topMask) >>> 0);
      for (let i = 1; i < words; i++) r = (r << 32n) | BigInt(this.nextWord());
      if (r < n) return r;
    }
  }
}

/**
 * Cryptographically secure source backed by `crypto.getRandomValues`,
 * buffered (one call per `bufferWords` words). This is the default for noise.
 */
export class CryptoRandomSource extends WordRandomSource {
  private readonly buf: Uint32Array;
  private pos: number;

  constructor(bufferWords = 1024) {
    super();
    const c = (globalThis as { crypto?: { getRandomValues?: unknown } }).crypto;
    if (!c || typeof c.getRandomValues !== 'function') {
      throw new Error('CryptoRandomSource: crypto.getRandomValues is not available in this environment');
    }
    if (!Number.isInteger(bufferWords) || bufferWords < 1 || bufferWords > 16384) {
      // getRandomValues accepts at most 65536 bytes per call.
      throw new RangeError('CryptoRandomSource: bufferWords must be an integer in [1, 16384]');
    }
    this.buf = new Uint32Array(bufferWords);
    this.pos = bufferWords;
  }

  protected nextWord(): number {
    if (this.pos === this.buf.length) {
      globalThis.crypto.getRandomValues(this.buf);
      this.pos = 0;
    }
    return this.buf[this.pos++];
  }
}

/** MurmurHash3 32-bit finaliser: a bijective avalanche mix on 32-bit words. */
function fmix32(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/**
 * Deterministic counter-based generator for tests and simulations.
 *
 * Word i = mix(key, i) for a 64-bit counter i, so a stream is reproducible
 * from its seed and position. It is built on a simple non-cryptographic hash
 * (MurmurHash3's finaliser) and is predictable from its output:
 * NOT FOR PRODUCTION NOISE — use CryptoRandomSource for anything that must
 * carry a differential-privacy guarantee.
 */
export class SeededRandomSource extends WordRandomSource {
  private readonly k0: number;
  private readonly k1: number;
  private lo = 0;
  private hi = 0;

  constructor(seed: number | bigint = 0) {
    super();
    let s = BigInt.asUintN(64, typeof seed === 'bigint' ? seed : BigInt(Math.trunc(seed)));
    this.k0 = fmix32(Number(s & 0xffffffffn) ^ 0x9e3779b9);
    s >>= 32n;
    this.k1 = fmix32((Number(s) ^ 0x7f4a7c15) + this.k0);
  }

  protected nextWord(): number {
    // Two keyed mixing rounds over the (hi, lo) counter.
    const a = fmix32((this.lo ^ this.k0) + Math.imul(this.hi, 0x9e3779b1));
    const w = fmix32((a ^ this.k1) + Math.imul(this.lo, 0x85ebca77) + 0x27d4eb2f);
    this.lo = (this.lo + 1) >>> 0;
    if (this.lo === 0) this.hi = (this.hi + 1) >>> 0;
    return w;
  }
}

let defaultSource: RandomSource | undefined;

/** The process-wide default source (a lazily created CryptoRandomSource). */
export function defaultRandomSource(): RandomSource {
  if (!defaultSource) defaultSource = new CryptoRandomSource();
  return defaultSource;
}
