// Deterministic Ed25519 identities for the coordinator benchmark's virtual
// clients, with node:crypto (OpenSSL) keys for fast signing in the load
// generators. Ed25519 signatures are deterministic, so these sign exactly the
// bytes tweetnacl's `sign` (what the real client uses) would: selfCheck()
// asserts it once per process.
import { createHash, createPrivateKey, createPublicKey, sign as cryptoSign, type KeyObject } from 'node:crypto';
import { identityFromSeed, sign as naclSign, toBase64 } from '../../protocol/index.ts';

/** DER prefix of a PKCS#8 Ed25519 private key around its 32-byte seed (RFC 8410). */
const PKCS8_ED25519_PREFIX = Buffer.from('302e020100300506032b657004220420', 'hex');

export interface BenchIdentity {
  id: string;
  /** 32-byte seed, hex (what is passed to load processes). */
  seedHex: string;
}

export function benchIdentities(n: number, tag = 'bench'): BenchIdentity[] {
  return Array.from({ length: n }, (_, i) => ({
    id: `c${String(i).padStart(5, '0')}`,
    seedHex: createHash('sha256').update(`fedrec-${tag}-client-${i}`).digest('hex'),
  }));
}

export function privateKeyOf(seedHex: string): KeyObject {
  return createPrivateKey({ key: Buffer.concat([PKCS8_ED25519_PREFIX, Buffer.from(seedHex, 'hex')]), format: 'der', type: 'pkcs8' });
}

/** The raw 32-byte public key of a seed (the last 32 bytes of its SPKI DER). */
export function publicKeyOf(seedHex: string): Uint8Array {
  const der = createPublicKey(privateKeyOf(seedHex)).export({ format: 'der', type: 'spki' });
  return new Uint8Array(der.subarray(der.length - 32));
}

export function signWith(key: KeyObject, bytes: Uint8Array): Uint8Array {
  return new Uint8Array(cryptoSign(null, bytes, key));
}

/** The allow-list entries (clients.allow) for these identities. */
export function allowList(ids: readonly BenchIdentity[]): Array<{ id: string; publicKey: string }> {
  return ids.map((c) => ({ id: c.id, publicKey: toBase64(publicKeyOf(c.seedHex)) }));
}

/** Asserts that node:crypto keys and signatures match tweetnacl's for one seed. */
export function selfCheck(seedHex: string): void {
  const nacl = identityFromSeed(new Uint8Array(Buffer.from(seedHex, 'hex')));
  const msg = new TextEncoder().encode('fedrec bench self-check');
  const a = Buffer.from(signWith(privateKeyOf(seedHex), msg));
  const b = Buffer.from(naclSign(msg, nacl.secretKey));
  if (!Buffer.from(publicKeyOf(seedHex)).equals(Buffer.from(nacl.publicKey)) || !a.equals(b)) {
    throw new Error('bench identities: node:crypto Ed25519 does not match tweetnacl');
  }
}
