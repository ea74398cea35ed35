// coordinator/engine: every way an update can be wrong is refused with its
// reason code (sent back as 'updateRejected', counted in stats.refused,
// listed in the round record), none of them touches the aggregate, and
// receiveUpdate never throws, whatever it is given.
import { afterEach, describe, expect, it } from 'vitest';
import { REASON_CODES, encode, fromBase64, parseMessage, toBase64 } from '../../protocol/index.ts';
import { fill, makeClient, makeHarness, makeUpdate, ramp, seededUniform, SIZE, type Harness } from './engineHarness.ts';
import { MAX_LISTED_REFUSALS, PlainPlanner, UPDATE_NORM_FACTOR, defaultMaxUpdateNorm } from '../../coordinator/index.ts';

const open: Harness[] = [];
async function harness(...a: Parameters<typeof makeHarness>): Promise<Harness> {
  const h = await makeHarness(...a);
  open.push(h);
  return h;
}
afterEach(async () => {
  for (const h of open.splice(0)) await h.close();
});

/** Delivers `raw` as `clientId` and returns the one reply it caused (which must be a valid protocol message). */
function deliver(h: Harness, clientId: string, raw: unknown): { kind: string; msg: any } {
  const before = h.transport.sent.length;
  h.engine.receiveUpdate(clientId, raw);
  const replies = h.transport.sent.slice(before);
  expect(replies, `replies to ${clientId}`).toHaveLength(1);
  expect(replies[0].clientId).toBe(clientId);
  return replies[0];
}

function refusal(h: Harness, clientId: string, raw: unknown): string {
  const r = deliver(h, clientId, raw);
  expect(r.kind).toBe('updateRejected');
  const m = parseMessage('updateRejected', r.msg);
  return m.code;
}

function accepted(h: Harness, clientId: string, raw: unknown): void {
  const r = deliver(h, clientId, raw);
  expect(r.kind, JSON.stringify(r.msg)).toBe('updateAck');
}

describe('refusals', () => {
  it('each bad update is refused with its reason, and the committed weights are those of the honest updates', async () => {
    const h = await harness({
      extraRegistered: ['outsider'],
      config: { totalRounds: 2, minClients: 3, clientsPerRound: 3, quorum: 2, deadlineMs: 800, pauseMs: 300, maxUpdateBytes: 16 + 4 * SIZE },
    });
    const [A, B, C, O] = ['alice', 'bob', 'carol', 'outsider'].map((id) => h.clients.get(id)!);
    const run = h.start();
    const t1 = (await h.transport.task(1)).msg;
    expect(t1).toMatchObject({ round: 1, modelVersion: 0 });

    const honestA = makeUpdate(A, t1, fill(1), { weight: 1, numExamples: 10 });
    const codes: Array<[string, string]> = [];
    const expectRefused = (id: string, raw: unknown, code: string) => {
      expect(refusal(h, id, raw), `${code} from ${id}`).toBe(code);
      codes.push([id, code]);
    };

    // forged signature: signed with bob's key
    expectRefused('alice', makeUpdate(A, t1, fill(1), { secretKey: B.secretKey }), 'bad-signature');
    // a flipped bit in the signature
    const sig = fromBase64(honestA.signature as string);
    sig[10] ^= 1;
    expectRefused('alice', { ...honestA, signature: toBase64(sig) }, 'bad-signature');
    // payload swapped after signing: payloadHash no longer its SHA-512
    expectRefused('alice', { ...honestA, payload: encode(fill(50), 'f32') }, 'bad-signature');
    // inflated weight / numExamples with the original signature
    expectRefused('alice', { ...honestA, weight: 5 }, 'bad-signature');
    expectRefused('alice', { ...honestA, numExamples: 10_000 }, 'bad-signature');
    // an unregistered client id, correctly self-signed
    const mallory = makeClient('mallory');
    expectRefused('mallory', makeUpdate(mallory, t1, fill(1)), 'unknown-identity');
    // another session relaying alice's (valid) update
    expectRefused('bob', honestA, 'auth-failed');
    // trained from a model version that is not the round's
    expectRefused('alice', makeUpdate(A, { ...t1, round: 1, modelVersion: 1 }, fill(1)), 'stale-model');
    // for a future round
    expectRefused('alice', makeUpdate(A, { ...t1, round: 2, modelVersion: 0 }, fill(1)), 'stale-round');
    // wrong number of values (11; still under maxUpdateBytes)
    expectRefused('alice', makeUpdate(A, t1, new Float32Array(SIZE - 1).fill(1)), 'shape');
    // NaN / Infinity in the payload
    expectRefused('alice', makeUpdate(A, t1, ramp((i) => (i === 3 ? NaN : 1))), 'non-finite');
    expectRefused('alice', makeUpdate(A, t1, ramp((i) => (i === 11 ? -Infinity : 1))), 'non-finite');
    // f16 overflow decodes to Infinity
    expectRefused('alice', makeUpdate(A, t1, ramp((i) => (i === 0 ? 70000 : 0)), { codec: 'f16' }), 'non-finite');
    // payload encoded as f16 while the message says f32
    expectRefused('alice', makeUpdate(A, t1, fill(1), { payload: encode(fill(1), 'f16'), codec: 'f32' }), 'codec');
    // a registered client that was not selected
    expectRefused('outsider', makeUpdate(O, t1, fill(1)), 'not-selected');
    // a payload over maxUpdateBytes (13 f32 values = 68 bytes > 64)
    expectRefused('alice', makeUpdate(A, t1, new Float32Array(SIZE + 1)), 'too-large');
    // schema garbage
    for (const junk of [null, undefined, 'update', 42, [], {}, { ...honestA, weight: -1 }, { ...honestA, modelVersion: 1.5 }, { ...honestA, payload: 'AAAA' }]) {
      expectRefused('alice', junk, 'schema');
    }
    expect(h.strategy.count).toBe(0);

    // honest alice; then her replays (the same message, and a fresh, correctly signed one)
    accepted(h, 'alice', honestA);
    expectRefused('alice', honestA, 'replay');
    expectRefused('alice', makeUpdate(A, t1, fill(-40), { weight: 9 }), 'replay');
    // honest bob
    accepted(h, 'bob', makeUpdate(B, t1, ramp((i) => i), { weight: 3, numExamples: 30 }));
    expect(h.strategy.count).toBe(2);
    // carol is past the deadline (the engine's clock jumps a minute ahead)
    h.clock.skew = 60_000;
    expectRefused('carol', makeUpdate(C, t1, fill(-100), { weight: 5 }), 'deadline-passed');
    h.clock.skew = 0;

    const r1 = await h.round(1, 3000);
    expect(r1.outcome).toBe('committed');
    expect(r1.participants.map((p) => [p.clientId, p.weight, p.numExamples])).toEqual([
      ['alice', 1, 10],
      ['bob', 3, 30],
    ]);
    expect(r1.refusals.map((r) => [r.clientId, r.code])).toEqual(codes);
    for (const r of r1.refusals) expect(r.message.length).toBeGreaterThan(0);
    // avg = (1·1 + 3·i)/4; w1 = i/4 + (1 + 3i)/4 = i + 0.25
    expect([...h.store.latest().weights]).toEqual(Array.from({ length: SIZE }, (_, i) => i + 0.25));

    // between rounds: carol's round-1 update is refused as closed
    expectRefused('carol', makeUpdate(C, t1, fill(1)), 'round-closed');

    const t2 = (await h.transport.task(2)).msg;
    expect(t2).toMatchObject({ round: 2, modelVersion: 1 });
    // alice replays her round-1 update in round 2
    expectRefused('alice', honestA, 'stale-round');
    // and a round-2 update trained from version 0
    expectRefused('alice', makeUpdate(A, { ...t2, round: 2, modelVersion: 0 }, fill(1)), 'stale-model');
    accepted(h, 'alice', makeUpdate(A, t2, fill(-2), { weight: 2 }));
    accepted(h, 'bob', makeUpdate(B, t2, fill(4), { weight: 1 }));
    accepted(h, 'carol', makeUpdate(C, t2, ramp((i) => -i), { weight: 1 }));
    await run;
    const r2 = h.store.record(2)!;
    expect(r2.outcome).toBe('committed');
    expect(r2.refusals.map((r) => r.code)).toEqual(['stale-round', 'stale-model']);
    // sum = −4 + 4 − i, total weight 4 → avg −i/4; w2 = i + 0.25 − i/4 = 0.75·i + 0.25
    expect([...h.store.latest().weights]).toEqual(Array.from({ length: SIZE }, (_, i) => 0.75 * i + 0.25));

    const tally = new Map<string, number>();
    for (const [, code] of codes) tally.set(code, (tally.get(code) ?? 0) + 1);
    expect(Object.fromEntries(h.engine.stats.refused)).toEqual(Object.fromEntries(tally));
    expect(h.engine.stats.refused.get('bad-signature')).toBe(5);
    expect(h.engine.stats.refused.get('schema')).toBe(9);
    expect(h.engine.stats.accepted).toBe(5);
    expect(h.engine.stats.bytesIn).toBe(5 * (16 + 4 * SIZE));
    // every rejection carried the round the update named (0 when it named none)
    for (const s of h.transport.of('updateRejected')) expect([0, 1, 2]).toContain(s.msg.round);
  });

  it('outside DP one client cannot wreck the model: weights over the cap or over numExamples are refused, a huge norm is scaled to maxUpdateNorm', async () => {
    const h = await harness({
      clients: ['alice', 'bob'],
      config: { totalRounds: 1, minClients: 2, clientsPerRound: 2, quorum: 2, deadlineMs: 2000 },
      releases: () => new PlainPlanner({ maxUpdateNorm: 2, maxWeight: 1000, weighting: 'examples' }),
    });
    const [A, B] = ['alice', 'bob'].map((id) => h.clients.get(id)!);
    const run = h.start();
    const t1 = (await h.transport.task(1)).msg;
    expect(t1.privacy).toEqual({ mode: 'none', clipNorm: null, unit: 'client' });
    const poison = fill(1e20); // finite in float32
    // the audit's attempt: weight 2³² (refused: over limits.maxWeight)
    const over = h.engine.stats.refused.get('schema') ?? 0;
    expect(refusal(h, 'alice', makeUpdate(A, t1, poison, { weight: 2 ** 32, numExamples: 2 ** 32 }))).toBe('schema');
    // a weight above the examples it claims to weigh
    expect(refusal(h, 'alice', makeUpdate(A, t1, poison, { weight: 10, numExamples: 5 }))).toBe('schema');
    expect(h.engine.stats.refused.get('schema')).toBe(over + 2);
    // at the cap: accepted, but scaled to norm 2 (direction (1, …, 1)/√12: each value 2/√12)
    accepted(h, 'alice', makeUpdate(A, t1, poison, { weight: 1000, numExamples: 1000 }));
    accepted(h, 'bob', makeUpdate(B, t1, fill(0), { weight: 1, numExamples: 1 }));
    await run;
    const r = h.store.record(1)!;
    expect(r.outcome).toBe('committed');
    expect(r.participants.find((p) => p.clientId === 'alice')?.bounded).toBe(true);
    expect(r.participants.find((p) => p.clientId === 'bob')?.bounded).toBeUndefined();
    expect(h.engine.stats.bounded).toBe(1);
    // w1 = w0 + (1000 · 2/√12 · 1 + 1 · 0)/1001: the model moved by at most the bound, and stays finite
    const w = h.store.latest().weights;
    for (let i = 0; i < SIZE; i++) expect(w[i]).toBeCloseTo(i / 4 + (1000 * (2 / Math.sqrt(12))) / 1001, 5);
    let moved = 0;
    for (let i = 0; i < SIZE; i++) moved += (w[i] - i / 4) ** 2;
    expect(Math.sqrt(moved)).toBeLessThanOrEqual(2 * (1 + 1e-6));
  });

  it('an update the transport received before the deadline counts even if it reaches the engine after it (queued): the round flushes the transport first', async () => {
    const h = await harness({ clients: ['alice', 'bob'], config: { totalRounds: 1, minClients: 2, clientsPerRound: 2, quorum: 2, deadlineMs: 300 } });
    const [A, B] = ['alice', 'bob'].map((id) => h.clients.get(id)!);
    const run = h.start();
    const t1 = (await h.transport.task(1)).msg;
    accepted(h, 'alice', makeUpdate(A, t1, fill(1)));
    // bob's upload arrives now but waits in the transport's queue past the deadline
    const arrived = Date.now();
    h.transport.queued.push(() => h.engine.receiveUpdate('bob', makeUpdate(B, t1, fill(3)), arrived));
    await run;
    expect(h.transport.flushes).toBe(1);
    const r = h.store.record(1)!;
    expect(r.outcome).toBe('committed');
    expect(r.participants.map((p) => p.clientId).sort()).toEqual(['alice', 'bob']);
  });

  it('an update the transport received after the deadline is refused, whenever it is processed', async () => {
    const h = await harness({ clients: ['alice', 'bob'], config: { totalRounds: 1, minClients: 2, clientsPerRound: 2, quorum: 1, deadlineMs: 2000 } });
    const A = h.clients.get('alice')!;
    const run = h.start();
    const t1 = (await h.transport.task(1)).msg;
    h.engine.receiveUpdate('alice', makeUpdate(A, t1, fill(1)), t1.deadline + 1);
    expect(h.transport.of('updateRejected', 'alice')[0].msg.code).toBe('deadline-passed');
    h.engine.stop();
    await run;
  });

  it('the default norm bound is 10 × the initial model norm, at least 1', () => {
    // hand: ‖(3, 4)‖ = 5 → 50; a zero model → 1
    expect(defaultMaxUpdateNorm(Float32Array.of(3, 4))).toBe(50);
    expect(defaultMaxUpdateNorm(new Float32Array(8))).toBe(1);
    expect(UPDATE_NORM_FACTOR).toBe(10);
  });
});

// ------------------------------------------------------------------ fuzz

function fuzzValues(h: Harness, task: any, count: number, seed: number): Array<[string, unknown]> {
  const u = seededUniform(seed);
  const pick = <T,>(xs: readonly T[]): T => xs[Math.floor(u() * xs.length)];
  const ids = ['alice', 'bob', 'carol', 'outsider', 'mallory', '', '../etc', 'a'.repeat(300), 'ALICE'];
  const prims: unknown[] = [undefined, null, true, false, 0, -0, -1, 1, 2, 1.5, NaN, Infinity, -Infinity, 1e308, 2 ** 53, -(2 ** 53), '', 'x', 'update', '1', '\u0000', 'é'.repeat(70), 10n, Symbol('s'), () => 1, new Date(0), /re/];
  const signedKeys = ['round', 'modelVersion', 'clientId', 'codec', 'payload', 'payloadHash', 'numExamples', 'weight', 'signature'];
  const keys = ['round', 'modelVersion', 'clientId', 'codec', 'payload', 'payloadHash', 'numExamples', 'weight', 'signature', 'metrics', '__proto__', 'constructor', 'toString', 'then', 'x'];
  const bytes = (n: number) => Uint8Array.from({ length: n }, () => Math.floor(u() * 256));
  const value = (depth: number): unknown => {
    const k = u();
    if (depth > 2 || k < 0.45) return pick(prims);
    if (k < 0.55) return Array.from({ length: Math.floor(u() * 4) }, () => value(depth + 1));
    if (k < 0.65) return bytes(Math.floor(u() * 80));
    if (k < 0.7) return new Float32Array(SIZE).buffer;
    if (k < 0.75) return new Float32Array(SIZE);
    if (k < 0.8) return Object.create(null);
    const o: Record<string, unknown> = {};
    for (let i = Math.floor(u() * 5); i > 0; i--) o[pick(keys)] = value(depth + 1);
    return o;
  };
  const honest = new Map(['alice', 'bob', 'carol'].map((id) => [id, makeUpdate(h.clients.get(id)!, task, fill(1), { weight: 1 })]));
  const out: Array<[string, unknown]> = [];
  for (let n = 0; n < count; n++) {
    const k = u();
    const id = pick(ids);
    if (k < 0.3) {
      out.push([id, value(0)]);
    } else if (k < 0.65) {
      // a real update with one field replaced (or deleted)
      const src = honest.get(pick(['alice', 'bob', 'carol']))!;
      const m: Record<string, unknown> = { ...src };
      const f = pick(signedKeys);
      if (u() < 0.2) delete m[f];
      else m[f] = value(1);
      if (u() < 0.2) m[pick(keys)] = value(1);
      out.push([u() < 0.7 ? String(src.clientId) : id, m]);
    } else if (k < 0.72) {
      // a signed field changed to another valid value after signing
      const src = honest.get(pick(['alice', 'bob', 'carol']))!;
      const other = honest.get(pick(['alice', 'bob', 'carol']).replace(String(src.clientId), 'alice'))!;
      const tweak: Record<string, unknown>[] = [
        { weight: 2 },
        { numExamples: 11 },
        { payload: encode(fill(2), 'f32') },
        { payloadHash: toBase64(new Uint8Array(64)) },
        { signature: other.signature === src.signature ? toBase64(new Uint8Array(64)) : other.signature },
      ];
      out.push([String(src.clientId), { ...src, ...pick(tweak) }]);
    } else if (k < 0.85) {
      // correctly hashed and signed, but a random or truncated payload
      const c = h.clients.get(pick(['alice', 'bob', 'carol']))!;
      const good = encode(fill(1), 'f32');
      const payload = u() < 0.5 ? bytes(Math.floor(u() * 70)) : good.subarray(0, Math.floor(u() * good.length));
      out.push([c.id, makeUpdate(c, task, fill(0), { payload, codec: pick(['f32', 'f16', 'int8'] as const) })]);
    } else {
      // signed, with hostile numbers in the signed fields
      const c = h.clients.get(pick(['alice', 'bob', 'carol']))!;
      const weird = pick([0, 2 ** 53 - 1, 1e-300, 4294967297]);
      try {
        out.push([c.id, makeUpdate(c, { taskId: task.taskId, round: pick([task.round, 0, 2 ** 53 - 1]), modelVersion: pick([task.modelVersion, 2 ** 53 - 1]) }, fill(1), { numExamples: weird, weight: pick([0, 1e-300, 1, 7]) })]);
      } catch {
        out.push([c.id, { ...honest.get(c.id)!, numExamples: weird }]);
      }
    }
  }
  return out;
}

describe('receiveUpdate never throws', () => {
  it('~200 random and hostile values: no throw, exactly one reply each, a real reason code, the honest aggregate intact', async () => {
    const h = await harness({ extraRegistered: ['outsider'], config: { totalRounds: 1, minClients: 3, quorum: 3, deadlineMs: 5000 } });
    const run = h.start();
    const t1 = (await h.transport.task(1)).msg;
    const values = fuzzValues(h, t1, 220, 12345);
    const seen = new Map<string, number>();
    for (const [id, raw] of values) {
      const before = h.transport.sent.length;
      expect(() => h.engine.receiveUpdate(id, raw)).not.toThrow();
      const replies = h.transport.sent.slice(before);
      expect(replies).toHaveLength(1);
      expect(replies[0].clientId).toBe(id);
      if (replies[0].kind === 'updateRejected') {
        const code = replies[0].msg.code;
        expect(REASON_CODES).toContain(code);
        expect(code, replies[0].msg.message).not.toBe('internal');
        expect(typeof replies[0].msg.message).toBe('string');
        seen.set(code, (seen.get(code) ?? 0) + 1);
      } else {
        expect(replies[0].kind).toBe('updateAck');
      }
    }
    // the fuzz reached deep into validation, not just the schema
    for (const code of ['schema', 'unknown-identity', 'bad-signature', 'codec']) expect(seen.get(code), code).toBeGreaterThan(0);
    // whatever was accepted carried the honest delta and weight; complete the round honestly
    for (const id of ['alice', 'bob', 'carol']) {
      if (h.transport.of('updateAck', id).length === 0) accepted(h, id, makeUpdate(h.clients.get(id)!, t1, fill(1), { weight: 1 }));
    }
    await run;
    expect(h.store.record(1)!.outcome).toBe('committed');
    expect([...h.store.latest().weights]).toEqual(Array.from({ length: SIZE }, (_, i) => i / 4 + 1));
  });

  it('a value whose `round` getter throws does not make receiveUpdate throw', async () => {
    const h = await harness({ config: { totalRounds: 1, deadlineMs: 2000 } });
    const run = h.start();
    await h.transport.task(1);
    const hostile = [
      new Proxy({}, { get() { throw new Error('boom'); } }),
      Object.defineProperty({}, 'round', { get() { throw new Error('boom'); }, enumerable: true }),
    ];
    for (const raw of hostile) {
      expect(() => h.engine.receiveUpdate('alice', raw)).not.toThrow();
      expect(h.transport.of('updateRejected', 'alice').at(-1)?.msg.code).toBe('schema');
    }
    h.engine.stop();
    await run;
  });

  it('the updateRejected reply is a valid protocol message whatever round the update named', async () => {
    const h = await harness({ config: { totalRounds: 1, deadlineMs: 2000 } });
    const run = h.start();
    await h.transport.task(1);
    for (const round of [-1, 1.5, NaN, Infinity, 1e300]) {
      const code = refusal(h, 'alice', { round });
      expect(code).toBe('schema');
    }
    h.engine.stop();
    await run;
  });
});

describe('aggregation weights an authenticated client controls', () => {
  it('a round whose accepted updates all weigh 0 does not crash the engine', async () => {
    const h = await harness({ clients: ['alice'], config: { totalRounds: 1, minClients: 1, clientsPerRound: 1, quorum: 1, deadlineMs: 1000 } });
    h.behaviours.set('alice', (task) => ({ delta: fill(1), weight: task.round === 1 ? 0 : 1 }));
    await h.start();
    expect(h.store.record(1)!.outcome).toBe('abandoned');
    expect(h.store.modelVersion).toBe(1);
  });

  it('huge (finite) weights cannot make the committed model non-finite', async () => {
    const h = await harness({ clients: ['alice', 'bob'], config: { totalRounds: 1, minClients: 2, clientsPerRound: 2, quorum: 2, deadlineMs: 1000 } });
    // round 1: both hostile (refused, so the round is abandoned); round 2: honest
    h.behaviours.set('alice', (task) => ({ delta: fill(1), weight: task.round === 1 ? 3e38 : 1 }));
    h.behaviours.set('bob', (task) => ({ delta: fill(1), weight: task.round === 1 ? 3e38 : 1 }));
    await h.start();
    expect(h.store.record(1)!.outcome).toBe('abandoned');
    expect(h.store.record(1)!.refusals.map((x) => x.code)).toEqual(['schema', 'schema']);
    const w = h.store.latest().weights;
    expect(w.every((x) => Number.isFinite(x))).toBe(true);
  });
});

describe('a flooding client', () => {
  it('cannot grow the round record: refusals past MAX_LISTED_REFUSALS are counted, not listed', async () => {
    const h = await harness({ config: { totalRounds: 1, minClients: 3, quorum: 3, deadlineMs: 5000 } });
    const run = h.start();
    const t1 = (await h.transport.task(1)).msg;
    const flood = MAX_LISTED_REFUSALS + 7;
    for (let i = 0; i < flood; i++) h.engine.receiveUpdate('alice', 'garbage');
    for (const id of ['alice', 'bob', 'carol']) h.engine.receiveUpdate(id, makeUpdate(h.clients.get(id)!, t1, fill(1), { weight: 1 }));
    await run;
    const rec = h.store.record(1)!;
    expect(rec.outcome).toBe('committed');
    expect(rec.refusals.length).toBe(MAX_LISTED_REFUSALS);
    expect(rec.refusalsNotListed).toBe(7);
    expect(h.engine.stats.refused.get('schema')).toBe(flood);
  });
});
