// What gets signed, as canonical bytes: a sequence of fields, each either
//   str / bytes: u32 little-endian byte length, then the bytes (strings UTF-8)
//   u64:         8 bytes little-endian (a safe non-negative integer)
//   f64:         8 bytes little-endian IEEE double (-0 written as +0, because
//                JSON, which carries numbers on the wire, cannot tell them apart)
// starting with the domain tag as a `str`, so a signature made for one
// purpose ('fedrec-auth-v1', 'fedrec-update-v2', 'fedrec-eval-v2',
// 'fedrec-task-v1') never verifies for another, and length prefixes make the
// encoding injective (clientId "a1" + round 2 and clientId "a" + round 12
// differ).
//
// Updates and evaluation reports are bound to the federation's lineage and
// to the round's task id (random per round), so one signed for a round that
// a crash interrupted is refused by the re-run of that round, whose task id
// is new. Tasks are signed by the coordinator (over their canonical JSON), so
// a client can check that the privacy settings and the model hash it acts on
// are the coordinator's, whatever carried them.
// Browser-safe.
import { canonicalJson } from './canonical.ts';
import { ProtocolError } from './errors.ts';
import { CLIENT_ID_RE, NONCE_BYTES, SHA512_BYTES, fromBase64, sha512, sign, toBase64, type SignatureVerifier } from './identity.ts';
import type { Codec } from './codec.ts';
import type { MessageInputs, Task } from './messages.ts';
import { PROTOCOL_VERSION } from './version.ts';

export const AUTH_DOMAIN = 'fedrec-auth-v1';
export const UPDATE_DOMAIN = 'fedrec-update-v2';
export const EVAL_DOMAIN = 'fedrec-eval-v2';
export const TASK_DOMAIN = 'fedrec-task-v1';
/** Bytes of a round's random task id. */
export const TASK_ID_BYTES = 16;

const METRIC_NAME_RE = /^[A-Za-z][A-Za-z0-9@._:-]{0,63}$/;

const utf8 = new TextEncoder();

class CanonicalWriter {
  private parts: Uint8Array[] = [];
  private length = 0;

  constructor(domain: string) {
    this.str(domain);
  }

  private push(b: Uint8Array): void {
    this.parts.push(b);
    this.length += b.length;
  }

  bytes(b: Uint8Array): this {
    const len = new Uint8Array(4);
    new DataView(len.buffer).setUint32(0, b.length, true);
    this.push(len);
    this.push(b);
    return this;
  }

  str(s: string): this {
    return this.bytes(utf8.encode(s));
  }

  u64(n: number, what: string): this {
    if (!Number.isSafeInteger(n) || n < 0) throw new ProtocolError('schema', `${what} must be a non-negative safe integer, got ${n}`);
    const b = new Uint8Array(8);
    new DataView(b.buffer).setBigUint64(0, BigInt(n), true);
    this.push(b);
    return this;
  }

  f64(x: number, what: string): this {
    if (typeof x !== 'number' || !Number.isFinite(x)) throw new ProtocolError('schema', `${what} must be a finite number, got ${x}`);
    const b = new Uint8Array(8);
    new DataView(b.buffer).setFloat64(0, x === 0 ? 0 : x, true);
    this.push(b);
    return this;
  }

  finish(): Uint8Array {
    const out = new Uint8Array(this.length);
    let o = 0;
    for (const p of this.parts) {
      out.set(p, o);
      o += p.length;
    }
    return out;
  }
}

function binaryField(v: Uint8Array | string, bytes: number, what: string): Uint8Array {
  const b = typeof v === 'string' ? fromBase64(v, bytes, what) : v;
  if (!(b instanceof Uint8Array) || b.length !== bytes) throw new ProtocolError('schema', `${what} must be ${bytes} bytes`);
  return b;
}

function idField(s: string, what: string): string {
  if (typeof s !== 'string' || !CLIENT_ID_RE.test(s)) throw new ProtocolError('schema', `${what} must be 1-128 characters of A-Z a-z 0-9 . _ : -`);
  return s;
}

/** The bytes a client signs to answer a challenge: tag 'fedrec-auth-v1', nonce (32 bytes, or its base64), clientId. */
export function authMessage(nonce: Uint8Array | string, clientId: string): Uint8Array {
  return new CanonicalWriter(AUTH_DOMAIN)
    .bytes(binaryField(nonce, NONCE_BYTES, 'nonce'))
    .str(idField(clientId, 'clientId'))
    .finish();
}

/** Fields every client-signed message is bound to: the protocol, the federation and the round's task. */
interface TaskBinding {
  protocolVersion: number;
  /** The federation's lineage (catalog and model shape). */
  lineage: string;
  /** The round's random task id: 16 bytes, or their base64 as sent on the wire. */
  taskId: Uint8Array | string;
  round: number;
  modelVersion: number;
  clientId: string;
}

function bound(domain: string, f: TaskBinding): CanonicalWriter {
  return new CanonicalWriter(domain)
    .u64(f.protocolVersion, 'protocolVersion')
    .str(idField(f.lineage, 'lineage'))
    .bytes(binaryField(f.taskId, TASK_ID_BYTES, 'taskId'))
    .u64(f.round, 'round')
    .u64(f.modelVersion, 'modelVersion')
    .str(idField(f.clientId, 'clientId'));
}

export interface UpdateSigningFields extends TaskBinding {
  /** SHA-512 of the payload: 64 bytes, or their base64 as sent on the wire. */
  payloadHash: Uint8Array | string;
  /** Signed too: they steer aggregation, so a relay must not be able to change them. */
  numExamples: number;
  weight: number;
  /** Adaptive clipping's signed count; appended only when present. */
  clipCount?: number;
  /** The update's reported metrics (loss, trainSeconds, users): signed so a relay cannot alter the operator's records. */
  metrics?: Record<string, number | undefined>;
}

/**
 * Tag 'fedrec-update-v2', protocolVersion (u64), lineage, taskId (16 bytes),
 * round, modelVersion (u64 each), clientId, payloadHash (64 bytes),
 * numExamples (u64), weight (f64), when present clipCount (f64, an integer),
 * then the canonical JSON of the metrics (`{}` when none).
 */
export function updateSigningBytes(f: UpdateSigningFields): Uint8Array {
  const w = bound(UPDATE_DOMAIN, f)
    .bytes(binaryField(f.payloadHash, SHA512_BYTES, 'payloadHash'))
    .u64(f.numExamples, 'numExamples')
    .f64(f.weight, 'weight');
  if (f.clipCount !== undefined) {
    if (!Number.isSafeInteger(f.clipCount)) throw new ProtocolError('schema', `clipCount must be an integer, got ${f.clipCount}`);
    w.f64(f.clipCount, 'clipCount');
  }
  return w.str(canonicalJson(f.metrics ?? {}, 'metrics')).finish();
}

export interface EvalSigningFields extends TaskBinding {
  count: number;
  sums: Record<string, number>;
}

/**
 * Tag 'fedrec-eval-v2', the task binding as for updates, count (u64), number
 * of sums (u64), then each (name str, value f64) in code-unit order of the
 * names, so key order on the wire does not matter.
 */
export function evalSigningBytes(f: EvalSigningFields): Uint8Array {
  const w = bound(EVAL_DOMAIN, f).u64(f.count, 'count');
  const keys = Object.keys(f.sums).sort();
  if (keys.length > 64) throw new ProtocolError('schema', `sums must have at most 64 entries, got ${keys.length}`);
  w.u64(keys.length, 'number of sums');
  for (const k of keys) {
    if (!METRIC_NAME_RE.test(k)) throw new ProtocolError('schema', `sums key ${JSON.stringify(k.slice(0, 64))} must be a metric name (a letter, then A-Z a-z 0-9 @ . _ : -, at most 64 characters)`);
    w.str(k).f64(f.sums[k], `sums.${k}`);
  }
  return w.finish();
}

/** A task without its signature and its transport extras (the upload capability): what the coordinator signs. */
export type SignedTaskFields = Omit<Task, 'signature' | 'upload'>;

/** Tag 'fedrec-task-v1', protocolVersion (u64), then the canonical JSON of the task without `signature` and `upload`. */
export function taskSigningBytes(task: SignedTaskFields | Task, protocolVersion = PROTOCOL_VERSION): Uint8Array {
  const { signature: _s, upload: _u, ...fields } = task as Task & { upload?: unknown };
  return new CanonicalWriter(TASK_DOMAIN).u64(protocolVersion, 'protocolVersion').str(canonicalJson(fields, 'task')).finish();
}

/** The task with the coordinator's signature. */
export function signTask(task: SignedTaskFields, secretKey: Uint8Array): Task {
  return { ...task, signature: toBase64(sign(taskSigningBytes(task), secretKey)) } as Task;
}

/** Whether a (parsed) task carries a valid signature of `coordinatorKey`. */
export function verifyTask(task: Task, coordinatorKey: Uint8Array, verifier: SignatureVerifier): boolean {
  try {
    return verifier.verify(taskSigningBytes(task), fromBase64(task.signature, 64, 'task.signature'), coordinatorKey);
  } catch {
    return false;
  }
}

/** What a client (or a simulated adversary) signs and sends for one task. */
export interface UnsignedUpdate {
  lineage: string;
  taskId: string;
  round: number;
  modelVersion: number;
  clientId: string;
  codec: Codec;
  /** The encoded delta (protocol codec format). */
  payload: Uint8Array;
  numExamples: number;
  weight: number;
  clipCount?: number;
  metrics?: MessageInputs['update']['metrics'];
}

/** The update message for `u`: payload hash and signature added. `hash` defaults to tweetnacl's SHA-512. */
export function signedUpdate(u: UnsignedUpdate, secretKey: Uint8Array, hash: (b: Uint8Array) => Uint8Array = sha512): MessageInputs['update'] {
  const payloadHash = toBase64(hash(u.payload));
  const { lineage, metrics = {}, ...rest } = u;
  const signature = sign(updateSigningBytes({ protocolVersion: PROTOCOL_VERSION, lineage, ...rest, payloadHash, metrics }), secretKey);
  return { ...rest, payloadHash, signature: toBase64(signature), metrics };
}

/** The signed evaluation report of metric sums over `count` cases. */
export function signedEvalReport(
  r: { lineage: string; taskId: string; round: number; modelVersion: number; clientId: string; count: number; sums: Record<string, number> },
  secretKey: Uint8Array,
): MessageInputs['evalReport'] {
  const { lineage, ...msg } = r;
  const signature = sign(evalSigningBytes({ protocolVersion: PROTOCOL_VERSION, lineage, ...msg }), secretKey);
  return { ...msg, signature: toBase64(signature) };
}
