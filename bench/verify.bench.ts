// node bin/run-ts.mjs bench/verify.bench.ts — Ed25519 verifications per
// second: native (node:crypto / OpenSSL, cached KeyObjects) vs tweetnacl, on
// update-signing messages (the bytes a coordinator verifies per submission).
// Each figure is the median of REPEATS timed runs after a warm-up.
import { identityFromSeed, sha512, sign, updateSigningBytes, verifyWithNacl } from '../protocol/index.ts';
import { Ed25519Verifier, sha512Native } from '../protocol/node/index.ts';
import { median, printContext } from './machine.ts';

const REPEATS = Number(process.env.BENCH_REPEATS ?? 7);
const KEYS = 64;
const CASES = 256;
const NATIVE_PASSES = 20; // native is fast: more passes per run for a measurable time
const NACL_PASSES = 1;

interface Case {
  bytes: Uint8Array;
  signature: Uint8Array;
  publicKey: Uint8Array;
}

function makeCases(): Case[] {
  const keys = Array.from({ length: KEYS }, (_, i) => identityFromSeed(new Uint8Array(32).fill(i + 1)));
  return Array.from({ length: CASES }, (_, c) => {
    const k = keys[c % KEYS];
    const payloadHash = new Uint8Array(64).map((_, i) => (i * 31 + c) & 0xff);
    const bytes = updateSigningBytes({ protocolVersion: 2, lineage: 'bench', taskId: new Uint8Array(16).fill(c & 0xff), round: c, modelVersion: c, clientId: `client-${c % KEYS}`, payloadHash, numExamples: c, weight: 1 });
    return { bytes, signature: sign(bytes, k.secretKey), publicKey: k.publicKey };
  });
}

function rate(cases: Case[], passes: number, verify: (b: Uint8Array, s: Uint8Array, p: Uint8Array) => boolean): number {
  let ok = 0;
  const t = performance.now();
  for (let p = 0; p < passes; p++) for (const c of cases) if (verify(c.bytes, c.signature, c.publicKey)) ok++;
  const seconds = (performance.now() - t) / 1000;
  if (ok !== passes * cases.length) throw new Error('a valid signature failed to verify');
  return (passes * cases.length) / seconds;
}

printContext('Ed25519 verify: node:crypto vs tweetnacl');
const cases = makeCases();
const native = new Ed25519Verifier();
rate(cases, 2, (b, s, p) => native.verify(b, s, p)); // warm-up (also fills the KeyObject cache)
rate(cases, 1, verifyWithNacl);
const nativeRates: number[] = [];
const naclRates: number[] = [];
for (let r = 0; r < REPEATS; r++) {
  nativeRates.push(rate(cases, NATIVE_PASSES, (b, s, p) => native.verify(b, s, p)));
  naclRates.push(rate(cases, NACL_PASSES, verifyWithNacl));
}
const n = median(nativeRates);
const t = median(naclRates);
console.log(`message: ${cases[0].bytes.length} bytes (update signing bytes), ${KEYS} keys, ${REPEATS} runs`);
console.log(`native    ${n.toFixed(0).padStart(8)} verifications/s   (${(1e6 / n).toFixed(1)} µs each)`);
console.log(`tweetnacl ${t.toFixed(0).padStart(8)} verifications/s   (${(1e6 / t).toFixed(1)} µs each)`);
console.log(`speed-up  ${(n / t).toFixed(1)}x`);

// Cold keys: every verification creates its KeyObject (no cache hits).
const coldRates: number[] = [];
for (let r = 0; r < REPEATS; r++) coldRates.push(rate(cases, 1, (b, s, p) => new Ed25519Verifier().verify(b, s, p)));
const cold = median(coldRates);
console.log(`native, uncached keys ${cold.toFixed(0)} verifications/s (${(cold / t).toFixed(1)}x tweetnacl)`);

// Payload hashing (every update's payloadHash is checked): 1 MiB, about a 260k-parameter f32 delta.
const payload = new Uint8Array(1 << 20).map((_, i) => (i * 2654435761) >>> 24);
const hashRate = (f: (b: Uint8Array) => Uint8Array, passes: number): number => {
  const t0 = performance.now();
  for (let p = 0; p < passes; p++) f(payload);
  return passes / ((performance.now() - t0) / 1000);
};
hashRate(sha512Native, 3);
hashRate(sha512, 1);
const hn = median(Array.from({ length: REPEATS }, () => hashRate(sha512Native, 10)));
const ht = median(Array.from({ length: REPEATS }, () => hashRate(sha512, 1)));
console.log(`sha512 of 1 MiB: native ${hn.toFixed(0)} MiB/s, tweetnacl ${ht.toFixed(0)} MiB/s (${(hn / ht).toFixed(1)}x)`);
