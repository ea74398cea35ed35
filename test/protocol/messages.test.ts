import { describe, expect, it } from 'vitest';
import {
  CLIENT_MESSAGE_KINDS,
  LIMITS,
  MESSAGE_KINDS,
  PROTOCOL_VERSION,
  ProtocolError,
  SERVER_MESSAGE_KINDS,
  authMessage,
  decode,
  encode,
  fromBase64,
  generateIdentity,
  parseMessage,
  safeParseMessage,
  schemas,
  sha512,
  sign,
  toBase64,
  updateSigningBytes,
  evalSigningBytes,
  verifyWithNacl,
  type MessageInputs,
  type MessageKind,
} from '../../protocol/index.ts';

const b64 = (n: number, fill = 1) => toBase64(new Uint8Array(n).fill(fill));

/** One valid message of every kind. */
function samples(): { [K in MessageKind]: MessageInputs[K] } {
  return {
    hello: { protocolVersion: PROTOCOL_VERSION, clientId: 'shop-1', publicKey: b64(32), name: 'Shop One', kind: 'merchant', capabilities: { codecs: ['f32', 'int8'] } },
    auth: { clientId: 'shop-1', signature: b64(64) },
    update: {
      round: 3,
      modelVersion: 2,
      taskId: b64(16),
      clientId: 'shop-1',
      codec: 'f32',
      payload: new Uint8Array([1, 2, 3]),
      payloadHash: b64(64),
      numExamples: 120,
      weight: 120,
      signature: b64(64),
      metrics: { loss: 0.7, trainSeconds: 1.5, users: 40 },
    },
    evalReport: { round: 3, modelVersion: 2, taskId: b64(16), clientId: 'shop-1', count: 40, sums: { 'hr@10': 12, 'ndcg@10': 5.5 }, signature: b64(64) },
    challenge: { nonce: b64(32), serverProtocolVersion: 1 },
    welcome: { clientId: 'shop-1', round: 3, state: 'training', modelVersion: 2, catalogId: 'catalog:2024-01', coordinatorKey: b64(32) },
    refusal: { code: 'unknown-identity', message: 'client shop-9 is not registered: ask the operator to add its public key' },
    task: {
      round: 3,
      modelVersion: 2,
      lineage: 'run.42',
      taskId: b64(16),
      modelHash: b64(64),
      deadline: 1_700_000_000_000,
      train: { epochs: 1, lr: 0.001, batchSize: 64, proxMu: 0, optimizer: 'sgd' },
      privacy: { mode: 'central', clipNorm: 1, unit: 'user', sampleRate: 0.1, maxContributions: 50, reportClipCount: true, noiseShare: 0.1 },
      codec: 'f16',
      evaluate: true,
      signature: b64(64),
      upload: { token: b64(32, 7) },
    },
    updateAck: { round: 3, accepted: true },
    updateRejected: { round: 3, code: 'stale-round', message: 'round 3 is over; the current round is 4' },
    modelPublished: { modelVersion: 3, round: 3, lineage: 'run.42' },
    roundState: { round: 3, state: 'committed' },
  };
}

function expectRefusal(kind: MessageKind, raw: unknown, code: string, ...fragments: string[]): void {
  let err: unknown;
  try {
    parseMessage(kind, raw);
  } catch (e) {
    err = e;
  }
  expect(err, `${kind} ${JSON.stringify(raw, (_k, v) => (v instanceof Uint8Array ? `<${v.length} bytes>` : v))?.slice(0, 200)} should be refused`).toBeInstanceOf(ProtocolError);
  const pe = err as ProtocolError;
  expect(pe.code, pe.message).toBe(code);
  for (const f of fragments) expect(pe.message).toContain(f);
}

/** A deep copy with the value at a dotted path replaced (or deleted when value is DELETE). */
const DELETE = Symbol('delete');
function withField(obj: unknown, path: string, value: unknown): unknown {
  const copy = structuredClone(obj) as Record<string, unknown>;
  const keys = path.split('.');
  let o = copy;
  for (const k of keys.slice(0, -1)) o = o[k] as Record<string, unknown>;
  const last = keys[keys.length - 1];
  if (value === DELETE) delete o[last];
  else o[last] = value;
  return copy;
}

describe('message registry', () => {
  it('has a schema for every kind, split by direction', () => {
    expect([...MESSAGE_KINDS].sort()).toEqual(Object.keys(schemas).sort());
    expect([...CLIENT_MESSAGE_KINDS, ...SERVER_MESSAGE_KINDS]).toEqual([...MESSAGE_KINDS]);
    expect(MESSAGE_KINDS.length).toBe(12);
  });

  it('accepts a valid message of every kind, unchanged', () => {
    const s = samples();
    for (const kind of MESSAGE_KINDS) {
      expect(parseMessage(kind, s[kind]), kind).toEqual(s[kind]);
    }
  });

  it('survives a JSON trip (everything but binary payloads is JSON)', () => {
    const s = samples();
    for (const kind of MESSAGE_KINDS) {
      if (kind === 'update') continue;
      expect(parseMessage(kind, JSON.parse(JSON.stringify(s[kind]))), kind).toEqual(s[kind]);
    }
  });

  it('refuses unknown kinds and non-object messages', () => {
    expectRefusal('bogus' as MessageKind, {}, 'schema', 'unknown message kind "bogus"');
    for (const kind of MESSAGE_KINDS) {
      for (const raw of [null, undefined, 'hello', 42, [1, 2]]) {
        const code = kind === 'hello' ? 'bad-version' : 'schema';
        expectRefusal(kind, raw, code);
      }
    }
  });

  it('safeParseMessage returns instead of throwing', () => {
    expect(safeParseMessage('roundState', { round: 1, state: 'waiting' })).toEqual({ ok: true, value: { round: 1, state: 'waiting' } });
    const r = safeParseMessage('roundState', { round: 1, state: 'done' });
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.error.code).toBe('schema');
  });

  it('strips unknown keys', () => {
    const s = samples();
    expect(parseMessage('roundState', { ...s.roundState, extra: 'x' })).toEqual(s.roundState);
  });
});

describe('every required field: missing or mistyped -> schema error naming it', () => {
  const s = samples();
  const optional = new Set(['hello.name', 'hello.capabilities', 'update.metrics', 'task.privacy.noiseShare', 'task.privacy.mode', 'task.privacy.sampleRate', 'task.privacy.reportClipCount', 'task.privacy.maxContributions', 'task.privacy.maxInteractionsPerUser', 'task.privacy.noiseMultiplier', 'task.privacy.targetEpsilon', 'task.privacy.delta', 'task.durationMs', 'task.train.optimizer', 'task.upload']);
  const cases: [MessageKind, string][] = [];
  for (const kind of MESSAGE_KINDS) {
    const walk = (o: Record<string, unknown>, prefix: string) => {
      for (const [k, v] of Object.entries(o)) {
        const path = prefix ? `${prefix}.${k}` : k;
        if (kind === 'hello' && path === 'protocolVersion') continue; // version checks come first: see below
        if (!optional.has(`${kind}.${path}`)) cases.push([kind, path]);
        if (v && typeof v === 'object' && !(v instanceof Uint8Array) && !Array.isArray(v) && path !== 'sums' && path !== 'metrics') {
          walk(v as Record<string, unknown>, path);
        }
      }
    };
    walk(s[kind] as Record<string, unknown>, '');
  }

  it.each(cases)('%s.%s missing', (kind, path) => {
    expectRefusal(kind, withField(s[kind], path, DELETE), 'schema', `${kind}: ${path}: is missing`);
  });

  it.each(cases)('%s.%s of the wrong type', (kind, path) => {
    const original = path.split('.').reduce<unknown>((o, k) => (o as Record<string, unknown>)[k], s[kind]);
    const wrong = typeof original === 'number' ? { n: 1 } : typeof original === 'string' ? 12345 : typeof original === 'boolean' ? 'true' : 'text';
    expectRefusal(kind, withField(s[kind], path, wrong), 'schema', `${kind}: ${path}:`);
  });
});

describe('hostile values', () => {
  const s = samples();
  const long = (n: number) => 'x'.repeat(n);
  const table: [MessageKind, string, unknown, string][] = [
    // ids
    ['task', 'upload.token', b64(31), 'upload.token: must be base64 of exactly 32 bytes'],
    ['task', 'upload.token', long(10_000), 'upload.token: must be base64 of exactly 32 bytes'],
    ['hello', 'clientId', '', 'clientId: must not be empty'],
    ['hello', 'clientId', long(129), 'clientId: must be at most 128 characters'],
    ['hello', 'clientId', 'shop 1', 'clientId: must use only'],
    ['hello', 'clientId', 'shop/1', 'clientId: must use only'],
    ['hello', 'clientId', 'shöp', 'clientId: must use only'],
    ['welcome', 'catalogId', '../etc', 'catalogId: must use only'],
    ['task', 'lineage', long(10_000), 'lineage: must be at most 128 characters'],
    // keys, nonces, signatures, hashes
    ['hello', 'publicKey', b64(31), 'publicKey: must be base64 of exactly 32 bytes'],
    ['hello', 'publicKey', b64(33), 'publicKey: must be base64 of exactly 32 bytes'],
    ['hello', 'publicKey', 'not base64 at all!!!!!!!!!!!!!!!!!!!!!!!!!', 'publicKey: must be base64'],
    ['hello', 'publicKey', long(1_000_000), 'publicKey: must be base64'],
    ['challenge', 'nonce', b64(16), 'nonce: must be base64 of exactly 32 bytes'],
    ['auth', 'signature', b64(63), 'signature: must be base64 of exactly 64 bytes'],
    ['auth', 'signature', b64(64).replace(/=*$/, ''), 'signature: must be base64'],
    ['update', 'signature', b64(32), 'signature: must be base64 of exactly 64 bytes'],
    ['update', 'payloadHash', b64(32), 'payloadHash: must be base64 of exactly 64 bytes'],
    ['evalReport', 'signature', '', 'signature: must be base64 of exactly 64 bytes'],
    // bounded strings
    ['hello', 'name', long(201), 'name: must be at most 200 characters'],
    ['refusal', 'message', long(2001), 'message: must be at most 2000 characters'],
    ['updateRejected', 'message', long(2001), 'message: must be at most 2000 characters'],
    // enums
    ['hello', 'kind', 'robot', 'kind: expected one of'],
    ['refusal', 'code', 'teapot', 'code: expected one of'],
    ['updateRejected', 'code', 'nope', 'code: expected one of'],
    ['update', 'codec', 'bf16', 'codec: expected one of'],
    ['task', 'codec', 'F32', 'codec: expected one of'],
    ['task', 'privacy.unit', 'merchant', 'privacy.unit: expected one of'],
    ['roundState', 'state', 'done', 'state: expected one of'],
    ['welcome', 'state', '', 'state: expected one of'],
    ['updateAck', 'accepted', false, 'accepted:'],
    // numbers: NaN, infinities, negatives, non-integers, strings
    ['update', 'round', -1, 'round: must be >= 0'],
    ['update', 'round', 1.5, 'round: must be an integer'],
    ['update', 'round', NaN, 'round: must be a finite number, got NaN'],
    ['update', 'round', '3', 'round:'],
    ['update', 'round', 2 ** 53, 'round: must be an integer'],
    ['update', 'modelVersion', -5, 'modelVersion: must be >= 0'],
    ['update', 'numExamples', -1, 'numExamples: must be >= 0'],
    ['update', 'numExamples', 0.5, 'numExamples: must be an integer'],
    ['update', 'weight', -0.1, 'weight: must be >= 0'],
    ['update', 'weight', NaN, 'weight: must be a finite number, got NaN'],
    ['update', 'weight', Infinity, 'weight: must be a finite number, got Infinity'],
    ['update', 'metrics.loss', NaN, 'metrics.loss: must be a finite number'],
    ['update', 'metrics.loss', -Infinity, 'metrics.loss: must be a finite number, got -Infinity'],
    ['update', 'metrics.trainSeconds', -1, 'metrics.trainSeconds: must be >= 0'],
    ['update', 'metrics.users', 2.5, 'metrics.users: must be an integer'],
    ['evalReport', 'count', -1, 'count: must be >= 0'],
    ['evalReport', 'count', 1e400, 'count: must be a finite number, got Infinity'],
    ['evalReport', 'sums', { 'hr@10': NaN }, 'sums["hr@10"]: must be a finite number'],
    ['evalReport', 'sums', { 'hr@10': 'x' }, 'sums["hr@10"]:'],
    ['evalReport', 'sums', { 'has space': 1 }, 'sums["has space"]: invalid key'],
    ['evalReport', 'sums', { '1abc': 1 }, 'sums["1abc"]: invalid key'],
    ['evalReport', 'sums', { [long(65)]: 1 }, 'sums.' + long(65) + ': invalid key: must be at most 64 characters'],
    ['evalReport', 'sums', Object.fromEntries(Array.from({ length: 65 }, (_, i) => [`m${i}`, i])), 'sums: must have at most 64 entries'],
    ['evalReport', 'sums', [1, 2], 'sums:'],
    ['challenge', 'serverProtocolVersion', 0, 'serverProtocolVersion: must be >= 1'],
    ['task', 'deadline', -1, 'deadline: must be >= 0'],
    ['task', 'deadline', 9e15, 'deadline: must be a valid time'],
    ['task', 'deadline', 1e16, 'deadline: must be an integer <= 9007199254740991'],
    ['task', 'deadline', 1.5, 'deadline: must be an integer'],
    ['task', 'train.epochs', 0, 'train.epochs: must be >= 1'],
    ['task', 'train.epochs', 1e6, 'train.epochs: must be <= 10000'],
    ['task', 'train.lr', 0, 'train.lr: must be > 0'],
    ['task', 'train.lr', -1e-3, 'train.lr: must be > 0'],
    ['task', 'train.lr', NaN, 'train.lr: must be a finite number'],
    ['task', 'train.batchSize', 0, 'train.batchSize: must be >= 1'],
    ['task', 'train.batchSize', 32.5, 'train.batchSize: must be an integer'],
    ['task', 'train.proxMu', -0.1, 'train.proxMu: must be >= 0'],
    ['task', 'privacy.clipNorm', 0, 'privacy.clipNorm: must be > 0 (or null for no clipping)'],
    ['task', 'privacy.clipNorm', -1, 'privacy.clipNorm: must be > 0'],
    ['task', 'privacy.clipNorm', Infinity, 'privacy.clipNorm: must be a finite number'],
    ['task', 'privacy.noiseShare', -1, 'privacy.noiseShare: must be >= 0'],
    ['task', 'evaluate', 'yes', 'evaluate:'],
    ['welcome', 'round', -1, 'round: must be >= 0'],
    ['modelPublished', 'modelVersion', 1.1, 'modelVersion: must be an integer'],
    // binary
    ['update', 'payload', 'AQID', 'payload: must be binary (Uint8Array, Buffer or ArrayBuffer)'],
    ['update', 'payload', [1, 2, 3], 'payload: must be binary'],
    ['update', 'payload', { type: 'Buffer', data: [1, 2, 3] }, 'payload: must be binary'],
    ['update', 'payload', new Float32Array(2), 'payload: must be binary'],
    ['hello', 'capabilities.codecs', 'f16', 'capabilities.codecs:'],
    ['hello', 'capabilities.codecs', new Array(17).fill('f16'), 'capabilities.codecs: must list at most 16 codecs'],
    ['hello', 'capabilities.codecs', [long(33)], 'capabilities.codecs[0]: must be at most 32 characters'],
  ];

  it.each(table)('%s.%s = %j', (kind, path, value, fragment) => {
    expectRefusal(kind, withField(s[kind], path, value), 'schema', `${kind}: ${fragment}`);
  });

  it('lists several problems at once, capped at five', () => {
    const raw = { round: -1, modelVersion: -1, clientId: '', codec: 'x', payload: 1, payloadHash: 1, numExamples: -1, weight: -1, signature: 1 };
    const e = (() => {
      try {
        parseMessage('update', raw);
      } catch (err) {
        return err as ProtocolError;
      }
      throw new Error('not refused');
    })();
    expect(e.code).toBe('schema');
    expect(e.message).toMatch(/^update: round: must be >= 0; modelVersion: must be >= 0; taskId: is missing \(expected string\); clientId: must not be empty; .* \(\+\d+ more\)$/);
    expect(e.message.split('; ').length).toBe(5);
  });

  it('refuses an oversize payload as too-large', () => {
    const big = new ArrayBuffer(LIMITS.payloadBytes + 1);
    expectRefusal('update', { ...s.update, payload: big }, 'too-large', 'update: payload: is 268435457 bytes, more than the limit of 268435456');
  });
});

describe('hello', () => {
  const s = samples();

  it('checks the protocol version before the rest', () => {
    expectRefusal('hello', { protocolVersion: 3, something: 'new' }, 'version-too-new', 'client speaks protocol 3, this coordinator speaks 2: upgrade the coordinator');
    expectRefusal('hello', { ...s.hello, protocolVersion: 0 }, 'bad-version');
    expectRefusal('hello', { ...s.hello, protocolVersion: '1' }, 'bad-version');
    expectRefusal('hello', withField(s.hello, 'protocolVersion', DELETE), 'bad-version');
    expect(parseMessage('hello', { ...s.hello, protocolVersion: PROTOCOL_VERSION }).protocolVersion).toBe(2);
  });

  it('keeps the codecs it knows from the capabilities, once each', () => {
    const h = parseMessage('hello', { ...s.hello, capabilities: { codecs: ['f16', 'bf16', 'f16', 'int4', 'f32'] } });
    expect(h.capabilities).toEqual({ codecs: ['f16', 'f32'] });
    expect(parseMessage('hello', withField(s.hello, 'capabilities', DELETE)).capabilities).toBeUndefined();
  });
});

describe('binary fields', () => {
  const s = samples();
  it('accept Uint8Array, Buffer (with offset) and ArrayBuffer, and come out as plain Uint8Array', () => {
    const pool = Buffer.from([9, 9, 1, 2, 3, 9]);
    const inputs = [new Uint8Array([1, 2, 3]), Buffer.from([1, 2, 3]), pool.subarray(2, 5), new Uint8Array([1, 2, 3]).buffer];
    for (const payload of inputs) {
      const u = parseMessage('update', { ...s.update, payload });
      expect(u.payload.constructor).toBe(Uint8Array);
      expect([...u.payload]).toEqual([1, 2, 3]);
    }
  });

  it('defaults metrics to {}', () => {
    expect(parseMessage('update', withField(s.update, 'metrics', DELETE)).metrics).toEqual({});
  });
});

describe('an update end to end', () => {
  it('encodes, hashes, signs, crosses the wire and verifies', () => {
    const id = generateIdentity();
    const delta = Float32Array.from({ length: 1000 }, (_, i) => Math.sin(i) * 0.01);
    const payload = encode(delta, 'f16');
    const payloadHash = toBase64(sha512(payload));
    const taskId = b64(16, 4);
    const fields = { protocolVersion: PROTOCOL_VERSION, lineage: 'run.42', taskId, round: 7, modelVersion: 6, clientId: 'shop-1', payloadHash, numExamples: 50, weight: 50, metrics: { loss: 0.5 } };
    const msg = {
      round: 7,
      modelVersion: 6,
      taskId,
      clientId: 'shop-1',
      codec: 'f16' as const,
      payload,
      payloadHash,
      numExamples: 50,
      weight: 50,
      signature: toBase64(sign(updateSigningBytes(fields), id.secretKey)),
      metrics: { loss: 0.5 },
    };
    // socket.io: JSON for the structure, a Buffer for the binary part
    const wire = { ...JSON.parse(JSON.stringify({ ...msg, payload: null })), payload: Buffer.from(payload) };
    const u = parseMessage('update', wire);
    const hashOk = toBase64(sha512(u.payload)) === u.payloadHash;
    const sigOk = verifyWithNacl(
      updateSigningBytes({ protocolVersion: PROTOCOL_VERSION, lineage: 'run.42', taskId: u.taskId, round: u.round, modelVersion: u.modelVersion, clientId: u.clientId, payloadHash: u.payloadHash, numExamples: u.numExamples, weight: u.weight, metrics: u.metrics }),
      fromBase64(u.signature),
      id.publicKey,
    );
    expect(hashOk && sigOk).toBe(true);
    expect(decode(u.payload)).toEqual(decode(payload));
    // a different round under the same signature fails
    expect(
      verifyWithNacl(updateSigningBytes({ ...fields, round: 8 }), fromBase64(u.signature), id.publicKey),
    ).toBe(false);
    // so does an inflated aggregation weight
    expect(
      verifyWithNacl(updateSigningBytes({ ...fields, weight: 5000 }), fromBase64(u.signature), id.publicKey),
    ).toBe(false);
  });

  it('auth and evalReport signatures verify after parsing', () => {
    const id = generateIdentity();
    const nonce = new Uint8Array(32).fill(3);
    const ch = parseMessage('challenge', { nonce: toBase64(nonce), serverProtocolVersion: 1 });
    const auth = parseMessage('auth', { clientId: 'b-1', signature: toBase64(sign(authMessage(ch.nonce, 'b-1'), id.secretKey)) });
    expect(verifyWithNacl(authMessage(nonce, auth.clientId), fromBase64(auth.signature), id.publicKey)).toBe(true);
    expect(verifyWithNacl(authMessage(nonce, 'b-2'), fromBase64(auth.signature), id.publicKey)).toBe(false);

    const report = { round: 2, modelVersion: 1, taskId: b64(16, 7), clientId: 'b-1', count: 3, sums: { 'ndcg@10': 1.25, 'hr@10': 2 } };
    const sig = sign(evalSigningBytes({ protocolVersion: PROTOCOL_VERSION, lineage: 'run.42', ...report }), id.secretKey);
    const parsed = parseMessage('evalReport', JSON.parse(JSON.stringify({ ...report, signature: toBase64(sig) })));
    const { signature, ...fields } = parsed;
    expect(verifyWithNacl(evalSigningBytes({ protocolVersion: PROTOCOL_VERSION, lineage: 'run.42', ...fields }), fromBase64(signature), id.publicKey)).toBe(true);
  });
});
