// Identities (Ed25519 key pairs), base64, hashing, and signing and
// verifying detached signatures. What gets signed is in signing.ts.
// Browser-safe: tweetnacl, no Buffer, no Node imports.
import nacl from 'tweetnacl';
import { ProtocolError } from './errors.ts';

export const PUBLIC_KEY_BYTES = 32;
export const SECRET_KEY_BYTES = 64;
export const SIGNATURE_BYTES = 64;
export const NONCE_BYTES = 32;
export const SHA512_BYTES = 64;


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

export const CLIENT_ID_RE = /^[A-Za-z0-9._:-]{1,128}$/;

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
