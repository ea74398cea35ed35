import { describe, expect, it } from 'vitest';
import {
  CODEC_HEADER_BYTES,
  cryptoRandom,
  decode,
  decodeInto,
  encode,
  f16BitsToF32,
  f32ToF16Bits,
  int8Scale,
  maxAbsError,
  readHeader,
} from '../../protocol/index.ts';
import { mulberry32, thrownCode } from './rng.ts';

function f16BitsOf(x: number): number {
  const bytes = encode(new Float32Array([x]), 'f16');
  return bytes[16] | (bytes[17] << 8);
}

function randomVector(n: number, seed: number, scale = 1): Float32Array {
  const r = mulberry32(seed);
  return Float32Array.from({ length: n }, () => (r() * 2 - 1) * scale);
}

describe('header layout', () => {
  it('is a hand-built 16-byte little-endian header followed by the body', () => {
    const bytes = encode(new Float32Array([1, -2]), 'f32');
    expect([...bytes]).toEqual([
      0x46, 0x52, 0x57, 0x31, // 'FRW1'
      1, // format version
      0, // codec f32
      0, 0, // reserved
      2, 0, 0, 0, // count
      0, 0, 0, 0, // chunkSize
      0x00, 0x00, 0x80, 0x3f, // 1.0f
      0x00, 0x00, 0x00, 0xc0, // -2.0f
    ]);
    expect(readHeader(bytes)).toEqual({ version: 1, codec: 'f32', count: 2, chunkSize: 0, byteLength: 24 });
  });

  it('int8 lays out scales then int8 values', () => {
    const bytes = encode(new Float32Array([127, -63.5, 0]), 'int8', { chunkSize: 2, random: () => 0.5 });
    // 2 chunks: [127, -63.5] scale 1, [0] scale 0
    expect([...bytes.subarray(0, 16)]).toEqual([0x46, 0x52, 0x57, 0x31, 1, 2, 0, 0, 3, 0, 0, 0, 2, 0, 0, 0]);
    const dv = new DataView(bytes.buffer);
    expect(dv.getFloat32(16, true)).toBe(1);
    expect(dv.getFloat32(20, true)).toBe(0);
    // -63.5: floor -64, frac 0.5; random 0.5 is not < 0.5 -> -64
    expect([...new Int8Array(bytes.buffer, 24, 3)]).toEqual([127, -64, 0]);
    expect(bytes.length).toBe(16 + 8 + 3);
  });

  it('encodes the empty vector', () => {
    for (const codec of ['f32', 'f16', 'int8'] as const) {
      const bytes = encode(new Float32Array(0), codec, { random: mulberry32(3) });
      expect(bytes.length).toBe(CODEC_HEADER_BYTES);
      expect(decode(bytes).length).toBe(0);
    }
  });
});

describe('f32', () => {
  it('round-trips bit-exactly, including specials', () => {
    const v = new Float32Array([0, -0, 1, -1, 1e-45, -1e-45, 3.4028234663852886e38, Infinity, -Infinity, NaN, Math.PI]);
    const out = decode(encode(v, 'f32'));
    expect(new Uint32Array(out.buffer)).toEqual(new Uint32Array(v.buffer));
    const r = randomVector(10_001, 1, 1e3);
    expect(decode(encode(r, 'f32'))).toEqual(r);
  });

  it('reads unaligned input (a Buffer slice) and a subarray input', () => {
    const v = randomVector(33, 2);
    const enc = encode(v.subarray(1, 30), 'f32');
    const shifted = Buffer.alloc(enc.length + 3);
    shifted.set(enc, 3);
    expect(decode(shifted.subarray(3))).toEqual(v.subarray(1, 30));
    expect(decode(enc.buffer.slice(0))).toEqual(v.subarray(1, 30)); // ArrayBuffer
  });
});

describe('f16', () => {
  it('matches hand-computed bit patterns', () => {
    const cases: [number, number][] = [
      [1, 0x3c00],
      [-2, 0xc000],
      [0.5, 0x3800],
      [65504, 0x7bff], // largest half
      [2 ** -14, 0x0400], // smallest normal
      [2 ** -24, 0x0001], // smallest subnormal
      [1023 * 2 ** -24, 0x03ff], // largest subnormal
      [0, 0x0000],
      [-0, 0x8000],
      [Infinity, 0x7c00],
      [-Infinity, 0xfc00],
      [1 / 3, 0x3555], // 0.333251953125
      [0.1, 0x2e66], // 0.0999755859375
      [65519, 0x7bff], // below the halfway point to 65536
      [65520, 0x7c00], // halfway, ties to even -> overflow -> Inf
      [-1e6, 0xfc00], // overflow -> -Inf
      [1 + 2 ** -11, 0x3c00], // tie between 0x3c00 and 0x3c01 -> even
      [1 + 3 * 2 ** -11, 0x3c02], // tie between 0x3c01 and 0x3c02 -> even
      [1 + 2 ** -11 + 2 ** -20, 0x3c01], // just above the tie
      [2 ** -25, 0x0000], // tie between 0 and 2^-24 -> even (0)
      [-(2 ** -25), 0x8000],
      [1.5 * 2 ** -25, 0x0001], // above the tie
      [1.5 * 2 ** -24, 0x0002], // tie between 1 and 2 -> even
      [2.5 * 2 ** -24, 0x0002], // tie between 2 and 3 -> even
      [(1024 - 0.5) * 2 ** -24, 0x0400], // subnormal rounding up into the smallest normal
      [1e-10, 0x0000],
    ];
    for (const [x, bits] of cases) {
      expect(f16BitsOf(x), `f16(${x})`).toBe(bits);
      expect(f32ToF16Bits(x), `f32ToF16Bits(${x})`).toBe(bits);
    }
    expect(f16BitsToF32(0x3c00)).toBe(1);
    expect(f16BitsToF32(0x7bff)).toBe(65504);
    expect(f16BitsToF32(0x0001)).toBe(2 ** -24);
    expect(Object.is(f16BitsToF32(0x8000), -0)).toBe(true);
  });

  it('keeps NaN a NaN (as a NaN bit pattern)', () => {
    const bits = f16BitsOf(NaN);
    expect(bits & 0x7c00).toBe(0x7c00);
    expect(bits & 0x03ff).not.toBe(0);
    expect(decode(encode(new Float32Array([NaN, 1]), 'f16'))[0]).toBeNaN();
  });

  it('is exact on every representable half value (all 65,536 patterns)', () => {
    const all = new Float32Array(65536);
    for (let h = 0; h < 65536; h++) all[h] = f16BitsToF32(h);
    const bytes = encode(all, 'f16');
    const back = decode(bytes);
    const wrong: number[] = [];
    let nans = 0;
    for (let h = 0; h < 65536; h++) {
      const isNaN = (h & 0x7c00) === 0x7c00 && (h & 0x3ff) !== 0;
      if (isNaN) {
        if (Number.isNaN(back[h])) nans++;
        else wrong.push(h);
      } else if ((bytes[16 + 2 * h] | (bytes[17 + 2 * h] << 8)) !== h || !Object.is(back[h], all[h])) {
        wrong.push(h); // same bits, so -0 stays -0
      }
    }
    expect(wrong).toEqual([]);
    expect(nans).toBe(2 * 1023);
  });

  it('rounds every float32 to the nearest half, ties to even (against a table search)', () => {
    // The non-negative finite halves in bit order are increasing: search them.
    const halves = Float64Array.from({ length: 0x7c00 }, (_, h) => f16BitsToF32(h));
    const nearest = (a: number): number => {
      if (a >= 65520) return 0x7c00;
      let lo = 0;
      let hi = 0x7bff;
      while (lo < hi) {
        const mid = (lo + hi + 1) >> 1;
        if (halves[mid] <= a) lo = mid;
        else hi = mid - 1;
      }
      if (lo === 0x7bff) return lo;
      const dl = a - halves[lo];
      const dh = halves[lo + 1] - a;
      return dl < dh ? lo : dh < dl ? lo + 1 : lo % 2 === 0 ? lo : lo + 1;
    };
    const r = mulberry32(15);
    const bits = new Uint32Array(200_000);
    for (let i = 0; i < bits.length; i++) {
      bits[i] = Math.floor(r() * 2 ** 32);
      // half of them with a float32 exponent near the half range (2^-27 .. 2^17)
      if (i % 2) bits[i] = ((bits[i] & 0x807fffff) | ((100 + Math.floor(r() * 45)) << 23)) >>> 0;
    }
    const xs = new Float32Array(bits.buffer);
    const wrong: string[] = [];
    for (const x of xs) {
      if (Number.isNaN(x)) continue;
      const want = (x < 0 || Object.is(x, -0) ? 0x8000 : 0) | nearest(Math.abs(x));
      const got = f32ToF16Bits(x);
      if (got !== want && wrong.length < 5) wrong.push(`${x}: got ${got.toString(16)}, want ${want.toString(16)}`);
    }
    expect(wrong).toEqual([]);
  });

  it('has relative error <= 2^-11 in the normal range and rounds to the nearest half', () => {
    const r = mulberry32(3);
    const v = new Float32Array(100_000);
    for (let i = 0; i < v.length; i++) {
      const e = -14 + r() * 30; // magnitudes in [2^-14, 2^16)
      v[i] = (r() < 0.5 ? -1 : 1) * Math.min(65504, 2 ** e);
    }
    const out = decode(encode(v, 'f16'));
    for (let i = 0; i < v.length; i++) {
      const err = Math.abs(out[i] - v[i]);
      if (err > 2 ** -11 * Math.abs(v[i])) throw new Error(`f16(${v[i]}) = ${out[i]}: relative error ${err / Math.abs(v[i])}`);
    }
    expect(maxAbsError('f16', v)).toBeGreaterThanOrEqual(Math.max(...v.map((x, i) => Math.abs(out[i] - x))));
  });

  it('has absolute error <= 2^-25 in the subnormal range', () => {
    const r = mulberry32(4);
    const v = Float32Array.from({ length: 10_000 }, () => (r() * 2 - 1) * 2 ** -14);
    const out = decode(encode(v, 'f16'));
    for (let i = 0; i < v.length; i++) expect(Math.abs(out[i] - v[i])).toBeLessThanOrEqual(2 ** -25);
    expect(maxAbsError('f16', v)).toBe(2 ** -25);
  });

  it('maxAbsError is Infinity on overflow', () => {
    expect(maxAbsError('f16', new Float32Array([70000]))).toBe(Infinity);
  });
});

describe('int8', () => {
  it('needs a random source and finite inputs', () => {
    expect(thrownCode(() => encode(new Float32Array([1]), 'int8')).code).toBe('codec');
    expect(thrownCode(() => encode(new Float32Array([1, NaN]), 'int8', { random: mulberry32(4) })).code).toBe('non-finite');
    expect(thrownCode(() => encode(new Float32Array([Infinity]), 'int8', { random: mulberry32(4) })).code).toBe('non-finite');
    expect(thrownCode(() => encode(new Float32Array([1]), 'int8', { random: mulberry32(4), chunkSize: 0 })).code).toBe('codec');
    expect(thrownCode(() => encode(new Float32Array([1]), 'int8', { random: mulberry32(4), chunkSize: 1.5 })).code).toBe('codec');
  });

  it('errs by less than its chunk scale on every element', () => {
    const v = randomVector(5000, 5, 3);
    v[17] = 0;
    v.fill(0, 256, 512); // an all-zero chunk: scale 0, exact zeros
    for (let i = 1000; i < 1256; i++) v[i] *= 1e-30; // a tiny-magnitude chunk
    const bytes = encode(v, 'int8', { random: mulberry32(6) });
    const out = decode(bytes);
    const dv = new DataView(bytes.buffer);
    for (let i = 0; i < v.length; i++) {
      const scale = dv.getFloat32(16 + 4 * Math.floor(i / 256), true);
      const err = Math.abs(out[i] - v[i]);
      if (!(err <= scale * (1 + 2 ** -20))) throw new Error(`element ${i}: |${out[i]} - ${v[i]}| > scale ${scale}`);
    }
    expect(dv.getFloat32(16 + 4, true)).toBe(0);
    expect([...out.subarray(256, 512)].every((x) => x === 0)).toBe(true);
    expect(out[17]).toBe(0);
    const bound = maxAbsError('int8', v);
    for (let i = 0; i < v.length; i++) expect(Math.abs(out[i] - v[i])).toBeLessThanOrEqual(bound);
  });

  it('chooses a float32 scale with |x / scale| <= 127', () => {
    const r = mulberry32(7);
    for (let k = 0; k < 3000; k++) {
      const m = Math.fround(2 ** (r() * 160 - 100)); // normal float32 range for m / 127
      const s = int8Scale(m);
      expect(Math.fround(s)).toBe(s);
      expect(m / s).toBeLessThanOrEqual(127);
      expect(m / s).toBeGreaterThan(126.9);
    }
    expect(int8Scale(0)).toBe(0);
    const tiny = 1e-45; // smallest float32 subnormal: max/127 underflows to 0 in float32
    expect(int8Scale(tiny)).toBeGreaterThan(0);
    const q = decode(encode(new Float32Array([tiny, -tiny]), 'int8', { random: mulberry32(5) }));
    expect(Math.abs(q[0] - tiny)).toBeLessThanOrEqual(int8Scale(tiny));
  });

  it('is unbiased: the mean of many stochastic encodings is within CLT bounds of x', () => {
    const n = 64;
    const K = 4000;
    const v = randomVector(n, 8, 0.05);
    const random = mulberry32(9);
    const sum = new Float64Array(n);
    let scale = 0;
    for (let k = 0; k < K; k++) {
      const bytes = encode(v, 'int8', { random, chunkSize: n });
      scale = new DataView(bytes.buffer).getFloat32(16, true);
      const out = decode(bytes);
      for (let i = 0; i < n; i++) sum[i] += out[i];
    }
    // Each decode is x + scale·(Bernoulli(p) − p): per-element sd <= scale/2, so the mean's sd <= scale/(2√K).
    const sd = scale / (2 * Math.sqrt(K));
    let worst = 0;
    for (let i = 0; i < n; i++) worst = Math.max(worst, Math.abs(sum[i] / K - v[i]) / sd);
    expect(worst).toBeLessThan(5);
    // and it is not simply deterministic rounding: individual encodings vary
    const a = encode(v, 'int8', { random, chunkSize: n });
    const b = encode(v, 'int8', { random, chunkSize: n });
    expect(a).not.toEqual(b);
  });

  it('is reproducible with a seeded random source', () => {
    const v = randomVector(1000, 10);
    expect(encode(v, 'int8', { random: mulberry32(1) })).toEqual(encode(v, 'int8', { random: mulberry32(1) }));
  });

  it('works with the CSPRNG source', () => {
    const random = cryptoRandom();
    let s = 0;
    for (let i = 0; i < 10_000; i++) {
      const x = random();
      expect(x >= 0 && x < 1).toBe(true);
      s += x;
    }
    // About the CSPRNG, so not seedable: 0.02 is 6.9 standard errors (√(1/12)/100), which a
    // correct source exceeds with probability ≈ 4e-12.
    expect(Math.abs(s / 10_000 - 0.5), `mean ${s / 10_000} of 10,000 draws`).toBeLessThan(0.02);
    const v = randomVector(300, 11);
    const out = decode(encode(v, 'int8', { random, chunkSize: 100 }));
    expect(Math.max(...out.map((x, i) => Math.abs(x - v[i])))).toBeLessThanOrEqual(maxAbsError('int8', v, { chunkSize: 100 }));
  });
});

describe('decode rejects corrupt payloads with ProtocolError(codec)', () => {
  const good = {
    f32: encode(new Float32Array([1, 2, 3]), 'f32'),
    f16: encode(new Float32Array([1, 2, 3]), 'f16'),
    int8: encode(new Float32Array([1, 2, 3]), 'int8', { random: () => 0.5, chunkSize: 2 }),
  };
  const mutate = (b: Uint8Array, f: (c: Uint8Array, dv: DataView) => void): Uint8Array => {
    const c = b.slice();
    f(c, new DataView(c.buffer));
    return c;
  };
  const cases: [string, Uint8Array, RegExp][] = [
    ['empty', new Uint8Array(0), /truncated/],
    ['truncated header', good.f32.subarray(0, 10), /truncated/],
    ['truncated body', good.f32.subarray(0, good.f32.length - 1), /truncated/],
    ['truncated int8 body', good.int8.subarray(0, good.int8.length - 1), /truncated/],
    ['trailing bytes', Uint8Array.from([...good.f16, 0]), /trailing/],
    ['wrong magic', mutate(good.f32, (c) => (c[0] = 0x47)), /magic/],
    ['future format version', mutate(good.f32, (c) => (c[4] = 2)), /format version 2/],
    ['bad codec byte', mutate(good.f32, (c) => (c[5] = 7)), /codec byte 7/],
    ['reserved bits set', mutate(good.f32, (c) => (c[6] = 1)), /reserved/],
    ['count too large', mutate(good.f32, (_c, dv) => dv.setUint32(8, 4, true)), /must be 32 bytes/],
    ['count too small', mutate(good.f16, (_c, dv) => dv.setUint32(8, 2, true)), /trailing/],
    ['count huge', mutate(good.f32, (_c, dv) => dv.setUint32(8, 0xffffffff, true)), /truncated/],
    ['chunkSize on f32', mutate(good.f32, (_c, dv) => dv.setUint32(12, 2, true)), /chunkSize 0/],
    ['int8 chunkSize 0', mutate(good.int8, (_c, dv) => dv.setUint32(12, 0, true)), /chunkSize 0 is outside/],
    ['int8 chunkSize changes the scale count', mutate(good.int8, (_c, dv) => dv.setUint32(12, 3, true)), /trailing/],
    ['NaN scale', mutate(good.int8, (_c, dv) => dv.setFloat32(16, NaN, true)), /invalid scale NaN/],
    ['Infinity scale', mutate(good.int8, (_c, dv) => dv.setFloat32(20, Infinity, true)), /invalid scale Infinity/],
    ['negative scale', mutate(good.int8, (_c, dv) => dv.setFloat32(16, -1, true)), /invalid scale -1/],
    ['int8 value -128', mutate(good.int8, (c) => (c[c.length - 1] = 0x80)), /-128/],
  ];
  it.each(cases)('%s', (_name, bytes, pattern) => {
    const r = thrownCode(() => decode(bytes));
    expect(r.code).toBe('codec');
    expect(r.message).toMatch(pattern);
  });

  it('rejects non-binary input', () => {
    expect(thrownCode(() => decode('FRW1' as unknown as Uint8Array)).code).toBe('codec');
    expect(thrownCode(() => decode(null as unknown as Uint8Array)).code).toBe('codec');
  });

  it('decodes the good ones', () => {
    expect([...decode(good.f32)]).toEqual([1, 2, 3]);
    expect([...decode(good.f16)]).toEqual([1, 2, 3]);
    expect(decode(good.int8).length).toBe(3);
  });
});

describe('decodeInto', () => {
  it('writes into the given array and checks its length (shape)', () => {
    const v = randomVector(10, 12);
    const out = new Float32Array(10);
    expect(decodeInto(encode(v, 'f32'), out)).toBe(out);
    expect(out).toEqual(v);
    const r = thrownCode(() => decodeInto(encode(v, 'f32'), new Float32Array(9)));
    expect(r.code).toBe('shape');
    expect(r.message).toBe('payload has 10 elements, expected 9');
  });

  it('leaves the target untouched when an int8 payload is invalid', () => {
    const bytes = encode(new Float32Array([1, 2, 3, 4]), 'int8', { random: () => 0.5, chunkSize: 2 });
    new DataView(bytes.buffer).setFloat32(20, NaN, true); // second chunk's scale
    const out = new Float32Array([9, 9, 9, 9]);
    expect(thrownCode(() => decodeInto(bytes, out)).code).toBe('codec');
    expect([...out]).toEqual([9, 9, 9, 9]);
  });

  it('writes into a subarray view', () => {
    const big = new Float32Array(8).fill(-1);
    decodeInto(encode(new Float32Array([1, 2]), 'f16'), big.subarray(3, 5));
    expect([...big]).toEqual([-1, -1, -1, 1, 2, -1, -1, -1]);
  });
});

describe('maxAbsError', () => {
  it('is 0 for f32 and bounds the other codecs', () => {
    const v = randomVector(2000, 13, 10);
    expect(maxAbsError('f32', v)).toBe(0);
    for (const codec of ['f16', 'int8'] as const) {
      const out = decode(encode(v, codec, { random: mulberry32(14) }));
      const actual = Math.max(...out.map((x, i) => Math.abs(x - v[i])));
      expect(actual).toBeLessThanOrEqual(maxAbsError(codec, v));
      expect(actual).toBeGreaterThan(0);
    }
  });
});
