// Clipping (privacy/clipping): the L2 clip of one contribution and the
// adaptive clip-norm update of Andrew, Thakkar, McMahan & Ramaswamy 2021
// ("Differentially Private Learning with Adaptive Clipping"). Expected values
// are hand computations (given in the comments) or properties of the clip.
import { describe, expect, it } from 'vitest';
import {
  ADAPTIVE_CLIP_DEFAULTS,
  clipInPlace,
  fractionUnderClip,
  l2Norm,
  nextClipNorm,
  updateNoiseMultiplier,
} from '../../privacy/clipping/index.ts';
import { Rng } from '../../recommender/random.ts';

const relErr = (a: number, b: number): number => Math.abs(a - b) / Math.abs(b);

/** Float64 norm of any array, written out here (independent of l2Norm). */
function norm64(v: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < v.length; i++) s += v[i] * v[i];
  return Math.sqrt(s);
}

function cosine(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let dot = 0;
  for (let i = 0; i < a.length; i++) dot += a[i] * b[i];
  return dot / (norm64(a) * norm64(b));
}

/** A float32 vector of n values, roughly Gaussian, times `scale`, with some exact zeros. */
function randomVector(rng: Rng, n: number, scale: number): Float32Array {
  const v = new Float32Array(n);
  for (let i = 0; i < n; i++) v[i] = rng.next() < 0.05 ? 0 : rng.normal() * scale;
  return v;
}

describe('l2Norm', () => {
  it('hand values', () => {
    expect(l2Norm([3, 4])).toBe(5);
    expect(l2Norm(Float32Array.of(1, 2, 2))).toBe(3);
    expect(l2Norm([])).toBe(0);
    expect(l2Norm([-5, 0, 12])).toBe(13);
    // accumulated in float64: (1e20, 1e20) does not overflow float32-style
    expect(relErr(l2Norm(Float32Array.of(1e20, 1e20)), Math.SQRT2 * Math.fround(1e20))).toBeLessThan(1e-15);
  });
});

describe('clipInPlace', () => {
  it('returns the pre-clip norm: (3, 4) has norm 5 whether or not it is clipped', () => {
    const a = Float32Array.of(3, 4);
    expect(clipInPlace(a, 1)).toBe(5);
    const b = Float32Array.of(3, 4);
    expect(clipInPlace(b, 10)).toBe(5);
    const c = Float32Array.of(3, 4);
    expect(clipInPlace(c, null)).toBe(5);
  });

  it('clips (3, 4) to norm 1 along (0.6, 0.8)', () => {
    const v = Float32Array.of(3, 4);
    clipInPlace(v, 1);
    expect(norm64(v)).toBeLessThanOrEqual(1);
    expect(norm64(v)).toBeGreaterThanOrEqual(1 - 2e-6);
    expect(Math.abs(v[0] - 0.6)).toBeLessThan(2e-6);
    expect(Math.abs(v[1] - 0.8)).toBeLessThan(2e-6);
  });

  it('leaves vectors at or under the clip unchanged bit for bit', () => {
    const rng = new Rng(17);
    for (const n of [1, 5, 100, 4096]) {
      const v = randomVector(rng, n, 0.01);
      const before = new Uint32Array(Float32Array.from(v).buffer);
      const nrm = norm64(v);
      expect(clipInPlace(v, nrm * 1.5)).toBe(nrm);
      expect(new Uint32Array(v.buffer)).toEqual(before);
      // exactly at the clip: not shortened
      expect(clipInPlace(v, nrm)).toBe(nrm);
      expect(new Uint32Array(v.buffer)).toEqual(before);
    }
    const edge = Float32Array.of(3, 4);
    clipInPlace(edge, 5);
    expect(Array.from(edge)).toEqual([3, 4]);
    const zero = new Float32Array(10);
    expect(clipInPlace(zero, 1e-9)).toBe(0);
    expect(zero.every((x) => x === 0)).toBe(true);
    const empty = new Float32Array(0);
    expect(clipInPlace(empty, 1)).toBe(0);
  });

  it('null clip norm leaves even a huge vector unchanged', () => {
    const rng = new Rng(18);
    const v = randomVector(rng, 1000, 1e30);
    const copy = Float32Array.from(v);
    const nrm = clipInPlace(v, null);
    expect(relErr(nrm, norm64(copy))).toBeLessThan(1e-15);
    expect(nrm).toBeGreaterThan(1e30);
    expect(Array.from(v)).toEqual(Array.from(copy));
  });

  it('random vectors, sizes 1..100000, magnitudes 1e-30..1e30: float32 result within [C(1 − 2e-6), C], direction kept', () => {
    const rng = new Rng(2021);
    let checked = 0;
    for (const n of [1, 2, 3, 7, 64, 1000, 12345, 100000]) {
      for (const scale of [1e-30, 1e-8, 1e-3, 1, 1e4, 1e30]) {
        const v = randomVector(rng, n, scale);
        if (n === 1 && v[0] === 0) v[0] = scale;
        const orig = Float32Array.from(v);
        const nrm = norm64(orig);
        // clip norms well below the norm and just below it, plus absolute ones when they bind
        const clips = [nrm * 1e-3, nrm * (0.05 + 0.9 * rng.next()), nrm * (1 - 1e-5), 1, 1e-6].filter(
          (c) => c < nrm && c > nrm * 1e-12,
        );
        for (const C of clips) {
          const w = Float32Array.from(orig);
          const pre = clipInPlace(w, C);
          expect(relErr(pre, nrm)).toBeLessThan(1e-12);
          const after = norm64(w);
          expect(after, `n=${n} scale=${scale} C=${C}`).toBeLessThanOrEqual(C);
          expect(after, `n=${n} scale=${scale} C=${C}`).toBeGreaterThanOrEqual(C * (1 - 2e-6));
          expect(Math.abs(cosine(w, orig) - 1)).toBeLessThan(1e-6);
          // zeros stay zero and signs are kept
          for (let i = 0; i < n; i += Math.max(1, Math.floor(n / 500))) {
            expect(Math.sign(w[i])).toBe(Math.sign(orig[i]));
          }
          checked++;
        }
      }
    }
    expect(checked).toBeGreaterThan(150);
  });

  it('float32 rounding never pushes the result over the clip (many small random vectors)', () => {
    const rng = new Rng(77);
    for (let t = 0; t < 3000; t++) {
      const n = 1 + rng.int(40);
      const v = randomVector(rng, n, 10 ** (rng.int(21) - 10));
      const nrm = norm64(v);
      if (nrm === 0) continue;
      const C = nrm * (0.001 + 0.998 * rng.next());
      clipInPlace(v, C);
      const after = norm64(v);
      expect(after).toBeLessThanOrEqual(C);
      expect(after).toBeGreaterThanOrEqual(C * (1 - 2e-6));
    }
  });
});

describe('updateNoiseMultiplier (Andrew et al. 2021, Theorem 1)', () => {
  it('z = 1, σ_b = 0.05·100 = 5: the value published in the issue', () => {
    // (1 − 1/100)^(−1/2) = 0.99^(−1/2) = 1.005037815259212…
    expect(relErr(updateNoiseMultiplier(1, 5), 1.005037815259212)).toBeLessThan(1e-12);
  });

  it('hand values of (z⁻² − (2σ_b)⁻²)^(−1/2)', () => {
    // z = 0.6, σ_b = 0.5: 1/0.36 − 1 = 16/9 → 3/4
    expect(relErr(updateNoiseMultiplier(0.6, 0.5), 0.75)).toBeLessThan(1e-12);
    // z = 2, σ_b = 2: 1/4 − 1/16 = 3/16 → 4/√3 = 2.3094010767585030
    expect(relErr(updateNoiseMultiplier(2, 2), 2.309401076758503)).toBeLessThan(1e-12);
    // z = 1.25, σ_b = 5/6 (2σ_b = 5/3): 0.64 − 0.36 = 0.28 → 1/√0.28 = 1.8898223650461361
    expect(relErr(updateNoiseMultiplier(1.25, 5 / 6), 1.889822365046136)).toBeLessThan(1e-12);
  });

  it('always above z, approaching z as the count noise grows', () => {
    for (const z of [0.3, 1, 4]) {
      let prev = Infinity;
      for (const sb of [z, 2 * z, 10 * z, 1000 * z]) {
        const r = updateNoiseMultiplier(z, sb);
        expect(r).toBeGreaterThan(z);
        expect(r).toBeLessThan(prev);
        prev = r;
      }
      expect(relErr(updateNoiseMultiplier(z, 1e6 * z), z)).toBeLessThan(1e-9);
    }
  });

  it('throws a RangeError when the count noise alone exceeds the budget (2σ_b ≤ z) or inputs are not positive', () => {
    expect(() => updateNoiseMultiplier(1, 0.5)).toThrow(RangeError); // 2σ_b = z
    expect(() => updateNoiseMultiplier(1, 0.4)).toThrow(RangeError);
    expect(() => updateNoiseMultiplier(3, 1)).toThrow(/σ_b/);
    for (const z of [0, -1, NaN, Infinity]) expect(() => updateNoiseMultiplier(z, 5)).toThrow(RangeError);
    for (const sb of [0, -2, NaN, Infinity]) expect(() => updateNoiseMultiplier(1, sb)).toThrow(RangeError);
  });
});

describe('fractionUnderClip', () => {
  it('maps the signed count Σ(2b − 1) over e contributions to the fraction under the clip', () => {
    expect(fractionUnderClip(100, 100)).toBe(1); // all under
    expect(fractionUnderClip(-100, 100)).toBe(0); // all over
    expect(fractionUnderClip(0, 100)).toBe(0.5); // half
    expect(fractionUnderClip(50, 100)).toBe(0.75); // 75 under, 25 over: 75 − 25 = 50
    expect(fractionUnderClip(-6, 10)).toBeCloseTo(0.2, 15); // 2 under, 8 over
    expect(fractionUnderClip(7, 7)).toBe(1);
  });
});

describe('nextClipNorm', () => {
  it('b̄ = γ leaves the clip unchanged', () => {
    for (const C of [0.1, 1, 37]) expect(nextClipNorm(C, 0.5, 0.5, 0.2)).toBe(C);
  });

  it('b̄ = 1, γ = 0.5, η = 0.2: C·exp(−0.1)', () => {
    for (const C of [1, 2.5, 0.01]) {
      expect(relErr(nextClipNorm(C, 1, 0.5, 0.2), 0.9048374180359595 * C)).toBeLessThan(1e-14);
    }
  });

  it('moves up when fewer than γ are under the clip, and down when more', () => {
    // b̄ = 0, γ = 0.5, η = 0.2: C·exp(0.1) = 1.1051709180756477·C
    expect(relErr(nextClipNorm(3, 0, 0.5, 0.2), 3 * 1.1051709180756477)).toBeLessThan(1e-14);
    expect(nextClipNorm(1, 0.3, 0.5, 0.2)).toBeGreaterThan(1);
    expect(nextClipNorm(1, 0.7, 0.5, 0.2)).toBeLessThan(1);
  });

  it('is geometric: two steps compose to one with the summed error', () => {
    const C = 1.7;
    const two = nextClipNorm(nextClipNorm(C, 0.9, 0.5, 0.2), 0.2, 0.5, 0.2);
    // exp(−0.2·(0.4 − 0.3)) = exp(−0.02)
    expect(relErr(two, C * Math.exp(-0.02))).toBeLessThan(1e-14);
  });
});

describe('ADAPTIVE_CLIP_DEFAULTS', () => {
  it('median target, η = 0.2 and σ_b = 5% of the expected contributions (Andrew et al. 2021)', () => {
    expect(ADAPTIVE_CLIP_DEFAULTS.targetQuantile).toBe(0.5);
    expect(ADAPTIVE_CLIP_DEFAULTS.learningRate).toBe(0.2);
    expect(ADAPTIVE_CLIP_DEFAULTS.countNoiseFraction).toBe(0.05);
    // with 100 expected clients and z = 1 this gives the published z_Δ
    const sb = ADAPTIVE_CLIP_DEFAULTS.countNoiseFraction * 100;
    expect(relErr(updateNoiseMultiplier(1, sb), 1.005037815259212)).toBeLessThan(1e-12);
  });
});
