import { createHash } from 'node:crypto';
import nacl from 'tweetnacl';
import { describe, expect, it } from 'vitest';
import {
  authMessage,
  evalSigningBytes,
  fromBase64,
  generateIdentity,
  hasCanonicalS,
  identityFromJSON,
  identityFromSeed,
  identityToJSON,
  publicKeyFingerprint,
  sha512,
  sign,
  toBase64,
  tryFromBase64,
  updateSigningBytes,
  verifyWithNacl,
} from '../../protocol/index.ts';
import { mulberry32, randomBytes, thrownCode } from './rng.ts';

const enc = new TextEncoder();
const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');

/** Hand-built canonical field encodings. */
const u32 = (n: number) => [n & 0xff, (n >>> 8) & 0xff, (n >>> 16) & 0xff, n >>> 24];
const u64 = (n: number) => [...u32(n % 2 ** 32), ...u32(Math.floor(n / 2 ** 32))];
const str = (s: string) => [...u32(enc.encode(s).length), ...enc.encode(s)];
const bytes = (b: Uint8Array) => [...u32(b.length), ...b];

describe('base64', () => {
  it('matches the RFC 4648 test vectors', () => {
    const vectors: [string, string][] = [['', ''], ['f', 'Zg=='], ['fo', 'Zm8='], ['foo', 'Zm9v'], ['foob', 'Zm9vYg=='], ['fooba', 'Zm9vYmE='], ['foobar', 'Zm9vYmFy']];
    for (const [plain, b64] of vectors) {
      expect(toBase64(enc.encode(plain))).toBe(b64);
      expect(tryFromBase64(b64)).toEqual(enc.encode(plain));
    }
  });

  it('agrees with Node Buffer on random inputs of every length', () => {
    const r = mulberry32(1);
    for (let n = 0; n < 300; n++) {
      const b = randomBytes(r, n);
      const s = Buffer.from(b).toString('base64');
      expect(toBase64(b)).toBe(s);
      expect(fromBase64(s)).toEqual(b);
    }
    const big = randomBytes(r, 100_000);
    expect(toBase64(big)).toBe(Buffer.from(big).toString('base64'));
  });

  it.each(['Zg=', 'Zg', 'Zh==', 'Zm9=', 'Zm9v\n', ' Zm9v', 'Z===', '====', '=Zm9', 'Zm=v', 'Zm9v====', 'Zm9-', 'Zm9_', 'Zm9é'])(
    'refuses non-canonical %j',
    (s) => {
      expect(tryFromBase64(s)).toBeNull();
      expect(thrownCode(() => fromBase64(s)).code).toBe('schema');
    },
  );

  it('checks the decoded length when asked', () => {
    expect(thrownCode(() => fromBase64('Zm9v', 4, 'nonce')).message).toBe('nonce must decode to 4 bytes, got 3');
  });
});

describe('sha512', () => {
  it('matches the FIPS 180-2 "abc" vector and node:crypto', () => {
    expect(hex(sha512(enc.encode('abc')))).toBe(
      'ddaf35a193617abacc417349ae20413112e6fa4e89a97ea20a9eeee64b55d39a2192992a274fc1a836ba3c23a3feebbd454d4423643ce80e2a9ac94fa54ca49f',
    );
    const b = randomBytes(mulberry32(2), 10_000);
    expect(hex(sha512(b))).toBe(createHash('sha512').update(b).digest('hex'));
  });
});

describe('identities', () => {
  it('generates Ed25519 key pairs that sign and verify', () => {
    const id = generateIdentity();
    expect(id.publicKey.length).toBe(32);
    expect(id.secretKey.length).toBe(64);
    expect(generateIdentity().publicKey).not.toEqual(id.publicKey);
    const msg = enc.encode('hello');
    const sig = sign(msg, id.secretKey);
    expect(sig.length).toBe(64);
    expect(verifyWithNacl(msg, sig, id.publicKey)).toBe(true);
  });

  it('round-trips through JSON and validates what it reads', () => {
    const id = { ...generateIdentity(), clientId: 'merchant-7' };
    const json = identityToJSON(id);
    expect(json).toEqual({ version: 1, publicKey: toBase64(id.publicKey), secretKey: toBase64(id.secretKey), clientId: 'merchant-7' });
    expect(identityFromJSON(json)).toEqual(id);
    expect(identityFromJSON(JSON.stringify(json))).toEqual(id);
    const noId = identityToJSON(generateIdentity());
    expect('clientId' in noId).toBe(false);

    const other = generateIdentity();
    const bad: [unknown, RegExp][] = [
      ['{not json', /not valid JSON/],
      [null, /expected an object/],
      [[json], /expected an object/],
      [{ ...json, version: 2 }, /version must be 1, got 2/],
      [{ ...json, version: undefined }, /version must be 1/],
      [{ ...json, publicKey: 42 }, /publicKey must be a base64 string/],
      [{ ...json, publicKey: toBase64(id.publicKey.subarray(0, 31)) }, /publicKey must decode to 32 bytes/],
      [{ ...json, secretKey: 'not base64!' }, /secretKey is not canonical base64/],
      [{ ...json, secretKey: toBase64(other.secretKey) }, /does not belong to publicKey/],
      [{ ...json, publicKey: toBase64(other.publicKey) }, /does not belong to publicKey/],
      [{ ...json, clientId: 'has space' }, /clientId must be/],
      [{ ...json, clientId: 'x'.repeat(129) }, /clientId must be/],
    ];
    for (const [input, pattern] of bad) {
      const r = thrownCode(() => identityFromJSON(input));
      expect(r.code).toBe('schema');
      expect(r.message).toMatch(pattern);
    }
  });

  it('derives deterministic identities from a seed', () => {
    const seed = new Uint8Array(32).fill(7);
    expect(identityFromSeed(seed)).toEqual(identityFromSeed(seed));
    expect(identityFromSeed(seed).publicKey).toEqual(nacl.sign.keyPair.fromSeed(seed).publicKey);
    expect(thrownCode(() => identityFromSeed(new Uint8Array(31))).code).toBe('schema');
  });

  it('fingerprints a public key as 32 hex characters', () => {
    const id = identityFromSeed(new Uint8Array(32));
    const fp = publicKeyFingerprint(id.publicKey);
    expect(fp).toMatch(/^[0-9a-f]{32}$/);
    expect(fp).toBe(hex(sha512(id.publicKey)).slice(0, 32));
  });
});

describe('canonical signing bytes', () => {
  const nonce = Uint8Array.from({ length: 32 }, (_, i) => i);
  const hash = Uint8Array.from({ length: 64 }, (_, i) => 255 - i);

  it('authMessage is tag, nonce and clientId, each length-prefixed', () => {
    const want = [...str('fedrec-auth-v1'), ...bytes(nonce), ...str('shop-1')];
    expect([...authMessage(nonce, 'shop-1')]).toEqual(want);
    expect(authMessage(toBase64(nonce), 'shop-1')).toEqual(authMessage(nonce, 'shop-1'));
    expect(thrownCode(() => authMessage(nonce.subarray(1), 'shop-1')).message).toBe('nonce must be 32 bytes');
    expect(thrownCode(() => authMessage(nonce, '')).code).toBe('schema');
    expect(thrownCode(() => authMessage(nonce, 'a b')).code).toBe('schema');
  });

  const taskId = Uint8Array.from({ length: 16 }, (_, i) => i);
  const bind = { protocolVersion: 2, lineage: 'L1', taskId };
  const bound = (...rest: number[][]) => [...u64(2), ...str('L1'), ...bytes(taskId), ...rest.flat()];

  it('updateSigningBytes is tag, protocolVersion, lineage, taskId, round, modelVersion, clientId, payloadHash, numExamples (u64) and weight (f64)', () => {
    const f = { ...bind, round: 2 ** 40 + 3, modelVersion: 7, clientId: 'c', payloadHash: hash, numExamples: 9, weight: 0.5 };
    // 0.5 as a little-endian IEEE double: 0x3FE0000000000000
    const half = [0, 0, 0, 0, 0, 0, 0xe0, 0x3f];
    const want = [...str('fedrec-update-v2'), ...bound(u64(2 ** 40 + 3), u64(7), str('c'), bytes(hash), u64(9), half, str('{}'))];
    expect([...updateSigningBytes(f)]).toEqual(want);
    expect(updateSigningBytes({ ...f, payloadHash: toBase64(hash) })).toEqual(updateSigningBytes(f));
    expect(updateSigningBytes({ ...f, taskId: toBase64(taskId) })).toEqual(updateSigningBytes(f));
    for (const [k, v] of [['round', -1], ['round', 1.5], ['modelVersion', NaN], ['protocolVersion', 2 ** 53]] as const) {
      expect(thrownCode(() => updateSigningBytes({ ...f, [k]: v })).message).toContain(k);
    }
    expect(thrownCode(() => updateSigningBytes({ ...f, payloadHash: hash.subarray(1) })).message).toBe('payloadHash must be 64 bytes');
    expect(thrownCode(() => updateSigningBytes({ ...f, taskId: taskId.subarray(1) })).message).toBe('taskId must be 16 bytes');
    expect(thrownCode(() => updateSigningBytes({ ...f, lineage: '' })).code).toBe('schema');
  });

  it('length prefixes keep different field values apart', () => {
    // Naive concatenation would make ('a1', 2) and ('a', 12) the same "a12".
    const naive = (id: string, round: number) => id + String(round);
    expect(naive('a1', 2)).toBe(naive('a', 12));
    const a = updateSigningBytes({ ...bind, round: 2, modelVersion: 0, clientId: 'a1', payloadHash: hash, numExamples: 1, weight: 1 });
    const b = updateSigningBytes({ ...bind, round: 12, modelVersion: 0, clientId: 'a', payloadHash: hash, numExamples: 1, weight: 1 });
    expect(a).not.toEqual(b);
    const e1 = evalSigningBytes({ ...bind, round: 1, modelVersion: 1, clientId: 'c', count: 1, sums: { ab: 1, c: 2 } });
    const e2 = evalSigningBytes({ ...bind, round: 1, modelVersion: 1, clientId: 'c', count: 1, sums: { a: 1, bc: 2 } });
    expect(e1).not.toEqual(e2);
    // Every single-field change changes the bytes (the lineage and the task id included: an update made for
    // another federation or another run of the round does not verify).
    const base = { ...bind, round: 5, modelVersion: 4, clientId: 'x', payloadHash: hash, numExamples: 3, weight: 2 };
    const variants = [
      { ...base, numExamples: 4 },
      { ...base, weight: 2.5 },
      { ...base, protocolVersion: 3 },
      { ...base, round: 6 },
      { ...base, modelVersion: 5 },
      { ...base, clientId: 'y' },
      { ...base, lineage: 'L2' },
      { ...base, taskId: Uint8Array.from(taskId, (v, i) => (i === 15 ? v ^ 1 : v)) },
      { ...base, payloadHash: Uint8Array.from(hash, (v, i) => (i === 63 ? v ^ 1 : v)) },
    ];
    const seen = new Set([hex(updateSigningBytes(base)), ...variants.map((v) => hex(updateSigningBytes(v)))]);
    expect(seen.size).toBe(10);
  });

  it('domain tags separate auth, update, eval and task bytes', () => {
    const tags = [
      authMessage(nonce, 'c'),
      updateSigningBytes({ ...bind, round: 1, modelVersion: 1, clientId: 'c', payloadHash: hash, numExamples: 1, weight: 1 }),
      evalSigningBytes({ ...bind, round: 1, modelVersion: 1, clientId: 'c', count: 1, sums: {} }),
    ];
    expect(new TextDecoder().decode(tags[0].subarray(4, 18))).toBe('fedrec-auth-v1');
    expect(new TextDecoder().decode(tags[1].subarray(4, 20))).toBe('fedrec-update-v2');
    expect(new TextDecoder().decode(tags[2].subarray(4, 18))).toBe('fedrec-eval-v2');
  });

  it('evalSigningBytes sorts the sums, writes f64s, and treats -0 as 0', () => {
    const f = { ...bind, round: 3, modelVersion: 2, clientId: 'c', count: 10, sums: { 'ndcg@10': 0.25, 'hr@10': 0.5 } };
    const f64 = (x: number) => {
      const b = new Uint8Array(8);
      new DataView(b.buffer).setFloat64(0, x, true);
      return [...b];
    };
    const want = [
      ...str('fedrec-eval-v2'), ...bound(u64(3), u64(2), str('c'), u64(10), u64(2)),
      ...str('hr@10'), ...f64(0.5), ...str('ndcg@10'), ...f64(0.25),
    ];
    expect([...evalSigningBytes(f)]).toEqual(want);
    expect(evalSigningBytes({ ...f, sums: { 'hr@10': 0.5, 'ndcg@10': 0.25 } })).toEqual(evalSigningBytes(f));
    expect(evalSigningBytes({ ...f, sums: { loss: -0 } })).toEqual(evalSigningBytes({ ...f, sums: { loss: 0 } }));
    // a JSON trip keeps the bytes (numbers survive; -0 becomes 0)
    const wire = { ...JSON.parse(JSON.stringify({ ...f, taskId: toBase64(taskId), sums: { a: 0.1 + 0.2, b: -0, c: 1e-300 } })) };
    expect(evalSigningBytes(wire)).toEqual(evalSigningBytes({ ...f, sums: { a: 0.1 + 0.2, b: -0, c: 1e-300 } }));
    expect(thrownCode(() => evalSigningBytes({ ...f, sums: { a: NaN } })).message).toContain('sums.a');
    expect(thrownCode(() => evalSigningBytes({ ...f, sums: { a: Infinity } })).code).toBe('schema');
    expect(thrownCode(() => evalSigningBytes({ ...f, sums: JSON.parse('{"__proto__": 1}') })).message).toContain('__proto__');
    expect(thrownCode(() => evalSigningBytes({ ...f, count: -1 })).message).toContain('count');
  });
});

describe('verifyWithNacl', () => {
  const id = identityFromSeed(new Uint8Array(32).fill(1));
  const msg = enc.encode('the update');
  const sig = sign(msg, id.secretKey);

  it('rejects tampering, wrong keys and malformed input without throwing', () => {
    expect(verifyWithNacl(msg, sig, id.publicKey)).toBe(true);
    expect(verifyWithNacl(enc.encode('the updatE'), sig, id.publicKey)).toBe(false);
    const badSig = sig.slice();
    badSig[5] ^= 1;
    expect(verifyWithNacl(msg, badSig, id.publicKey)).toBe(false);
    expect(verifyWithNacl(msg, sig, generateIdentity().publicKey)).toBe(false);
    expect(verifyWithNacl(msg, sig.subarray(0, 63), id.publicKey)).toBe(false);
    expect(verifyWithNacl(msg, sig, id.publicKey.subarray(0, 31))).toBe(false);
    expect(verifyWithNacl(msg, new Uint8Array(64), id.publicKey)).toBe(false);
    for (const junk of [null, undefined, 'sig', 42, {}]) {
      expect(verifyWithNacl(msg, junk as unknown as Uint8Array, id.publicKey)).toBe(false);
      expect(verifyWithNacl(junk as unknown as Uint8Array, sig, id.publicKey)).toBe(false);
      expect(verifyWithNacl(msg, sig, junk as unknown as Uint8Array)).toBe(false);
    }
  });

  it('rejects the malleated signature (S + L) that bare tweetnacl accepts', () => {
    const L = [0xed, 0xd3, 0xf5, 0x5c, 0x1a, 0x63, 0x12, 0x58, 0xd6, 0x9c, 0xf7, 0xa2, 0xde, 0xf9, 0xde, 0x14, ...new Array(15).fill(0), 0x10];
    // find a signature whose S + L still fits in 256 bits (S < 2^256 - L: almost always)
    const m = sig.slice();
    let carry = 0;
    for (let i = 0; i < 32; i++) {
      const v = m[32 + i] + L[i] + carry;
      m[32 + i] = v & 0xff;
      carry = v >> 8;
    }
    expect(carry).toBe(0);
    expect(nacl.sign.detached.verify(msg, m, id.publicKey)).toBe(true); // tweetnacl does not check S < L
    expect(hasCanonicalS(sig)).toBe(true);
    expect(hasCanonicalS(m)).toBe(false);
    expect(verifyWithNacl(msg, m, id.publicKey)).toBe(false);
  });
});
