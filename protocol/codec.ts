// Binary codec for flat Float32Array weight vectors and updates. Browser-safe.
//
// Layout (all little-endian), 16-byte header then body:
//
//   offset size  field
//   0      4     magic 'FRW1' (0x46 0x52 0x57 0x31)
//   4      1     format version (1)
//   5      1     codec: 0 = f32, 1 = f16, 2 = int8
//   6      2     reserved, must be 0
//   8      4     count: number of elements (u32)
//   12     4     chunkSize (u32): int8 elements per scale; must be 0 for f32/f16
//   16     ...   body
//
// Bodies:
//   f32   count × float32.
//   f16   count × IEEE 754 binary16 (u16 bits). Round-to-nearest-even from
//         float32, subnormals exact, NaN stays NaN (quiet), ±Inf stays ±Inf.
//         OVERFLOW: |x| >= 65520 (halfway between 65504, the largest half,
//         and 65536) becomes ±Inf, which the coordinator then rejects as
//         'non-finite'. Clip (or use f32) before encoding large values.
//   int8  ceil(count / chunkSize) × float32 scales, then count × int8.
//         Per chunk scale = max|x| / 127 (rounded up to the next float32 when
//         rounding to float32 made it smaller, so |x / scale| <= 127 holds
//         exactly); q = floor(x/scale) + Bernoulli(frac(x/scale)), in
//         [-127, 127]. Stochastic rounding makes the decode unbiased:
//         E[q·scale] = x, with |q·scale − x| < scale. A chunk of zeros has
//         scale 0. Inputs must be finite. Decoding rejects NaN, ±Inf and
//         negative scales and the byte -128 (never produced).
//
// The decoder treats its input as untrusted: every inconsistency throws
// ProtocolError('codec') with what was wrong.
import { ProtocolError } from './errors.ts';

export const CODECS = ['f32', 'f16', 'int8'] as const;
export type Codec = (typeof CODECS)[number];

export function isCodec(x: unknown): x is Codec {
  return x === 'f32' || x === 'f16' || x === 'int8';
}

export const CODEC_MAGIC = 'FRW1';
export const CODEC_FORMAT_VERSION = 1;
export const CODEC_HEADER_BYTES = 16;
export const DEFAULT_INT8_CHUNK = 256;
/** Largest int8 chunk the decoder accepts (2^24 elements). */
export const MAX_INT8_CHUNK = 1 << 24;

const CODEC_IDS: Record<Codec, number> = { f32: 0, f16: 1, int8: 2 };
const MAGIC = [0x46, 0x52, 0x57, 0x31];

export interface EncodeOptions {
  /** int8 elements per scale (default 256). Ignored by f32 and f16. */
  chunkSize?: number;
  /** Uniform [0, 1) source for int8's stochastic rounding: required for int8. Pass a CSPRNG (`cryptoRandom()`) or a seeded RNG. */
  random?: () => number;
}

export interface CodecHeader {
  version: number;
  codec: Codec;
  count: number;
  chunkSize: number;
  /** Total byte length the header implies (header + body). */
  byteLength: number;
}

const LITTLE_ENDIAN = new Uint8Array(new Uint32Array([1]).buffer)[0] === 1;

function codecError(message: string): ProtocolError {
  return new ProtocolError('codec', `codec: ${message}`);
}

// ---------------------------------------------------------------- float16

const cvtF32 = new Float32Array(1);
const cvtU32 = new Uint32Array(cvtF32.buffer);

/** IEEE 754 binary16 bits of a number, via float32, rounding to nearest even. */
export function f32ToF16Bits(x: number): number {
  cvtF32[0] = x;
  const u = cvtU32[0];
  const sign = (u >>> 16) & 0x8000;
  const exp = (u >>> 23) & 0xff;
  const mant = u & 0x7fffff;
  if (exp === 0xff) {
    // Inf, or NaN with its top payload bits kept and the quiet bit set.
    return mant === 0 ? sign | 0x7c00 : sign | 0x7e00 | (mant >>> 13);
  }
  const halfExp = exp - 127 + 15;
  if (halfExp >= 31) return sign | 0x7c00; // overflow -> ±Inf
  if (halfExp <= 0) {
    // Half subnormal (or zero). Values below 2^-25 round to ±0; exactly 2^-25 ties to even (0).
    if (halfExp < -10) return sign;
    const m = mant | 0x800000; // float32 significand with its implicit bit
    const shift = 14 - halfExp; // 14..24
    let r = m >>> shift;
    const rem = m & ((1 << shift) - 1);
    const half = 1 << (shift - 1);
    if (rem > half || (rem === half && (r & 1) === 1)) r++; // may carry into 0x400, the smallest normal: correct
    return sign | r;
  }
  let r = (halfExp << 10) | (mant >>> 13);
  const rem = mant & 0x1fff;
  if (rem > 0x1000 || (rem === 0x1000 && (r & 1) === 1)) r++; // carry may reach 0x7c00 = Inf: correct
  return sign | r;
}

/** The number a binary16 bit pattern encodes (exact). */
export function f16BitsToF32(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const e = (h >>> 10) & 0x1f;
  const m = h & 0x3ff;
  if (e === 0) return sign * m * 2 ** -24;
  if (e === 31) return m === 0 ? sign * Infinity : NaN;
  return sign * (1 + m / 1024) * 2 ** (e - 15);
}

let f16Table: Float32Array | null = null;
function f16DecodeTable(): Float32Array {
  if (!f16Table) {
    f16Table = new Float32Array(65536);
    for (let h = 0; h < 65536; h++) f16Table[h] = f16BitsToF32(h);
  }
  return f16Table;
}

// ------------------------------------------------------------------ int8

/** The next float32 above a non-negative float32 (0 -> smallest subnormal). */
function nextUpF32(x: number): number {
  cvtF32[0] = x;
  cvtU32[0] = cvtU32[0] + 1;
  return cvtF32[0];
}

/** The float32 scale for a chunk whose largest magnitude is `maxAbs`: |x / scale| <= 127 for every x in it. */
export function int8Scale(maxAbs: number): number {
  if (maxAbs === 0) return 0;
  let s = Math.fround(maxAbs / 127);
  while (s === 0 || maxAbs / s > 127) s = nextUpF32(s);
  return s;
}

// ---------------------------------------------------------------- encode

function writeHeader(out: Uint8Array, codec: Codec, count: number, chunkSize: number): void {
  out.set(MAGIC, 0);
  const dv = new DataView(out.buffer, out.byteOffset, out.byteLength);
  dv.setUint8(4, CODEC_FORMAT_VERSION);
  dv.setUint8(5, CODEC_IDS[codec]);
  dv.setUint16(6, 0, true);
  dv.setUint32(8, count, true);
  dv.setUint32(12, chunkSize, true);
}

/** Encodes a flat float32 vector. f32 is exact; f16 and int8 are lossy (see the file header). */
export function encode(values: Float32Array, codec: Codec, opts: EncodeOptions = {}): Uint8Array<ArrayBuffer> {
  if (!(values instanceof Float32Array)) throw codecError('encode expects a Float32Array');
  const n = values.length;
  if (n > 0xffffffff) throw codecError(`too many elements (${n}) for a u32 count`);
  switch (codec) {
    case 'f32': {
      const out = new Uint8Array(CODEC_HEADER_BYTES + 4 * n);
      writeHeader(out, codec, n, 0);
      if (LITTLE_ENDIAN) {
        out.set(new Uint8Array(values.buffer, values.byteOffset, 4 * n), CODEC_HEADER_BYTES);
      } else {
        const dv = new DataView(out.buffer);
        for (let i = 0; i < n; i++) dv.setFloat32(CODEC_HEADER_BYTES + 4 * i, values[i], true);
      }
      return out;
    }
    case 'f16': {
      const out = new Uint8Array(CODEC_HEADER_BYTES + 2 * n);
      writeHeader(out, codec, n, 0);
      for (let i = 0, o = CODEC_HEADER_BYTES; i < n; i++, o += 2) {
        const h = f32ToF16Bits(values[i]);
        out[o] = h & 0xff;
        out[o + 1] = h >>> 8;
      }
      return out;
    }
    case 'int8': {
      const chunk = opts.chunkSize ?? DEFAULT_INT8_CHUNK;
      if (!Number.isInteger(chunk) || chunk < 1 || chunk > MAX_INT8_CHUNK) {
        throw codecError(`int8 chunkSize must be an integer in [1, ${MAX_INT8_CHUNK}], got ${chunk}`);
      }
      const random = opts.random;
      if (typeof random !== 'function') {
        throw codecError('int8 encoding needs opts.random (a CSPRNG such as cryptoRandom(), or a seeded RNG)');
      }
      const chunks = Math.ceil(n / chunk);
      const qOffset = CODEC_HEADER_BYTES + 4 * chunks;
      const out = new Uint8Array(qOffset + n);
      writeHeader(out, codec, n, chunk);
      const dv = new DataView(out.buffer);
      const q = new Int8Array(out.buffer, qOffset, n);
      for (let c = 0; c < chunks; c++) {
        const start = c * chunk;
        const end = Math.min(n, start + chunk);
        let maxAbs = 0;
        for (let i = start; i < end; i++) {
          const a = Math.abs(values[i]);
          if (!(a <= 3.4028234663852886e38)) {
            throw new ProtocolError('non-finite', `codec: int8 cannot encode non-finite value ${values[i]} at index ${i}`);
          }
          if (a > maxAbs) maxAbs = a;
        }
        const scale = int8Scale(maxAbs);
        dv.setFloat32(CODEC_HEADER_BYTES + 4 * c, scale, true);
        if (scale === 0) continue; // q stays 0
        for (let i = start; i < end; i++) {
          const y = values[i] / scale;
          const f = Math.floor(y);
          let v = f + (random() < y - f ? 1 : 0);
          if (v > 127) v = 127;
          else if (v < -127) v = -127;
          q[i] = v;
        }
      }
      return out;
    }
    default:
      throw codecError(`unknown codec ${JSON.stringify(codec)}; expected one of ${CODECS.join(', ')}`);
  }
}

// ---------------------------------------------------------------- decode

function asBytes(bytes: unknown): Uint8Array {
  if (bytes instanceof Uint8Array) return bytes;
  if (bytes instanceof ArrayBuffer) return new Uint8Array(bytes);
  throw codecError('expected a Uint8Array or ArrayBuffer');
}

/** Reads and validates the header, including that the byte length matches what it implies. */
export function readHeader(input: Uint8Array | ArrayBuffer): CodecHeader {
  const bytes = asBytes(input);
  if (bytes.length < CODEC_HEADER_BYTES) {
    throw codecError(`truncated: ${bytes.length} bytes is shorter than the ${CODEC_HEADER_BYTES}-byte header`);
  }
  for (let i = 0; i < 4; i++) {
    if (bytes[i] !== MAGIC[i]) throw codecError(`bad magic: expected 'FRW1', this is not a fedrec weight payload`);
  }
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const version = dv.getUint8(4);
  if (version !== CODEC_FORMAT_VERSION) {
    throw codecError(`format version ${version} is not supported (this side reads ${CODEC_FORMAT_VERSION})`);
  }
  const codecId = dv.getUint8(5);
  const codec = CODECS[codecId];
  if (codec === undefined) throw codecError(`unknown codec byte ${codecId}`);
  if (dv.getUint16(6, true) !== 0) throw codecError('reserved header bytes must be 0');
  const count = dv.getUint32(8, true);
  const chunkSize = dv.getUint32(12, true);
  let byteLength: number;
  if (codec === 'int8') {
    if (chunkSize < 1 || chunkSize > MAX_INT8_CHUNK) {
      throw codecError(`int8 chunkSize ${chunkSize} is outside [1, ${MAX_INT8_CHUNK}]`);
    }
    byteLength = CODEC_HEADER_BYTES + 4 * Math.ceil(count / chunkSize) + count;
  } else {
    if (chunkSize !== 0) throw codecError(`${codec} payloads must have chunkSize 0, got ${chunkSize}`);
    byteLength = CODEC_HEADER_BYTES + (codec === 'f32' ? 4 : 2) * count;
  }
  if (bytes.length !== byteLength) {
    throw codecError(
      `${codec} payload of ${count} elements must be ${byteLength} bytes, got ${bytes.length} (${bytes.length < byteLength ? 'truncated' : 'trailing bytes'})`,
    );
  }
  return { version, codec, count, chunkSize, byteLength };
}

/** Decodes into `out`, which must have exactly the payload's element count (else ProtocolError('shape')). */
export function decodeInto(input: Uint8Array | ArrayBuffer, out: Float32Array): Float32Array {
  const bytes = asBytes(input);
  const h = readHeader(bytes);
  if (!(out instanceof Float32Array)) throw codecError('decodeInto needs a Float32Array to write into');
  if (out.length !== h.count) {
    throw new ProtocolError('shape', `payload has ${h.count} elements, expected ${out.length}`);
  }
  const n = h.count;
  const body = CODEC_HEADER_BYTES;
  switch (h.codec) {
    case 'f32': {
      if (LITTLE_ENDIAN) {
        new Uint8Array(out.buffer, out.byteOffset, 4 * n).set(bytes.subarray(body, body + 4 * n));
      } else {
        const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
        for (let i = 0; i < n; i++) out[i] = dv.getFloat32(body + 4 * i, true);
      }
      return out;
    }
    case 'f16': {
      const table = f16DecodeTable();
      for (let i = 0, o = body; i < n; i++, o += 2) out[i] = table[bytes[o] | (bytes[o + 1] << 8)];
      return out;
    }
    case 'int8': {
      const chunk = h.chunkSize;
      const chunks = Math.ceil(n / chunk);
      const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
      const qOffset = body + 4 * chunks;
      // Validate everything before writing, so a rejected payload leaves `out` untouched.
      const scales = new Float32Array(chunks);
      for (let c = 0; c < chunks; c++) {
        const s = dv.getFloat32(body + 4 * c, true);
        if (!(s >= 0 && s <= 3.4028234663852886e38)) {
          throw codecError(`int8 chunk ${c} has invalid scale ${s} (must be finite and >= 0)`);
        }
        scales[c] = s;
      }
      for (let i = 0; i < n; i++) {
        if (bytes[qOffset + i] === 0x80) throw codecError(`int8 element ${i} is -128 (outside [-127, 127])`);
      }
      for (let c = 0; c < chunks; c++) {
        const s = scales[c];
        const start = c * chunk;
        const end = Math.min(n, start + chunk);
        for (let i = start; i < end; i++) {
          const b = bytes[qOffset + i];
          out[i] = (b > 127 ? b - 256 : b) * s;
        }
      }
      return out;
    }
  }
}

/** Decodes a payload into a new Float32Array, validating it completely. */
export function decode(input: Uint8Array | ArrayBuffer): Float32Array {
  const h = readHeader(input);
  return decodeInto(input, new Float32Array(h.count));
}

/**
 * An upper bound on max_i |decode(encode(values))_i − values_i| (for finite
 * values; Infinity when f16 overflows). f32: 0. f16: half an ulp of binary16
 * at each value. int8: the largest chunk scale (each element errs by < its
 * chunk's scale), plus float32 rounding of q·scale.
 */
export function maxAbsError(codec: Codec, values: Float32Array, opts: { chunkSize?: number } = {}): number {
  let bound = 0;
  if (codec === 'f32') return 0;
  if (codec === 'f16') {
    for (let i = 0; i < values.length; i++) {
      const a = Math.abs(values[i]);
      let b: number;
      if (a >= 65520) b = Infinity;
      else if (a < 2 ** -14) b = 2 ** -25; // subnormal spacing 2^-24
      else b = 2 ** (Math.floor(Math.log2(a)) - 11);
      if (b > bound) bound = b;
    }
    return bound;
  }
  const chunk = opts.chunkSize ?? DEFAULT_INT8_CHUNK;
  for (let start = 0; start < values.length; start += chunk) {
    let maxAbs = 0;
    const end = Math.min(values.length, start + chunk);
    for (let i = start; i < end; i++) maxAbs = Math.max(maxAbs, Math.abs(values[i]));
    const s = int8Scale(maxAbs);
    // q·s is rounded to float32: at most half an ulp of a value <= 127·s.
    const b = s + (127 * s) * 2 ** -24;
    if (b > bound) bound = b;
  }
  return bound;
}

/**
 * A CSPRNG-backed uniform [0, 1) source (53 random bits per call) for int8's
 * stochastic rounding, using WebCrypto `getRandomValues` (browsers, Node >= 19).
 */
export function cryptoRandom(batch = 1024): () => number {
  const c = (globalThis as { crypto?: { getRandomValues<T extends ArrayBufferView>(a: T): T } }).crypto;
  if (!c || typeof c.getRandomValues !== 'function') throw new Error('cryptoRandom: no WebCrypto getRandomValues in this environment');
  const buf = new Uint32Array(2 * batch);
  let pos = buf.length;
  return () => {
    if (pos >= buf.length) {
      c.getRandomValues(buf);
      pos = 0;
    }
    const hi = buf[pos++] >>> 5; // 27 bits
    const lo = buf[pos++] >>> 6; // 26 bits
    return (hi * 67108864 + lo) / 9007199254740992;
  };
}
