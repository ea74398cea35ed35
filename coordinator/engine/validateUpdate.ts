// Every submitted update passes these checks, cheapest first, before it can
// touch the running sum. Each failure is a ProtocolError with a reason code the
// client sees and the metrics count; none of them can throw anything else.
import {
  ProtocolError,
  decodeInto,
  fromBase64,
  parseMessage,
  readHeader,
  toBase64,
  updateSigningBytes,
  PROTOCOL_VERSION,
  type SignatureVerifier,
  type Update,
} from '../../protocol/index.ts';

export interface UpdateContext {
  /** The authenticated session's client id. */
  clientId: string;
  lineage: string;
  round: number;
  /** The round's random task id (base64): updates for another run of the round are stale. */
  taskId: string;
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
  /** The round release's cheap checks (weight, clip count), run before the signature is verified. */
  check: (u: Update) => void;
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

function checkRound(u: Update, ctx: UpdateContext): void {
  if (u.clientId !== ctx.clientId) fail('auth-failed', `update names client ${u.clientId} but this session is ${ctx.clientId}`);
  if (u.round !== ctx.round) fail('stale-round', `update is for round ${u.round}, the current round is ${ctx.round}`);
  if (u.taskId !== ctx.taskId) fail('stale-round', `update answers another task of round ${ctx.round} (the coordinator restarted since); train on the current task`);
  if (!ctx.open) fail('round-closed', `round ${ctx.round} no longer accepts updates`);
  if (u.modelVersion !== ctx.fromVersion) fail('stale-model', `update was trained from model version ${u.modelVersion}, round ${ctx.round} trains from ${ctx.fromVersion}`);
  if (!ctx.selected.has(ctx.clientId)) fail('not-selected', `client ${ctx.clientId} was not selected for round ${ctx.round}`);
  if (ctx.submitted.has(ctx.clientId)) fail('replay', `client ${ctx.clientId} already submitted an update for round ${ctx.round}`);
  if (ctx.now > ctx.deadline) fail('deadline-passed', `round ${ctx.round}'s deadline passed ${ctx.now - ctx.deadline} ms ago`);
  ctx.check(u);
}

function checkSignature(u: Update, ctx: UpdateContext): void {
  if (u.payload.length > ctx.maxBytes) fail('too-large', `payload is ${u.payload.length} bytes, the limit is ${ctx.maxBytes}`);
  if (toBase64(ctx.sha512(u.payload)) !== u.payloadHash) fail('bad-signature', 'payloadHash is not the SHA-512 of the payload');
  const signed = updateSigningBytes({
    protocolVersion: PROTOCOL_VERSION,
    lineage: ctx.lineage,
    taskId: u.taskId,
    round: u.round,
    modelVersion: u.modelVersion,
    clientId: u.clientId,
    payloadHash: u.payloadHash,
    numExamples: u.numExamples,
    weight: u.weight,
    ...(u.clipCount !== undefined ? { clipCount: u.clipCount } : {}),
    metrics: u.metrics,
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
  return { delta, norm: Math.sqrt(sq) };
}

/**
 * Parses and checks one raw update; throws ProtocolError with the reason. The
 * norm is returned, not judged: the round's release bounds it (by scaling,
 * never by refusing).
 */
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
