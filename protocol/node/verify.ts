// Native Ed25519 verification for the coordinator (Node only): OpenSSL via
// node:crypto, with the public keys' KeyObjects cached.
import { createHash, createPublicKey, verify as cryptoVerify, type KeyObject } from 'node:crypto';
import type { SignatureVerifier } from '../identity.ts';

/** DER prefix of an Ed25519 SubjectPublicKeyInfo (RFC 8410): SEQUENCE { SEQUENCE { OID 1.3.101.112 }, BIT STRING (32 bytes) }. */
export const ED25519_SPKI_PREFIX = Buffer.from('302a300506032b6570032100', 'hex');

export interface Ed25519VerifierOptions {
  /** Most KeyObjects kept (least recently used dropped first). Default 100,000. */
  maxCachedKeys?: number;
}

export class Ed25519Verifier implements SignatureVerifier {
  private readonly cache = new Map<string, KeyObject>();
  private readonly maxCachedKeys: number;

  constructor(opts: Ed25519VerifierOptions = {}) {
    this.maxCachedKeys = Math.max(1, opts.maxCachedKeys ?? 100_000);
  }

  /** Number of cached public keys. */
  get size(): number {
    return this.cache.size;
  }

  private keyObject(publicKey: Uint8Array): KeyObject {
    const id = Buffer.from(publicKey.buffer, publicKey.byteOffset, publicKey.byteLength).toString('base64');
    const hit = this.cache.get(id);
    if (hit) {
      // refresh recency
      this.cache.delete(id);
      this.cache.set(id, hit);
      return hit;
    }
    const key = createPublicKey({ key: Buffer.concat([ED25519_SPKI_PREFIX, publicKey]), format: 'der', type: 'spki' });
    if (this.cache.size >= this.maxCachedKeys) {
      const oldest = this.cache.keys().next().value;
      if (oldest !== undefined) this.cache.delete(oldest);
    }
    this.cache.set(id, key);
    return key;
  }

  /** True iff `signature` is a valid Ed25519 signature of `bytes` under `publicKey`. Never throws. */
  verify(bytes: Uint8Array, signature: Uint8Array, publicKey: Uint8Array): boolean {
    try {
      if (!(bytes instanceof Uint8Array) || !(signature instanceof Uint8Array) || !(publicKey instanceof Uint8Array)) return false;
      if (signature.length !== 64 || publicKey.length !== 32) return false;
      return cryptoVerify(null, bytes, this.keyObject(publicKey), signature);
    } catch {
      return false;
    }
  }

  clear(): void {
    this.cache.clear();
  }
}

/** SHA-512 via OpenSSL: much faster than tweetnacl's for multi-megabyte payloads. */
export function sha512Native(bytes: Uint8Array): Uint8Array {
  const d = createHash('sha512').update(bytes).digest();
  return new Uint8Array(d.buffer, d.byteOffset, d.byteLength);
}
