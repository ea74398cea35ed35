// Client identities (Ed25519 key pairs), base64, hashing and the canonical
// bytes that get signed. Browser-safe: tweetnacl, no Buffer, no Node imports.
//
// Canonical signing bytes: a sequence of fields, each either
//   str / bytes: u32 little-endian byte length, then the bytes (strings UTF-8)
//   u64:         8 bytes little-endian (a safe non-negative integer)
//   f64:         8 bytes little-endian IEEE double (-0 written as +0, because
//                JSON, which carries numbers on the wire, cannot tell them apart)
// starting with the domain tag as a `str`, so a signature made for one
// purpose ('fedrec-auth-v1', 'fedrec-update-v1', 'fedrec-eval-v1') never
// verifies for another, and length prefixes make the encoding injective
// (clientId "a1" + round 2 and clientId "a" + round 12 differ).
import nacl from 'tweetnacl';
import { ProtocolError } from './errors.ts';

export const PUBLIC_KEY_BYTES = 32;
export const SECRET_KEY_BYTES = 64;
export const SIGNATURE_BYTES = 64;
export const NONCE_BYTES = 32;
export const SHA512_BYTES = 64;

export const AUTH_DOMAIN = 'fedrec-auth-v1';
export const UPDATE_DOMAIN = 'fedrec-update-v1';
export const EVAL_DOMAIN = 'fedrec-eval-v1';

export interface Identity {
  publicKey: Uint8Array;
  secretKey: Uint8Array;
  clientId?: string;
}

export interface IdentityJSON {
  version: 1;
  publicKey: string;
  secretKey: string;
  clientId?: string;
}

// ---------------------------------------------------------------- base64

const ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';
const LOOKUP = new Int16Array(128).fill(-1);
for (let i = 0; i < ALPHABET.length; i++) LOOKUP[ALPHABET.charCodeAt(i)] = i;

/** Standard base64 with padding (RFC 4648 §4). */
export function toBase64(bytes: Uint8Array): string {
  let out = '';
  const n = bytes.length;
  let i = 0;
  const parts: string[] = [];
  for (; i + 2 < n; i += 3) {
    const v = (bytes[i] << 16) | (bytes[i + 1] << 8) | bytes[i + 2];
    out += ALPHABET[v >>> 18] + ALPHABET[(v >>> 12) & 63] + ALPHABET[(v >>> 6) & 63] + ALPHABET[v & 63];
    if (out.length >= 8192) {
      parts.push(out);
      out = '';
    }
  }
  if (n - i === 1) {
    const v = bytes[i] << 16;
    out += ALPHABET[v >>> 18] + ALPHABET[(v >>> 12) & 63] + '==';
  } else if (n - i === 2) {
    const v = (bytes[i] << 16) | (bytes[i + 1] << 8);
    out += ALPHABET[v >>> 18] + ALPHABET[(v >>> 12) & 63] + ALPHABET[(v >>> 6) & 63] + '=';
  }
  parts.push(out);
  return parts.join('');
}

/** Decodes canonical standard base64 (padding required, no whitespace, unused bits zero); null if it is not. */
export function tryFromBase64(s: string): Uint8Array | null {
  if (typeof s !== 'string' || s.length % 4 !== 0) return null;
  let pad = 0;
  if (s.length > 0 && s[s.length - 1] === '=') pad = s[s.length - 2] === '=' ? 2 : 1;
  const out = new Uint8Array((s.length / 4) * 3 - pad);
  let o = 0;
  for (let i = 0; i < s.length; i += 4) {
    const last = i + 4 === s.length;
    const c: number[] = [0, 0, 0, 0];
    for (let k = 0; k < 4; k++) {
      const code = s.charCodeAt(i + k);
      if (last && k >= 4 - pad) {
        if (code !== 61) return null; // '='
        c[k] = 0;
        continue;
      }
      const v = code < 128 ? LOOKUP[code] : -1;
      if (v < 0) return null;
      c[k] = v;
    }
    const v = (c[0] << 18) | (c[1] << 12) | (c[2] << 6) | c[3];
    if (last && pad === 2) {
      if ((v & 0xffff) !== 0) return null; // non-canonical: unused bits set
      out[o++] = v >>> 16;
    } else if (last && pad === 1) {
      if ((v & 0xff) !== 0) return null;
      out[o++] = v >>> 16;
      out[o++] = (v >>> 8) & 0xff;
    } else {
      out[o++] = v >>> 16;
      out[o++] = (v >>> 8) & 0xff;
      out[o++] = v & 0xff;
    }
  }
  return out;
}

/** `tryFromBase64` that throws ProtocolError('schema') on invalid input; checks the decoded length when given. */
export function fromBase64(s: string, expectedBytes?: number, what = 'value'): Uint8Array {
  const b = tryFromBase64(s);
  if (!b) throw new ProtocolError('schema', `${what} is not canonical base64`);
  if (expectedBytes !== undefined && b.length !== expectedBytes) {
    throw new ProtocolError('schema', `${what} must decode to ${expectedBytes} bytes, got ${b.length}`);
  }
  return b;
}

// ----------------------------------------------------------- keys, hashes

/** A fresh Ed25519 key pair from the platform CSPRNG (tweetnacl uses WebCrypto or node:crypto). */
export function generateIdentity(): { publicKey: Uint8Array; secretKey: Uint8Array } {
  const kp = nacl.sign.keyPair();
  return { publicKey: kp.publicKey, secretKey: kp.secretKey };
}

/** The key pair for a 32-byte seed (deterministic; for tests and simulations). */
export function identityFromSeed(seed: Uint8Array): { publicKey: Uint8Array; secretKey: Uint8Array } {
  if (!(seed instanceof Uint8Array) || seed.length !== 32) throw new ProtocolError('schema', 'identity seed must be 32 bytes');
  const kp = nacl.sign.keyPair.fromSeed(seed);
  return { publicKey: kp.publicKey, secretKey: kp.secretKey };
}

export function identityToJSON(id: Identity): IdentityJSON {
  checkKeyPair(id.publicKey, id.secretKey);
  const json: IdentityJSON = { version: 1, publicKey: toBase64(id.publicKey), secretKey: toBase64(id.secretKey) };
  if (id.clientId !== undefined) json.clientId = id.clientId;
  return json;
}

const CLIENT_ID_RE = /^[A-Za-z0-9._:-]{1,128}$/;
const METRIC_NAME_RE = /^[A-Za-z][A-Za-z0-9@._:-]{0,63}$/;

/**
 * Reads an identity (an object, or its JSON text), checking the version, key
 * lengths, and that the secret key's public half matches `publicKey`.
 * Throws ProtocolError('schema') saying what is wrong.
 */
export function identityFromJSON(input: unknown): Identity {
  let j: unknown = input;
  if (typeof input === 'string') {
    try {
      j = JSON.parse(input);
    } catch {
      throw new ProtocolError('schema', 'identity: not valid JSON');
    }
  }
  if (typeof j !== 'object' || j === null || Array.isArray(j)) throw new ProtocolError('schema', 'identity: expected an object');
  const o = j as Record<string, unknown>;
  if (o.version !== 1) throw new ProtocolError('schema', `identity: version must be 1, got ${JSON.stringify(o.version) ?? 'nothing'}`);
  if (typeof o.publicKey !== 'string') throw new ProtocolError('schema', 'identity: publicKey must be a base64 string');
  if (typeof o.secretKey !== 'string') throw new ProtocolError('schema', 'identity: secretKey must be a base64 string');
  const publicKey = fromBase64(o.publicKey, PUBLIC_KEY_BYTES, 'identity: publicKey');
  const secretKey = fromBase64(o.secretKey, SECRET_KEY_BYTES, 'identity: secretKey');
  checkKeyPair(publicKey, secretKey);
  const id: Identity = { publicKey, secretKey };
  if (o.clientId !== undefined) {
    if (typeof o.clientId !== 'string' || !CLIENT_ID_RE.test(o.clientId)) {
      throw new ProtocolError('schema', 'identity: clientId must be 1-128 characters of A-Z a-z 0-9 . _ : -');
    }
    id.clientId = o.clientId;
  }
  return id;
}

function checkKeyPair(publicKey: Uint8Array, secretKey: Uint8Array): void {
  if (!(publicKey instanceof Uint8Array) || publicKey.length !== PUBLIC_KEY_BYTES) {
    throw new ProtocolError('schema', `identity: publicKey must be ${PUBLIC_KEY_BYTES} bytes`);
  }
  if (!(secretKey instanceof Uint8Array) || secretKey.length !== SECRET_KEY_BYTES) {
    throw new ProtocolError('schema', `identity: secretKey must be ${SECRET_KEY_BYTES} bytes`);
  }
  const derived = nacl.sign.keyPair.fromSeed(secretKey.subarray(0, 32)).publicKey;
  if (!bytesEqual(derived, publicKey) || !bytesEqual(secretKey.subarray(32), publicKey)) {
    throw new ProtocolError('schema', 'identity: secretKey does not belong to publicKey (corrupted identity file?)');
  }
}

export function bytesEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  let d = 0;
  for (let i = 0; i < a.length; i++) d |= a[i] ^ b[i];
  return d === 0;
}

/** SHA-512 (tweetnacl; on Node prefer `sha512Native` from protocol/node for large payloads). */
export function sha512(bytes: Uint8Array): Uint8Array {
  return nacl.hash(bytes);
}

/** Short stable fingerprint of a public key: hex of the first 16 bytes of its SHA-512 (a usable client id). */
export function publicKeyFingerprint(publicKey: Uint8Array): string {
  const h = sha512(publicKey);
  let s = '';
  for (let i = 0; i < 16; i++) s += h[i].toString(16).padStart(2, '0');
  return s;
}

// ---------------------------------------------------------- signing bytes

const utf8 = new TextEncoder();

class CanonicalWriter {
  private parts: Uint8Array[] = [];
  private length = 0;

  constructor(domain: string) {
    this.str(domain);
  }

  private push(b: Uint8Array): void {
    this.parts.push(b);
    this.length += b.length;
  }

  bytes(b: Uint8Array): this {
    const len = new Uint8Array(4);
    new DataView(len.buffer).setUint32(0, b.length, true);
    this.push(len);
    this.push(b);
    return this;
  }

  str(s: string): this {
    return this.bytes(utf8.encode(s));
  }

  u64(n: number, what: string): this {
    if (!Number.isSafeInteger(n) || n < 0) throw new ProtocolError('schema', `${what} must be a non-negative safe integer, got ${n}`);
    const b = new Uint8Array(8);
    new DataView(b.buffer).setBigUint64(0, BigInt(n), true);
    this.push(b);
    return this;
  }

  f64(x: number, what: string): this {
    if (typeof x !== 'number' || !Number.isFinite(x)) throw new ProtocolError('schema', `${what} must be a finite number, got ${x}`);
    const b = new Uint8Array(8);
    new DataView(b.buffer).setFloat64(0, x === 0 ? 0 : x, true);
    this.push(b);
    return this;
  }

  finish(): Uint8Array {
    const out = new Uint8Array(this.length);
    let o = 0;
    for (const p of this.parts) {
      out.set(p, o);
      o += p.length;
    }
    return out;
  }
}

function binaryField(v: Uint8Array | string, bytes: number, what: string): Uint8Array {
  const b = typeof v === 'string' ? fromBase64(v, bytes, what) : v;
  if (!(b instanceof Uint8Array) || b.length !== bytes) throw new ProtocolError('schema', `${what} must be ${bytes} bytes`);
  return b;
}

function idField(s: string, what: string): string {
  if (typeof s !== 'string' || !CLIENT_ID_RE.test(s)) throw new ProtocolError('schema', `${what} must be 1-128 characters of A-Z a-z 0-9 . _ : -`);
  return s;
}

/** The bytes a client signs to answer a challenge: tag 'fedrec-auth-v1', nonce (32 bytes, or its base64), clientId. */
export function authMessage(nonce: Uint8Array | string, clientId: string): Uint8Array {
  return new CanonicalWriter(AUTH_DOMAIN)
    .bytes(binaryField(nonce, NONCE_BYTES, 'nonce'))
    .str(idField(clientId, 'clientId'))
    .finish();
}

export interface UpdateSigningFields {
  protocolVersion: number;
  round: number;
  modelVersion: number;
  clientId: string;
  /** SHA-512 of the payload: 64 bytes, or their base64 as sent on the wire. */
  payloadHash: Uint8Array | string;
  /** Signed too: they steer aggregation, so a relay must not be able to change them. */
  numExamples: number;
  weight: number;
  /** Adaptive clipping's signed count; appended only when present (so older updates sign the same bytes). */
  clipCount?: number;
}

/**
 * Tag 'fedrec-update-v1', protocolVersion, round, modelVersion (u64 each),
 * clientId, payloadHash (64 bytes), numExamples (u64), weight (f64), and when
 * present clipCount (f64, an integer).
 */
export function updateSigningBytes(f: UpdateSigningFields): Uint8Array {
  const w = new CanonicalWriter(UPDATE_DOMAIN)
    .u64(f.protocolVersion, 'protocolVersion')
    .u64(f.round, 'round')
    .u64(f.modelVersion, 'modelVersion')
    .str(idField(f.clientId, 'clientId'))
    .bytes(binaryField(f.payloadHash, SHA512_BYTES, 'payloadHash'))
    .u64(f.numExamples, 'numExamples')
    .f64(f.weight, 'weight');
  if (f.clipCount !== undefined) {
    if (!Number.isSafeInteger(f.clipCount)) throw new ProtocolError('schema', `clipCount must be an integer, got ${f.clipCount}`);
    w.f64(f.clipCount, 'clipCount');
  }
  return w.finish();
}

export interface EvalSigningFields {
  protocolVersion: number;
  round: number;
  modelVersion: number;
  clientId: string;
  count: number;
  sums: Record<string, number>;
}

/**
 * Tag 'fedrec-eval-v1', protocolVersion, round, modelVersion, clientId,
 * count (u64), number of sums (u64), then each (name str, value f64) in
 * code-unit order of the names, so key order on the wire does not matter.
 */
export function evalSigningBytes(f: EvalSigningFields): Uint8Array {
  const w = new CanonicalWriter(EVAL_DOMAIN)
    .u64(f.protocolVersion, 'protocolVersion')
    .u64(f.round, 'round')
    .u64(f.modelVersion, 'modelVersion')
    .str(idField(f.clientId, 'clientId'))
    .u64(f.count, 'count');
  const keys = Object.keys(f.sums).sort();
  if (keys.length > 64) throw new ProtocolError('schema', `sums must have at most 64 entries, got ${keys.length}`);
  w.u64(keys.length, 'number of sums');
  for (const k of keys) {
    if (!METRIC_NAME_RE.test(k)) throw new ProtocolError('schema', `sums key ${JSON.stringify(k.slice(0, 64))} must be a metric name (a letter, then A-Z a-z 0-9 @ . _ : -, at most 64 characters)`);
    w.str(k).f64(f.sums[k], `sums.${k}`);
  }
  return w.finish();
}

// ------------------------------------------------------------- signatures

/** Ed25519 detached signature (64 bytes). */
export function sign(bytes: Uint8Array, secretKey: Uint8Array): Uint8Array {
  if (!(secretKey instanceof Uint8Array) || secretKey.length !== SECRET_KEY_BYTES) {
    throw new ProtocolError('schema', `secret key must be ${SECRET_KEY_BYTES} bytes`);
  }
  return nacl.sign.detached(bytes, secretKey);
}

// Ed25519 group order L, little-endian.
const L = [
  0xed, 0xd3, 0xf5, 0x5c, 0x1a, 0x63, 0x12, 0x58, 0xd6, 0x9c, 0xf7, 0xa2, 0xde, 0xf9, 0xde, 0x14,
  0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x10,
];

/** True when the signature's S half is a canonical scalar (S < L), as RFC 8032 and OpenSSL require. */
export function hasCanonicalS(signature: Uint8Array): boolean {
  for (let i = 31; i >= 0; i--) {
    const s = signature[32 + i];
    if (s < L[i]) return true;
    if (s > L[i]) return false;
  }
  return false; // S == L
}

/**
 * Verifies an Ed25519 signature with tweetnacl. Never throws: wrong types or
 * lengths are `false`. Also rejects non-canonical S (S >= L), which
 * tweetnacl alone accepts, so this agrees with Node's native verifier and
 * signatures are not malleable.
 */
export function verifyWithNacl(bytes: Uint8Array, signature: Uint8Array, publicKey: Uint8Array): boolean {
  try {
    if (!(bytes instanceof Uint8Array) || !(signature instanceof Uint8Array) || !(publicKey instanceof Uint8Array)) return false;
    if (signature.length !== SIGNATURE_BYTES || publicKey.length !== PUBLIC_KEY_BYTES) return false;
    if (!hasCanonicalS(signature)) return false;
    return nacl.sign.detached.verify(bytes, signature, publicKey);
  } catch {
    return false;
  }
}

/** Anything that verifies Ed25519 signatures (tweetnacl here; native in protocol/node). */
export interface SignatureVerifier {
  verify(bytes: Uint8Array, signature: Uint8Array, publicKey: Uint8Array): boolean;
}

export const naclVerifier: SignatureVerifier = { verify: verifyWithNacl };
