import nacl from 'tweetnacl';
import { describe, expect, it } from 'vitest';
import { identityFromSeed, sha512, sign, verifyWithNacl } from '../../protocol/index.ts';
import { ED25519_SPKI_PREFIX, Ed25519Verifier, sha512Native } from '../../protocol/node/index.ts';
import { mulberry32, randomBytes } from './rng.ts';

const enc = new TextEncoder();

describe('Ed25519Verifier (node:crypto)', () => {
  const id = identityFromSeed(new Uint8Array(32).fill(5));
  const msg = enc.encode('fedrec update bytes');
  const sig = sign(msg, id.secretKey);

  it('uses the RFC 8410 SPKI prefix', () => {
    expect(ED25519_SPKI_PREFIX.toString('hex')).toBe('302a300506032b6570032100');
  });

  it('accepts tweetnacl signatures and rejects tampering, wrong keys and short signatures', () => {
    const v = new Ed25519Verifier();
    expect(v.verify(msg, sig, id.publicKey)).toBe(true);
    const m2 = msg.slice();
    m2[0] ^= 1;
    expect(v.verify(m2, sig, id.publicKey)).toBe(false);
    const s2 = sig.slice();
    s2[40] ^= 0x10;
    expect(v.verify(msg, s2, id.publicKey)).toBe(false);
    expect(v.verify(msg, sig, identityFromSeed(new Uint8Array(32).fill(6)).publicKey)).toBe(false);
    expect(v.verify(msg, sig.subarray(0, 63), id.publicKey)).toBe(false);
    expect(v.verify(msg, new Uint8Array(65), id.publicKey)).toBe(false);
    expect(v.verify(msg, sig, id.publicKey.subarray(0, 31))).toBe(false);
    expect(v.verify(new Uint8Array(0), sign(new Uint8Array(0), id.secretKey), id.publicKey)).toBe(true);
  });

  it('never throws on malformed input', () => {
    const v = new Ed25519Verifier();
    const junk: unknown[] = [null, undefined, 'x', 7, {}, [1, 2], new Float32Array(16)];
    for (const j of junk) {
      expect(v.verify(j as Uint8Array, sig, id.publicKey)).toBe(false);
      expect(v.verify(msg, j as Uint8Array, id.publicKey)).toBe(false);
      expect(v.verify(msg, sig, j as Uint8Array)).toBe(false);
    }
    // 32 bytes that are not a valid curve point encoding, and the all-zero key
    for (const pk of [new Uint8Array(32).fill(0xff), new Uint8Array(32), Uint8Array.from({ length: 32 }, (_, i) => (i === 0 ? 2 : 0))]) {
      expect(() => v.verify(msg, sig, pk)).not.toThrow();
      expect(v.verify(msg, sig, pk)).toBe(false);
    }
  });

  it('gives the same answers as tweetnacl on 200 random cases', () => {
    const v = new Ed25519Verifier();
    const r = mulberry32(11);
    const keys = Array.from({ length: 20 }, (_, i) => identityFromSeed(randomBytes(mulberry32(100 + i), 32)));
    let valid = 0;
    for (let c = 0; c < 200; c++) {
      const k = keys[Math.floor(r() * keys.length)];
      const m = randomBytes(r, Math.floor(r() * 300));
      let s = sign(m, k.secretKey);
      let pk = k.publicKey;
      let mm = m;
      const mode = Math.floor(r() * 5);
      if (mode === 1 && m.length > 0) {
        mm = m.slice();
        mm[Math.floor(r() * m.length)] ^= 1 << Math.floor(r() * 8);
      } else if (mode === 2) {
        s = s.slice();
        s[Math.floor(r() * 64)] ^= 1 << Math.floor(r() * 8);
      } else if (mode === 3) {
        pk = keys[(keys.indexOf(k) + 1) % keys.length].publicKey;
      } else if (mode === 4) {
        s = randomBytes(r, 64);
      }
      const native = v.verify(mm, s, pk);
      expect(native, `case ${c} mode ${mode}`).toBe(verifyWithNacl(mm, s, pk));
      if (native) valid++;
    }
    expect(valid).toBeGreaterThan(30);
    expect(valid).toBeLessThan(170);
    expect(v.size).toBe(keys.length);
  });

  it('rejects the malleated signature (S + L), like verifyWithNacl', () => {
    const L = [0xed, 0xd3, 0xf5, 0x5c, 0x1a, 0x63, 0x12, 0x58, 0xd6, 0x9c, 0xf7, 0xa2, 0xde, 0xf9, 0xde, 0x14, ...new Array(15).fill(0), 0x10];
    const m = sig.slice();
    let carry = 0;
    for (let i = 0; i < 32; i++) {
      const x = m[32 + i] + L[i] + carry;
      m[32 + i] = x & 0xff;
      carry = x >> 8;
    }
    expect(nacl.sign.detached.verify(msg, m, id.publicKey)).toBe(true);
    expect(new Ed25519Verifier().verify(msg, m, id.publicKey)).toBe(false);
    expect(verifyWithNacl(msg, m, id.publicKey)).toBe(false);
  });

  it('bounds its key cache, dropping the least recently used', () => {
    const v = new Ed25519Verifier({ maxCachedKeys: 3 });
    const ids = Array.from({ length: 5 }, (_, i) => identityFromSeed(new Uint8Array(32).fill(20 + i)));
    for (const k of ids) expect(v.verify(msg, sign(msg, k.secretKey), k.publicKey)).toBe(true);
    expect(v.size).toBe(3);
    for (const k of ids) expect(v.verify(msg, sign(msg, k.secretKey), k.publicKey)).toBe(true);
    v.clear();
    expect(v.size).toBe(0);
  });

  it('sha512Native equals tweetnacl sha512', () => {
    const b = randomBytes(mulberry32(12), 5000);
    expect(sha512Native(b)).toEqual(sha512(b));
    expect(sha512Native(new Uint8Array(0))).toEqual(sha512(new Uint8Array(0)));
  });
});
