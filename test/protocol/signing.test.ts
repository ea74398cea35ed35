// What is signed besides auth and the update bytes (identity.test.ts):
// canonical JSON (hand-written expected strings), the coordinator's task
// signature (any change to a field the client acts on breaks it; transport
// extras and key order do not), and the signedUpdate / signedEvalReport
// helpers every client and the attack lab use.
import { describe, expect, it } from 'vitest';
import {
  PROTOCOL_VERSION,
  canonicalJson,
  evalSigningBytes,
  fromBase64,
  generateIdentity,
  naclVerifier,
  parseMessage,
  signTask,
  signedEvalReport,
  signedUpdate,
  toBase64,
  updateSigningBytes,
  verifyTask,
  type SignedTaskFields,
} from '../../protocol/index.ts';

describe('canonicalJson', () => {
  it('sorts keys at every depth, drops undefined members, keeps array order (hand-written expectations)', () => {
    expect(canonicalJson({ b: 1, a: { d: [3, 1], c: 'x' }, u: undefined })).toBe('{"a":{"c":"x","d":[3,1]},"b":1}');
    expect(canonicalJson({ z: null, y: true, x: 0.1 })).toBe('{"x":0.1,"y":true,"z":null}');
    expect(canonicalJson(-0)).toBe('0');
    expect(canonicalJson(1e21)).toBe('1e+21');
  });

  it('refuses what JSON cannot carry exactly', () => {
    expect(() => canonicalJson({ a: NaN })).toThrow(/a must be a finite number/);
    expect(() => canonicalJson({ a: Infinity })).toThrow(/finite/);
    expect(() => canonicalJson({ b: new Uint8Array(2) })).toThrow(/binary/);
    expect(() => canonicalJson({ f: () => 1 })).toThrow(/function/);
  });
});

const coordinator = generateIdentity();

function fields(): SignedTaskFields {
  return {
    round: 3,
    modelVersion: 2,
    lineage: 'L0123456789abcdef',
    taskId: toBase64(new Uint8Array(16).fill(9)),
    modelHash: toBase64(new Uint8Array(64).fill(5)),
    deadline: 1_900_000_000_000,
    train: { epochs: 1, lr: 0.5, batchSize: 16, proxMu: 0, optimizer: 'sgd' },
    privacy: { mode: 'central', clipNorm: 1.5, unit: 'user', sampleRate: 0.1, maxContributions: 40 },
    codec: 'f32',
    evaluate: true,
  };
}

describe('task signatures', () => {
  it('a signed task verifies after a trip through JSON and the schema, whatever its key order', () => {
    const task = signTask(fields(), coordinator.secretKey);
    const wire = parseMessage('task', JSON.parse(JSON.stringify(task)));
    expect(verifyTask(wire, coordinator.publicKey, naclVerifier)).toBe(true);
    const reordered = Object.fromEntries(Object.entries(task).reverse()) as typeof task;
    expect(verifyTask(reordered, coordinator.publicKey, naclVerifier)).toBe(true);
  });

  it('any change to what the client acts on breaks it: a downgraded privacy block, another model, a later deadline', () => {
    const task = signTask(fields(), coordinator.secretKey);
    const changed = [
      { ...task, privacy: { ...task.privacy, mode: 'none' as const } },
      { ...task, privacy: { ...task.privacy, clipNorm: 15 } },
      { ...task, privacy: { ...task.privacy, sampleRate: 0.9 } },
      { ...task, privacy: { ...task.privacy, maxContributions: 4000 } },
      { ...task, modelHash: toBase64(new Uint8Array(64).fill(6)) },
      { ...task, deadline: task.deadline + 1 },
      { ...task, train: { ...task.train, lr: 0.51 } },
      { ...task, taskId: toBase64(new Uint8Array(16).fill(8)) },
    ];
    for (const t of changed) expect(verifyTask(t, coordinator.publicKey, naclVerifier)).toBe(false);
    // another key, or garbage, never verifies
    expect(verifyTask(task, generateIdentity().publicKey, naclVerifier)).toBe(false);
    expect(verifyTask({ ...task, signature: 'not base64' }, coordinator.publicKey, naclVerifier)).toBe(false);
  });

  it('the transport extra `upload` is outside the signature', () => {
    const task = signTask(fields(), coordinator.secretKey);
    expect(verifyTask({ ...task, upload: { token: 'x' } } as typeof task, coordinator.publicKey, naclVerifier)).toBe(true);
  });
});

describe('signedUpdate and signedEvalReport', () => {
  const client = generateIdentity();
  const taskId = toBase64(new Uint8Array(16).fill(1));

  it('signedUpdate hashes the payload and signs the update bytes bound to lineage and task id; the message parses', () => {
    const payload = Uint8Array.of(1, 2, 3, 4);
    const msg = signedUpdate(
      { lineage: 'L1', taskId, round: 4, modelVersion: 3, clientId: 'shop', codec: 'f32', payload, numExamples: 9, weight: 2, clipCount: 0, metrics: { loss: 0.5 } },
      client.secretKey,
    );
    const u = parseMessage('update', msg);
    expect(u.taskId).toBe(taskId);
    expect(u.metrics.loss).toBe(0.5);
    const bytes = updateSigningBytes({ protocolVersion: PROTOCOL_VERSION, lineage: 'L1', taskId, round: 4, modelVersion: 3, clientId: 'shop', payloadHash: u.payloadHash, numExamples: 9, weight: 2, clipCount: 0, metrics: { loss: 0.5 } });
    expect(naclVerifier.verify(bytes, fromBase64(u.signature), client.publicKey)).toBe(true);
    // signed for another lineage: does not verify here
    const other = updateSigningBytes({ protocolVersion: PROTOCOL_VERSION, lineage: 'L2', taskId, round: 4, modelVersion: 3, clientId: 'shop', payloadHash: u.payloadHash, numExamples: 9, weight: 2, clipCount: 0, metrics: { loss: 0.5 } });
    // the metrics are signed too: a relay cannot change the loss the operator records
    const relabelled = updateSigningBytes({ protocolVersion: PROTOCOL_VERSION, lineage: 'L1', taskId, round: 4, modelVersion: 3, clientId: 'shop', payloadHash: u.payloadHash, numExamples: 9, weight: 2, clipCount: 0, metrics: { loss: 0.1 } });
    expect(naclVerifier.verify(relabelled, fromBase64(u.signature), client.publicKey)).toBe(false);
    expect(naclVerifier.verify(other, fromBase64(u.signature), client.publicKey)).toBe(false);
  });

  it('signedEvalReport signs the sums bound to lineage and task id', () => {
    const r = signedEvalReport({ lineage: 'L1', taskId, round: 4, modelVersion: 3, clientId: 'shop', count: 10, sums: { 'hr@10': 2 } }, client.secretKey);
    const parsed = parseMessage('evalReport', r);
    const bytes = evalSigningBytes({ protocolVersion: PROTOCOL_VERSION, lineage: 'L1', taskId, round: 4, modelVersion: 3, clientId: 'shop', count: 10, sums: { 'hr@10': 2 } });
    expect(naclVerifier.verify(bytes, fromBase64(parsed.signature), client.publicKey)).toBe(true);
  });
});
