// The safetensors file format (https://github.com/huggingface/safetensors).
// Browser-safe: no Node imports.
//
// Layout: 8-byte little-endian u64 N, then N bytes of UTF-8 JSON header
//   { "__metadata__": { str: str }, "<name>": { "dtype": "F32", "shape": [..],
//     "data_offsets": [begin, end] }, ... }
// padded with spaces (0x20) so N is a multiple of 8, then the data section:
// raw little-endian tensor bytes; offsets are relative to the start of the data
// section. The encoder lays tensors out contiguously in the order given and
// writes the header keys in that order (metadata first). The decoder treats its
// input as untrusted and says what is wrong with it.

export const SAFETENSORS_DTYPES = {
  BOOL: { bytes: 1, array: Uint8Array },
  U8: { bytes: 1, array: Uint8Array },
  I8: { bytes: 1, array: Int8Array },
  U16: { bytes: 2, array: Uint16Array },
  I16: { bytes: 2, array: Int16Array },
  /** IEEE half floats, kept as raw bits. */
  F16: { bytes: 2, array: Uint16Array },
  /** bfloat16, kept as raw bits. */
  BF16: { bytes: 2, array: Uint16Array },
  U32: { bytes: 4, array: Uint32Array },
  I32: { bytes: 4, array: Int32Array },
  F32: { bytes: 4, array: Float32Array },
  U64: { bytes: 8, array: BigUint64Array },
  I64: { bytes: 8, array: BigInt64Array },
  F64: { bytes: 8, array: Float64Array },
} as const;

export type SafetensorsDtype = keyof typeof SAFETENSORS_DTYPES;

export type TensorData =
  | Uint8Array
  | Int8Array
  | Uint16Array
  | Int16Array
  | Uint32Array
  | Int32Array
  | Float32Array
  | Float64Array
  | BigUint64Array
  | BigInt64Array;

export interface SafetensorsTensor {
  dtype: SafetensorsDtype;
  shape: number[];
  data: TensorData;
}

export interface NamedTensor extends SafetensorsTensor {
  name: string;
}

export interface DecodedSafetensors {
  tensors: Map<string, SafetensorsTensor>;
  metadata: Record<string, string>;
}

const METADATA_KEY = '__metadata__';
/** Same limit as the reference implementation: headers above 100 MB are rejected. */
const MAX_HEADER_BYTES = 100_000_000;
const LITTLE_ENDIAN_HOST = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

function isDtype(s: unknown): s is SafetensorsDtype {
  return typeof s === 'string' && Object.prototype.hasOwnProperty.call(SAFETENSORS_DTYPES, s);
}

/** Reverses the byte order of every `size`-byte element in place (big-endian hosts only). */
function toFromLittleEndian(bytes: Uint8Array, size: number): void {
  if (LITTLE_ENDIAN_HOST || size === 1) return;
  for (let i = 0; i < bytes.length; i += size) bytes.subarray(i, i + size).reverse();
}

function elementCount(shape: unknown, what: string): number {
  if (!Array.isArray(shape)) throw new Error(`${what}: shape must be an array of integers`);
  let n = 1;
  for (const d of shape) {
    if (typeof d !== 'number' || !Number.isSafeInteger(d) || d < 0) {
      throw new Error(`${what}: shape entries must be non-negative integers, got ${JSON.stringify(shape)}`);
    }
    n *= d;
    if (!Number.isSafeInteger(n)) throw new Error(`${what}: shape ${JSON.stringify(shape)} is too large`);
  }
  return n;
}

// ---------------------------------------------------------------- encoding

function checkTensor(t: NamedTensor, seen: Set<string>): void {
  if (typeof t.name !== 'string' || t.name === '') throw new Error('tensor names must be non-empty strings');
  if (t.name === METADATA_KEY) throw new Error(`'${METADATA_KEY}' is reserved and cannot name a tensor`);
  if (seen.has(t.name)) throw new Error(`duplicate tensor name '${t.name}'`);
  seen.add(t.name);
  const what = `tensor '${t.name}'`;
  if (!isDtype(t.dtype)) throw new Error(`${what}: unsupported dtype ${String(t.dtype)}`);
  const expected = SAFETENSORS_DTYPES[t.dtype].array;
  if (!(t.data instanceof expected)) {
    throw new Error(`${what}: dtype ${t.dtype} needs a ${expected.name}, got ${t.data?.constructor?.name}`);
  }
  const n = elementCount(t.shape, what);
  if (t.data.length !== n) throw new Error(`${what}: shape ${JSON.stringify(t.shape)} needs ${n} values, got ${t.data.length}`);
}

function headerJson(tensors: NamedTensor[], metadata?: Record<string, string>): string {
  const entries: string[] = [];
  if (metadata !== undefined) {
    for (const [k, v] of Object.entries(metadata)) {
      if (typeof v !== 'string') throw new Error(`metadata '${k}' must be a string, got ${typeof v}`);
    }
    entries.push(`${JSON.stringify(METADATA_KEY)}:${JSON.stringify(metadata)}`);
  }
  let offset = 0;
  for (const t of tensors) {
    const end = offset + t.data.byteLength;
    const info = { dtype: t.dtype, shape: t.shape, data_offsets: [offset, end] };
    entries.push(`${JSON.stringify(t.name)}:${JSON.stringify(info)}`);
    offset = end;
  }
  // Built by hand so that tensor names like "0" keep the given order.
  return `{${entries.join(',')}}`;
}

/** Serialises tensors (in the given order) and optional string metadata. */
export function encodeSafetensors(tensors: NamedTensor[], metadata?: Record<string, string>): Uint8Array {
  const seen = new Set<string>();
  for (const t of tensors) checkTensor(t, seen);
  const header = new TextEncoder().encode(headerJson(tensors, metadata));
  const headerLength = Math.ceil(header.length / 8) * 8;
  const dataLength = tensors.reduce((s, t) => s + t.data.byteLength, 0);
  const out = new Uint8Array(8 + headerLength + dataLength);
  new DataView(out.buffer).setBigUint64(0, BigInt(headerLength), true);
  out.set(header, 8);
  out.fill(0x20, 8 + header.length, 8 + headerLength);
  let pos = 8 + headerLength;
  for (const t of tensors) {
    const dst = out.subarray(pos, pos + t.data.byteLength);
    dst.set(new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength));
    toFromLittleEndian(dst, t.data.BYTES_PER_ELEMENT);
    pos += t.data.byteLength;
  }
  return out;
}

// ---------------------------------------------------------------- decoding

interface Entry {
  name: string;
  dtype: SafetensorsDtype;
  shape: number[];
  begin: number;
  end: number;
}

function readHeaderLength(bytes: Uint8Array): number {
  if (bytes.length < 8) throw new Error(`safetensors: file is ${bytes.length} bytes, too short for the 8-byte header length`);
  const n = new DataView(bytes.buffer, bytes.byteOffset, 8).getBigUint64(0, true);
  if (n > BigInt(bytes.length - 8)) {
    throw new Error(`safetensors: header length ${n} exceeds the ${bytes.length - 8} bytes after the length field (truncated or not a safetensors file)`);
  }
  if (n > BigInt(MAX_HEADER_BYTES)) throw new Error(`safetensors: header length ${n} is above the ${MAX_HEADER_BYTES}-byte limit`);
  return Number(n);
}

function parseHeader(bytes: Uint8Array, n: number): Record<string, unknown> {
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(bytes.subarray(8, 8 + n));
  } catch {
    throw new Error('safetensors: header is not valid UTF-8');
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (e) {
    throw new Error(`safetensors: header is not valid JSON (${(e as Error).message})`);
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    throw new Error('safetensors: header must be a JSON object');
  }
  return parsed as Record<string, unknown>;
}

function parseMetadata(value: unknown): Record<string, string> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new Error(`safetensors: ${METADATA_KEY} must be an object of strings`);
  }
  for (const [k, v] of Object.entries(value)) {
    if (typeof v !== 'string') throw new Error(`safetensors: ${METADATA_KEY}.${k} must be a string, got ${typeof v}`);
  }
  return { ...(value as Record<string, string>) };
}

function parseEntry(name: string, value: unknown, dataLength: number): Entry {
  const what = `safetensors: tensor '${name}'`;
  if (typeof value !== 'object' || value === null) throw new Error(`${what}: expected {dtype, shape, data_offsets}`);
  const { dtype, shape, data_offsets: offsets } = value as Record<string, unknown>;
  if (!isDtype(dtype)) throw new Error(`${what}: unsupported dtype ${JSON.stringify(dtype)}`);
  const count = elementCount(shape, what);
  if (
    !Array.isArray(offsets) ||
    offsets.length !== 2 ||
    !offsets.every((o) => typeof o === 'number' && Number.isSafeInteger(o) && o >= 0)
  ) {
    throw new Error(`${what}: data_offsets must be [begin, end] with non-negative integers, got ${JSON.stringify(offsets)}`);
  }
  const [begin, end] = offsets as number[];
  if (begin > end) throw new Error(`${what}: data_offsets [${begin}, ${end}] end before they begin`);
  if (end > dataLength) {
    throw new Error(`${what}: data_offsets [${begin}, ${end}] exceed the ${dataLength}-byte data section`);
  }
  const need = count * SAFETENSORS_DTYPES[dtype].bytes;
  if (end - begin !== need) {
    throw new Error(`${what}: ${dtype} ${JSON.stringify(shape)} needs ${need} bytes but data_offsets span ${end - begin}`);
  }
  return { name, dtype, shape: [...(shape as number[])], begin, end };
}

function checkNoOverlaps(entries: Entry[]): void {
  const sorted = entries.filter((e) => e.end > e.begin).sort((a, b) => a.begin - b.begin);
  for (let i = 1; i < sorted.length; i++) {
    if (sorted[i].begin < sorted[i - 1].end) {
      throw new Error(`safetensors: tensors '${sorted[i - 1].name}' and '${sorted[i].name}' overlap in the data section`);
    }
  }
}

function copyTensor(data: Uint8Array, e: Entry): SafetensorsTensor {
  const { bytes, array } = SAFETENSORS_DTYPES[e.dtype];
  const out = new array((e.end - e.begin) / bytes);
  const view = new Uint8Array(out.buffer);
  view.set(data.subarray(e.begin, e.end)); // copy: offsets in the file may be unaligned
  toFromLittleEndian(view, bytes);
  return { dtype: e.dtype, shape: e.shape, data: out };
}

/** Parses and validates a safetensors file; tensor data is copied into fresh, aligned arrays. */
export function decodeSafetensors(bytes: Uint8Array): DecodedSafetensors {
  const n = readHeaderLength(bytes);
  const header = parseHeader(bytes, n);
  const data = bytes.subarray(8 + n);
  let metadata: Record<string, string> = {};
  const entries: Entry[] = [];
  for (const [name, value] of Object.entries(header)) {
    if (name === METADATA_KEY) metadata = parseMetadata(value);
    else entries.push(parseEntry(name, value, data.length));
  }
  checkNoOverlaps(entries);
  const tensors = new Map<string, SafetensorsTensor>();
  for (const e of entries) tensors.set(e.name, copyTensor(data, e));
  return { tensors, metadata };
}
