// ClientCore's checks before it trains (client/core.ts, client/policy.ts): a
// task must carry the coordinator's signature, the downloaded model must
// match the hash in the signed task, and the client's own privacy policy may
// refuse a task whatever the coordinator says; nothing is sent then. A valid
// task yields a signed update bound to the task id.
import { beforeAll, describe, expect, it } from 'vitest';
import { ClientCore, PolicyError, type ClientSend, type PrivacyPolicy } from '../../client/index.ts';
import {
  PROTOCOL_VERSION,
  fromBase64,
  generateIdentity,
  naclVerifier,
  parseMessage,
  sha512,
  signTask,
  toBase64,
  updateSigningBytes,
  type SignedTaskFields,
  type Task,
} from '../../protocol/index.ts';
import { createModel, encodeCheckpoint, initBackend, type UserSequence } from '../../recommender/index.ts';

const ITEMS = Array.from({ length: 12 }, (_, i) => `sku-${i}`);
const coordinator = generateIdentity();
const client = generateIdentity();
let checkpoint: Uint8Array;

beforeAll(async () => {
  await initBackend('cpu');
  const m = createModel('mf', { numItems: ITEMS.length, dim: 4 }, 1);
  checkpoint = encodeCheckpoint(m, { itemIds: ITEMS });
  m.dispose();
});

function seq(user: string, items: number[]): UserSequence {
  return { user, items: Int32Array.from(items), types: new Uint8Array(items.length), ts: Float64Array.from(items, (_, j) => j) };
}

function fields(over: Partial<SignedTaskFields> = {}): SignedTaskFields {
  return {
    round: 1,
    modelVersion: 0,
    lineage: 'L-core',
    taskId: toBase64(new Uint8Array(16).fill(3)),
    modelHash: toBase64(sha512(checkpoint)),
    deadline: Date.now() + 60_000,
    train: { epochs: 1, lr: 0.1, batchSize: 8, proxMu: 0, optimizer: 'sgd' },
    privacy: { mode: 'central', clipNorm: 1, unit: 'user', sampleRate: 1, maxContributions: 10 },
    codec: 'f32',
    evaluate: false,
    ...over,
  };
}

function core(o: { policy?: PrivacyPolicy; bytes?: Uint8Array; key?: Uint8Array | null; hold?: boolean; valid?: boolean } = {}) {
  const sent: Array<{ kind: string; msg: unknown }> = [];
  const send: ClientSend = (kind, msg) => void sent.push({ kind, msg });
  const c = new ClientCore({
    clientId: 'shop-1',
    identity: client,
    loadData: async () => ({
      train: [seq('u1', [1, 2, 3]), seq('u2', [4, 5])],
      valid: o.valid ? [{ user: 'u1', history: { items: Int32Array.of(1, 2), types: new Uint8Array(2) }, target: 3 }] : [],
      test: [],
      users: 2,
      unknownItemEvents: 0,
    }),
    fetchModel: async () => o.bytes ?? checkpoint,
    send,
    coordinatorKey: () => (o.key === undefined ? coordinator.publicKey : o.key),
    policy: o.policy,
    holdUntilCutoff: o.hold,
  });
  return { c, sent };
}

describe('ClientCore', () => {
  it('trains on a signed task and sends an update signed over the lineage and the task id', async () => {
    const task = signTask(fields(), coordinator.secretKey);
    const { c, sent } = core();
    const r = await c.handleTask(task);
    expect(r.contributions).toBe(2);
    expect(sent.map((s) => s.kind)).toEqual(['update']);
    const u = parseMessage('update', sent[0].msg);
    expect(u.taskId).toBe(task.taskId);
    const bytes = updateSigningBytes({ protocolVersion: PROTOCOL_VERSION, lineage: 'L-core', taskId: u.taskId, round: 1, modelVersion: 0, clientId: 'shop-1', payloadHash: u.payloadHash, numExamples: u.numExamples, weight: u.weight, metrics: u.metrics });
    expect(naclVerifier.verify(bytes, fromBase64(u.signature), client.publicKey)).toBe(true);
    c.dispose();
  });

  it('refuses a task another key signed, a tampered task, and any task before it knows the coordinator key', async () => {
    const forged = signTask(fields(), generateIdentity().secretKey);
    const downgraded = { ...signTask(fields(), coordinator.secretKey), privacy: { mode: 'none', clipNorm: null, unit: 'client' } } as Task;
    for (const t of [forged, downgraded]) {
      const { c, sent } = core();
      await expect(c.handleTask(t)).rejects.toThrow(/does not carry a valid signature of the coordinator's key/);
      expect(sent).toEqual([]);
    }
    const { c, sent } = core({ key: null });
    await expect(c.handleTask(signTask(fields(), coordinator.secretKey))).rejects.toThrow(/coordinator's key is not known/);
    expect(sent).toEqual([]);
  });

  it('refuses a model whose bytes do not match the hash in the signed task', async () => {
    const swapped = Uint8Array.from(checkpoint);
    swapped[swapped.length - 1] ^= 1; // one bit of one weight
    const { c, sent } = core({ bytes: swapped });
    await expect(c.handleTask(signTask(fields(), coordinator.secretKey))).rejects.toThrow(/does not match the hash in the signed task/);
    expect(sent).toEqual([]);
  });

  it("keeps its own privacy policy: refuses mode 'none', another unit, a larger q or clip, however validly signed", async () => {
    const cases: Array<[PrivacyPolicy, Partial<SignedTaskFields>, RegExp]> = [
      [{ minMode: 'central' }, { privacy: { mode: 'none', clipNorm: null, unit: 'client' } }, /privacy mode 'none', this client requires 'central'/],
      [{ unit: 'user' }, { privacy: { mode: 'central', clipNorm: 1, unit: 'client' } }, /protects each client, this client requires each user/],
      [{ maxSampleRate: 0.05 }, {}, /sampling rate 1 is above this client's maximum 0.05/],
      [{ maxClipNorm: 0.5 }, {}, /clip norm 1 is above this client's maximum 0.5/],
      [{ maxEpsilon: 4 }, { privacy: { mode: 'central', clipNorm: 1, unit: 'user', sampleRate: 1, maxContributions: 10, targetEpsilon: 8 } }, /budget ε = 8 is above this client's maximum 4/],
      [{ maxEpsilon: 4 }, {}, /budget ε = unstated is above/],
    ];
    for (const [policy, over, msg] of cases) {
      const { c, sent } = core({ policy });
      const p = c.handleTask(signTask(fields(over), coordinator.secretKey));
      await expect(p).rejects.toThrow(PolicyError);
      await expect(p).rejects.toThrow(msg);
      expect(sent).toEqual([]);
    }
    // within the policy: trains
    const { c, sent } = core({ policy: { minMode: 'central', unit: 'user', maxSampleRate: 1, maxClipNorm: 1 } });
    await c.handleTask(signTask(fields(), coordinator.secretKey));
    expect(sent.map((s) => s.kind)).toEqual(['update']);
  });

  it('refuses, whatever its policy, a lossy codec under user-level DP, and a task it already ran', async () => {
    for (const codec of ['f16', 'int8'] as const) {
      const { c, sent } = core();
      await expect(c.handleTask(signTask(fields({ codec }), coordinator.secretKey))).rejects.toThrow(/codec .* under user-level DP/);
      expect(sent).toEqual([]);
    }
    const { c, sent } = core();
    const task = signTask(fields(), coordinator.secretKey);
    await c.handleTask(task);
    // the same signed task again (a relay replaying it to get a second sample): refused
    await expect(c.handleTask(task)).rejects.toThrow(/already run/);
    // and an older round of the same lineage
    await expect(c.handleTask(signTask(fields({ round: 0, taskId: toBase64(new Uint8Array(16).fill(9)) }), coordinator.secretKey))).rejects.toThrow(/older than round 1/);
    expect(sent.map((x) => x.kind)).toEqual(['update']);
    // the next round trains
    await c.handleTask(signTask(fields({ round: 2, taskId: toBase64(new Uint8Array(16).fill(4)) }), coordinator.secretKey));
    expect(sent).toHaveLength(2);
  });

  it('with --no-evaluation it never sends evaluation sums, even when the task asks', async () => {
    const asked = signTask(fields({ evaluate: true }), coordinator.secretKey);
    const plain = core({ valid: true });
    await plain.c.handleTask(asked);
    expect(plain.sent.map((x) => x.kind)).toEqual(['evalReport', 'update']);
    const quiet = core({ valid: true, policy: { noEvaluation: true } });
    await quiet.c.handleTask(signTask(fields({ evaluate: true }), coordinator.secretKey));
    expect(quiet.sent.map((x) => x.kind)).toEqual(['update']);
  });

  it('times the round from the task’s receipt and, holding under DP, sends at the cutoff, not when training ends', async () => {
    // a 3 s round received now: the cutoff is 3 s − max(1 s, 0.3 s) = 2 s after receipt
    const { c, sent } = core({ hold: true });
    const received = Date.now();
    let sentAt = 0;
    const r = c.handleTask(signTask(fields({ durationMs: 3000, deadline: 1 }), coordinator.secretKey), received).then(() => (sentAt = Date.now()));
    await r;
    expect(sent.map((x) => x.kind)).toEqual(['update']);
    expect(sentAt - received).toBeGreaterThanOrEqual(2000 - 5);
    // the task's absolute deadline (here 1970) played no part: durationMs counts from receipt
  });

  it('prepare loads a version ahead of its task; the task still checks its hash, and a version loaded from other bytes is fetched again', async () => {
    const swapped = Uint8Array.from(checkpoint);
    swapped[swapped.length - 1] ^= 1;
    const served: Uint8Array[] = [swapped, checkpoint];
    let fetches = 0;
    const sent: string[] = [];
    const c = new ClientCore({
      clientId: 'shop-1',
      identity: client,
      loadData: async () => ({ train: [seq('u1', [1, 2, 3])], valid: [], test: [], users: 1, unknownItemEvents: 0 }),
      fetchModel: async () => served[Math.min(fetches++, served.length - 1)],
      send: (kind) => void sent.push(kind),
      coordinatorKey: () => coordinator.publicKey,
    });
    await c.prepare(0, 'L-core'); // loads the tampered bytes (no task yet to check them against)
    expect(fetches).toBe(1);
    await c.handleTask(signTask(fields(), coordinator.secretKey));
    // the loaded bytes' hash is not the task's: fetched again, and the genuine bytes pass
    expect(fetches).toBe(2);
    expect(sent).toEqual(['update']);
    // prepared from the right bytes, a task of that version trains without a second download
    let n = 0;
    const counting = new ClientCore({
      clientId: 'shop-1',
      identity: client,
      loadData: async () => ({ train: [seq('u1', [1, 2, 3])], valid: [], test: [], users: 1, unknownItemEvents: 0 }),
      fetchModel: async () => (n++, checkpoint),
      send: () => {},
      coordinatorKey: () => coordinator.publicKey,
    });
    await counting.prepare(0, 'L-core');
    await counting.handleTask(signTask(fields(), coordinator.secretKey));
    expect(n).toBe(1);
  });
});
