// Every submitted update passes these checks, cheapest first, before it can
// touch the running sum. Each failure is a ProtocolError with a reason code the
// client sees and the metrics count; none of them can throw anything else.
import {
  PROTOCOL_VERSION,
  ProtocolError,
  decodeInto,
  fromBase64,
  parseMessage,
  readHeader,
  toBase64,
  updateSigningBytes,
  type SignatureVerifier,
  type Update,
} from '../../protocol/index.ts';
import { clipInPlace } from '../../privacy/index.ts';

export interface UpdateContext {
  /** The authenticated session's client id. */
  clientId: string;
  round: number;
  /** Whether the round still accepts updates. */
  open: boolean;
  fromVersion: number;
  selected: ReadonlySet<string>;
  submitted: ReadonlySet<string>;
  deadline: number;
  now: number;
  /** Values in the model. */
  size: number;
  maxBytes: number;
  /** Without DP: the L2 bound of a client's delta (null: none), with a relative tolerance of 1e-3 for float rounding. */
  clipNorm: number | null;
  /**
   * Central DP: the update is a sum of `weight` clipped contributions (unit
   * 'client': exactly one). Its norm must be within weight × clipNorm (same
   * tolerance) and is then clipped to that bound here, so no client can exceed
   * the sensitivity the noise is calibrated to; clipCount is required when
   * adaptive clipping asks for it.
   */
  dp?: { unit: 'user' | 'client'; clipNorm: number; clipCount: boolean; maxWeight: number } | null;
  publicKey: Uint8Array;
  verifier: SignatureVerifier;
  sha512: (bytes: Uint8Array) => Uint8Array;
}

export interface ValidUpdate {
  update: Update;
  delta: Float32Array;
  norm: number;
}

const fail = (code: ConstructorParameters<typeof ProtocolError>[0], message: string): never => {
  throw new ProtocolError(code, message);
};

/** Largest aggregation weight accepted: far above any real count of examples or users, far below float32 overflow. */
export const MAX_WEIGHT = 2 ** 32;

function checkWeight(u: Update, ctx: UpdateContext): void {
  const dp = ctx.dp;
  if (!dp) {
    if (!(u.weight > 0) || u.weight > MAX_WEIGHT) fail('schema', `weight must be in (0, ${MAX_WEIGHT}], got ${u.weight}`);
    return;
  }
  if (dp.unit === 'client' && u.weight !== 1) fail('schema', `weight must be 1 under client-level DP (one contribution per client), got ${u.weight}`);
  if (!Number.isSafeInteger(u.weight) || u.weight < 0 || u.weight > dp.maxWeight) {
    fail('schema', `weight must be the number of contributions, an integer in [0, ${dp.maxWeight}], got ${u.weight}`);
  }
  if (dp.clipCount) {
    const k = u.clipCount;
    if (k === undefined) fail('schema', 'clipCount is required: this round uses adaptive clipping');
    if (Math.abs(k!) > u.weight || (u.weight - k!) % 2 !== 0) {
      fail('schema', `clipCount ${k} is impossible for ${u.weight} contributions (it is a sum of ${u.weight} values of +1 or -1)`);
    }
  }
}

function checkRound(u: Update, ctx: UpdateContext): void {
  checkWeight(u, ctx);
  if (u.clientId !== ctx.clientId) fail('auth-failed', `update names client ${u.clientId} but this session is ${ctx.clientId}`);
  if (u.round !== ctx.round) fail('stale-round', `update is for round ${u.round}, the current round is ${ctx.round}`);
  if (!ctx.open) fail('round-closed', `round ${ctx.round} no longer accepts updates`);
  if (u.modelVersion !== ctx.fromVersion) fail('stale-model', `update was trained from model version ${u.modelVersion}, round ${ctx.round} trains from ${ctx.fromVersion}`);
  if (!ctx.selected.has(ctx.clientId)) fail('not-selected', `client ${ctx.clientId} was not selected for round ${ctx.round}`);
  if (ctx.submitted.has(ctx.clientId)) fail('replay', `client ${ctx.clientId} already submitted an update for round ${ctx.round}`);
  if (ctx.now > ctx.deadline) fail('deadline-passed', `round ${ctx.round}'s deadline passed ${ctx.now - ctx.deadline} ms ago`);
}

function checkSignature(u: Update, ctx: UpdateContext): void {
  if (u.payload.length > ctx.maxBytes) fail('too-large', `payload is ${u.payload.length} bytes, the limit is ${ctx.maxBytes}`);
  if (toBase64(ctx.sha512(u.payload)) !== u.payloadHash) fail('bad-signature', 'payloadHash is not the SHA-512 of the payload');
  const signed = updateSigningBytes({
    protocolVersion: PROTOCOL_VERSION,
    round: u.round,
    modelVersion: u.modelVersion,
    clientId: u.clientId,
    payloadHash: u.payloadHash,
    numExamples: u.numExamples,
    weight: u.weight,
    ...(u.clipCount !== undefined ? { clipCount: u.clipCount } : {}),
  });
  if (!ctx.verifier.verify(signed, fromBase64(u.signature), ctx.publicKey)) {
    fail('bad-signature', `the update's signature does not verify against ${ctx.clientId}'s registered key`);
  }
}

function decodeDelta(u: Update, ctx: UpdateContext): { delta: Float32Array; norm: number } {
  const header = readHeader(u.payload);
  if (header.codec !== u.codec) fail('codec', `payload is encoded as ${header.codec} but the message says ${u.codec}`);
  if (header.count !== ctx.size) fail('shape', `update has ${header.count} values, the model has ${ctx.size}`);
  const delta = decodeInto(u.payload, new Float32Array(ctx.size));
  let sq = 0;
  for (let i = 0; i < delta.length; i++) {
    const v = delta[i];
    if (!Number.isFinite(v)) fail('non-finite', `update value ${i} is ${v}`);
    sq += v * v;
  }
  const norm = Math.sqrt(sq);
  if (ctx.dp) {
    const bound = u.weight * ctx.dp.clipNorm;
    if (norm > bound * (1 + 1e-3)) {
      fail('norm-exceeded', `update L2 norm ${norm.toFixed(6)} exceeds ${u.weight} contribution(s) × clip norm ${ctx.dp.clipNorm}`);
    }
    clipInPlace(delta, bound);
  } else if (ctx.clipNorm !== null && norm > ctx.clipNorm * (1 + 1e-3)) {
    fail('norm-exceeded', `update L2 norm ${norm.toFixed(4)} exceeds the clip norm ${ctx.clipNorm}`);
  }
  return { delta, norm };
}

/** Parses and checks one raw update; throws ProtocolError with the reason. */
export function validateUpdate(raw: unknown, ctx: UpdateContext): ValidUpdate {
  let update: Update;
  try {
    update = parseMessage('update', raw);
  } catch (err) {
    if (err instanceof ProtocolError) throw err;
    throw new ProtocolError('schema', (err as Error).message);
  }
  checkRound(update, ctx);
  checkSignature(update, ctx);
  const { delta, norm } = decodeDelta(update, ctx);
  return { update, delta, norm };
}
