// Every message between coordinator and clients: zod schemas (runtime
// validation of untrusted input) and the TypeScript types they infer.
// Browser-safe.
//
// Conventions:
// - The transport's event name is the message kind (`MESSAGE_KINDS`).
// - Ids (clientId, lineage, catalogId) are 1-128 characters of [A-Za-z0-9._:-].
// - Numbers are finite; counts, rounds, versions and times are safe integers.
// - Keys, nonces, hashes and signatures travel as canonical base64 strings of
//   an exact decoded length; the signed and hashed bytes are the decoded ones.
// - Binary fields (`update.payload`) accept Uint8Array (so Node Buffers) and
//   ArrayBuffer (socket.io in browsers) and come out as a plain Uint8Array
//   view (no copy).
// - Unknown keys are stripped, not refused (a newer peer's optional extras).
// - `parseMessage('hello', raw)` checks the protocol version first, so a
//   newer client gets 'version-too-new' rather than a schema complaint about
//   fields it added.
import { z } from 'zod';
import { CODECS, isCodec, type Codec } from './codec.ts';
import { ProtocolError, REASON_CODES } from './errors.ts';
import { NONCE_BYTES, PUBLIC_KEY_BYTES, SHA512_BYTES, SIGNATURE_BYTES, tryFromBase64 } from './identity.ts';

/** Bytes of a round's random task id (signing.ts binds updates and reports to it). */
const TASK_ID_BYTES = 16;
import { checkVersion } from './version.ts';

export const LIMITS = {
  idChars: 128,
  nameChars: 200,
  messageChars: 2000,
  metricNameChars: 64,
  metricCount: 64,
  /** Largest update payload accepted by the schema: 256 MiB (a transport usually caps lower). */
  payloadBytes: 256 * 1024 * 1024,
  maxEpochs: 10_000,
  maxBatchSize: 1_000_000,
  capabilityCodecs: 16,
  /** Largest |clipCount| (one per contribution, so bounded like the weight). */
  maxClipCount: 2 ** 32,
  /** Random bytes in a task's upload token. */
  uploadTokenBytes: 32,
} as const;

// ------------------------------------------------------------ primitives

const ID_RE = /^[A-Za-z0-9._:-]+$/;
const METRIC_RE = /^[A-Za-z][A-Za-z0-9@._:-]*$/;

export const idSchema = z
  .string()
  .min(1, 'must not be empty')
  .max(LIMITS.idChars, `must be at most ${LIMITS.idChars} characters`)
  .regex(ID_RE, 'must use only A-Z a-z 0-9 . _ : -');

const boundedString = (max: number) => z.string().max(max, `must be at most ${max} characters`);

/** A safe integer >= 0. */
const count = z.int().min(0, 'must be >= 0');
const round = count;
const modelVersion = count;
/** Milliseconds since the epoch, up to the largest Date. */
const epochMs = z.int().min(0, 'must be >= 0').max(8.64e15, 'must be a valid time');

const base64Bytes = (bytes: number) =>
  z
    .string()
    .max(4 * Math.ceil(bytes / 3), `must be base64 of exactly ${bytes} bytes`)
    .refine((s) => tryFromBase64(s)?.length === bytes, `must be base64 of exactly ${bytes} bytes`);

function isArrayBuffer(v: unknown): v is ArrayBuffer {
  return v instanceof ArrayBuffer || Object.prototype.toString.call(v) === '[object ArrayBuffer]';
}

/** Uint8Array (incl. Node Buffer) or ArrayBuffer of at most `max` bytes, normalised to a plain Uint8Array view. */
const binary = (max: number) =>
  z
    .custom<Uint8Array | ArrayBuffer>(
      (v) => v instanceof Uint8Array || isArrayBuffer(v),
      'must be binary (Uint8Array, Buffer or ArrayBuffer)',
    )
    .transform((v, ctx): Uint8Array => {
      const u = v instanceof Uint8Array ? new Uint8Array(v.buffer, v.byteOffset, v.byteLength) : new Uint8Array(v);
      if (u.byteLength > max) {
        ctx.issues.push({ code: 'custom', message: `is ${u.byteLength} bytes, more than the limit of ${max}`, input: v, params: { tooLarge: true } });
        return z.NEVER;
      }
      return u;
    });

export const codecSchema = z.enum(CODECS);

export const ROUND_STATES = ['waiting', 'training', 'aggregating', 'committed', 'abandoned', 'budget-exhausted'] as const;
export type RoundStateName = (typeof ROUND_STATES)[number];
export const roundStateSchema = z.enum(ROUND_STATES);

export const CLIENT_KINDS = ['merchant', 'browser', 'simulated'] as const;
export type ClientKind = (typeof CLIENT_KINDS)[number];

export const reasonCodeSchema = z.enum(REASON_CODES);

// -------------------------------------------------------- client -> server

export const helloSchema = z.object({
  protocolVersion: z.int().min(1, 'must be >= 1'),
  clientId: idSchema,
  publicKey: base64Bytes(PUBLIC_KEY_BYTES),
  name: boundedString(LIMITS.nameChars).optional(),
  kind: z.enum(CLIENT_KINDS),
  /** Codecs the client can encode. Names this side does not know are dropped (capability negotiation). */
  capabilities: z
    .object({
      codecs: z
        .array(boundedString(32))
        .max(LIMITS.capabilityCodecs, `must list at most ${LIMITS.capabilityCodecs} codecs`)
        .transform((a): Codec[] => [...new Set(a.filter(isCodec))]),
    })
    .optional(),
});

export const authSchema = z.object({
  clientId: idSchema,
  /** Ed25519 signature over `authMessage(nonce, clientId)`. */
  signature: base64Bytes(SIGNATURE_BYTES),
});

export const updateMetricsSchema = z.object({
  loss: z.number().optional(),
  trainSeconds: z.number().min(0, 'must be >= 0').optional(),
  users: count.optional(),
});

export const updateSchema = z.object({
  round,
  modelVersion,
  /** The task id of the round this update answers (signed). */
  taskId: base64Bytes(TASK_ID_BYTES),
  clientId: idSchema,
  codec: codecSchema,
  /** The encoded delta (protocol codec format). */
  payload: binary(LIMITS.payloadBytes),
  /** base64 SHA-512 of `payload`. */
  payloadHash: base64Bytes(SHA512_BYTES),
  numExamples: count,
  /** Aggregation weight (examples, users, or 1), >= 0. */
  weight: z.number().min(0, 'must be >= 0'),
  /** Adaptive clipping: Σ over contributions of +1 (norm under the clip) or −1 (clipped). */
  clipCount: z.int().min(-LIMITS.maxClipCount).max(LIMITS.maxClipCount).optional(),
  /** Ed25519 signature over `updateSigningBytes(...)`. */
  signature: base64Bytes(SIGNATURE_BYTES),
  metrics: updateMetricsSchema.default({}),
});

const metricName = z
  .string()
  .max(LIMITS.metricNameChars, `must be at most ${LIMITS.metricNameChars} characters`)
  .regex(METRIC_RE, 'must start with a letter and use only A-Z a-z 0-9 @ . _ : -');

export const evalReportSchema = z.object({
  round,
  modelVersion,
  taskId: base64Bytes(TASK_ID_BYTES),
  clientId: idSchema,
  /** Number of evaluated cases the sums are over. */
  count,
  /** Metric sums over `count` cases (e.g. 'hr@10', 'ndcg@10'); the coordinator divides after merging. */
  sums: z
    .record(metricName, z.number())
    .refine((o) => Object.keys(o).length <= LIMITS.metricCount, `must have at most ${LIMITS.metricCount} entries`),
  /** Ed25519 signature over `evalSigningBytes(...)`. */
  signature: base64Bytes(SIGNATURE_BYTES),
});

// -------------------------------------------------------- server -> client

export const challengeSchema = z.object({
  nonce: base64Bytes(NONCE_BYTES),
  serverProtocolVersion: z.int().min(1, 'must be >= 1'),
});

export const welcomeSchema = z.object({
  clientId: idSchema,
  round,
  state: roundStateSchema,
  modelVersion,
  catalogId: idSchema,
  /** The coordinator's Ed25519 public key, which signs every task (clients should pin it). */
  coordinatorKey: base64Bytes(PUBLIC_KEY_BYTES),
});

export const refusalSchema = z.object({
  code: reasonCodeSchema,
  message: boundedString(LIMITS.messageChars),
});

export const taskSchema = z.object({
  round,
  modelVersion,
  lineage: idSchema,
  /** Random per round: updates and evaluation reports are signed over it, so none made for another run of a round is accepted. */
  taskId: base64Bytes(TASK_ID_BYTES),
  /** SHA-512 of the checkpoint file of `modelVersion`: the client checks the model it downloaded against it. */
  modelHash: base64Bytes(SHA512_BYTES),
  /** Submissions after this time (ms since epoch) are refused with 'deadline-passed'. */
  deadline: epochMs,
  /** The round's length in ms from the task's issue to its deadline: clients time their work from receipt, whatever their clock says. */
  durationMs: z.int().min(1, 'must be >= 1').optional(),
  train: z.object({
    epochs: z.int().min(1, 'must be >= 1').max(LIMITS.maxEpochs, `must be <= ${LIMITS.maxEpochs}`),
    lr: z.number().gt(0, 'must be > 0'),
    batchSize: z.int().min(1, 'must be >= 1').max(LIMITS.maxBatchSize, `must be <= ${LIMITS.maxBatchSize}`),
    proxMu: z.number().min(0, 'must be >= 0'),
    /** Local optimizer (default 'adam'); DP-FedAvg clients use 'sgd'. */
    optimizer: z.enum(['adam', 'sgd']).default('adam'),
  }),
  privacy: z.object({
    /**
     * 'central': the coordinator adds DP noise to the sum of clipped
     * contributions; the update's payload is that client's SUM of clipped
     * contributions and its weight the number of contributions. 'none': a
     * plain (optionally clipped) delta weighted by examples.
     */
    mode: z.enum(['none', 'central']).default('none'),
    /** L2 clip norm of the delta, per `unit`; null = no clipping. */
    clipNorm: z.number().gt(0, 'must be > 0 (or null for no clipping)').nullable(),
    unit: z.enum(['user', 'client']),
    /** unit 'user': each user is included this round independently with this probability (Poisson sampling). */
    sampleRate: z.number().gt(0, 'must be > 0').max(1, 'must be <= 1').optional(),
    /**
     * unit 'user': W, the most contributions one update may carry. The client
     * projects its sum onto the L2 ball of radius W × clipNorm (and so does the
     * coordinator): never refused on its count, whatever the sample holds.
     */
    maxContributions: z.int().min(1, 'must be >= 1').optional(),
    /** unit 'user': each user trains on at most their last N interactions, so the work per user (and so who fits before the deadline) does not depend on their data. */
    maxInteractionsPerUser: z.int().min(1, 'must be >= 1').optional(),
    /** central: the noise multiplier z the coordinator adds and charges, and the budget it enforces (so a client's policy can check them). */
    noiseMultiplier: z.number().gt(0, 'must be > 0').optional(),
    targetEpsilon: z.number().gt(0, 'must be > 0').optional(),
    delta: z.number().gt(0, 'must be > 0').lt(1, 'must be < 1').optional(),
    /** Adaptive clipping: report clipCount = Σ(2·1[norm ≤ clipNorm] − 1) over the contributions. */
    reportClipCount: z.boolean().optional(),
    /** This client's share of the DP noise (distributed noise); defined by privacy/, absent = the coordinator adds all noise. */
    noiseShare: z.number().min(0, 'must be >= 0').optional(),
  }),
  codec: codecSchema,
  /** Also run federated evaluation and send an `evalReport`. */
  evaluate: z.boolean(),
  /** The coordinator's Ed25519 signature over `taskSigningBytes` (every field above). */
  signature: base64Bytes(SIGNATURE_BYTES),
  /**
   * Where the update goes, added by a transport that does not carry updates
   * itself (socket.io): POST /api/updates with `authorization: Bearer <token>`
   * and an update envelope (envelope.ts) as the body. The token is good for
   * this round and this client only, and for a few attempts.
   */
  upload: z.object({ token: base64Bytes(LIMITS.uploadTokenBytes) }).optional(),
});

export const updateAckSchema = z.object({
  round,
  accepted: z.literal(true),
});

export const updateRejectedSchema = z.object({
  round,
  code: reasonCodeSchema,
  message: boundedString(LIMITS.messageChars),
});

export const modelPublishedSchema = z.object({
  modelVersion,
  round,
  lineage: idSchema,
});

export const roundStateMessageSchema = z.object({
  round,
  state: roundStateSchema,
});

// --------------------------------------------------------------- registry

export const CLIENT_MESSAGE_KINDS = ['hello', 'auth', 'update', 'evalReport'] as const;
export const SERVER_MESSAGE_KINDS = [
  'challenge',
  'welcome',
  'refusal',
  'task',
  'updateAck',
  'updateRejected',
  'modelPublished',
  'roundState',
] as const;
export const MESSAGE_KINDS = [...CLIENT_MESSAGE_KINDS, ...SERVER_MESSAGE_KINDS] as const;

export type ClientMessageKind = (typeof CLIENT_MESSAGE_KINDS)[number];
export type ServerMessageKind = (typeof SERVER_MESSAGE_KINDS)[number];
export type MessageKind = (typeof MESSAGE_KINDS)[number];

export const schemas = {
  hello: helloSchema,
  auth: authSchema,
  update: updateSchema,
  evalReport: evalReportSchema,
  challenge: challengeSchema,
  welcome: welcomeSchema,
  refusal: refusalSchema,
  task: taskSchema,
  updateAck: updateAckSchema,
  updateRejected: updateRejectedSchema,
  modelPublished: modelPublishedSchema,
  roundState: roundStateMessageSchema,
} as const satisfies Record<MessageKind, z.ZodType>;

export type Hello = z.output<typeof helloSchema>;
export type Auth = z.output<typeof authSchema>;
export type Update = z.output<typeof updateSchema>;
export type UpdateMetrics = z.output<typeof updateMetricsSchema>;
export type EvalReport = z.output<typeof evalReportSchema>;
export type Challenge = z.output<typeof challengeSchema>;
export type Welcome = z.output<typeof welcomeSchema>;
export type Refusal = z.output<typeof refusalSchema>;
export type Task = z.output<typeof taskSchema>;
export type UpdateAck = z.output<typeof updateAckSchema>;
export type UpdateRejected = z.output<typeof updateRejectedSchema>;
export type ModelPublished = z.output<typeof modelPublishedSchema>;
export type RoundStateMessage = z.output<typeof roundStateMessageSchema>;

/** Message kind -> its parsed (output) type. */
export type Messages = { [K in MessageKind]: z.output<(typeof schemas)[K]> };
/** Message kind -> what a sender may pass (e.g. `update.metrics` optional, payload as ArrayBuffer). */
export type MessageInputs = { [K in MessageKind]: z.input<(typeof schemas)[K]> };
export type Message<K extends MessageKind = MessageKind> = Messages[K];
export type ClientMessages = Pick<Messages, ClientMessageKind>;
export type ServerMessages = Pick<Messages, ServerMessageKind>;

const KIND_SET: ReadonlySet<string> = new Set(MESSAGE_KINDS);

export function isMessageKind(x: unknown): x is MessageKind {
  return typeof x === 'string' && KIND_SET.has(x);
}

// ---------------------------------------------------------------- parsing

function formatPath(path: readonly PropertyKey[]): string {
  if (path.length === 0) return '(message)';
  let s = '';
  for (const p of path) {
    if (typeof p === 'number') s += `[${p}]`;
    else if (typeof p === 'string' && /^[A-Za-z_$][A-Za-z0-9_$]*$/.test(p)) s += s ? `.${p}` : p;
    else s += `[${JSON.stringify(String(p).slice(0, 64))}]`;
  }
  return s;
}

/** Whether the raw input has no value at `path` (the field is missing, not mistyped). */
function isMissing(raw: unknown, path: readonly PropertyKey[]): boolean {
  try {
    let o: unknown = raw;
    for (const k of path) {
      if (typeof o !== 'object' || o === null) return true;
      o = (o as Record<PropertyKey, unknown>)[k as string];
    }
    return o === undefined;
  } catch {
    return false; // a hostile getter or proxy: report the issue as zod phrased it
  }
}

function describeIssue(issue: z.core.$ZodIssue, raw: unknown): string {
  let msg = issue.message;
  if (issue.path.length > 0 && isMissing(raw, issue.path) && issue.code !== 'invalid_key') {
    const expected = issue.code === 'invalid_type' ? `expected ${issue.expected}` : msg.replace(/^Invalid (input|option): /, '');
    msg = `is missing (${expected})`;
  } else if (issue.code === 'too_big' && (issue.origin === 'int' || issue.origin === 'number') && Number(issue.maximum) === Number.MAX_SAFE_INTEGER) {
    msg = `must be an integer <= ${Number.MAX_SAFE_INTEGER}`;
  } else if (issue.code === 'too_small' && (issue.origin === 'int' || issue.origin === 'number') && Number(issue.minimum) === Number.MIN_SAFE_INTEGER) {
    msg = `must be an integer >= ${Number.MIN_SAFE_INTEGER}`;
  } else if (issue.code === 'invalid_type') {
    const received = /received (\S+)$/.exec(msg)?.[1];
    if (received === 'undefined') msg = `is missing (expected ${issue.expected})`;
    else if (received === 'NaN' || received === 'Infinity' || received === '-Infinity') msg = `must be a finite number, got ${received}`;
    else if (issue.expected === 'int') msg = `must be an integer${received && received !== 'number' ? `, got ${received}` : ''}`;
    else msg = msg.replace(/^Invalid input: /, '');
  } else if (issue.code === 'invalid_key') {
    msg = `invalid key: ${issue.issues.map((i) => i.message).join(', ')}`;
  } else if (issue.code === 'invalid_value') {
    msg = msg.replace(/^Invalid option: /, '');
  }
  return `${formatPath(issue.path)}: ${msg}`;
}

/** A readable one-line summary of zod issues: "path: problem; path: problem (+N more)". */
export function summarizeIssues(issues: readonly z.core.$ZodIssue[], raw?: unknown, max = 5): string {
  const shown = issues.slice(0, max).map((i) => describeIssue(i, raw)).join('; ');
  return issues.length > max ? `${shown} (+${issues.length - max} more)` : shown;
}

/**
 * Validates an untrusted message of the given kind. Returns the typed value
 * or throws ProtocolError: 'schema' naming the field and problem,
 * 'too-large' for an oversize payload, and for 'hello' the version refusals
 * ('bad-version', 'version-too-new', 'version-too-old') before anything else.
 */
export function parseMessage<K extends MessageKind>(kind: K, raw: unknown): Messages[K] {
  if (!isMessageKind(kind)) throw new ProtocolError('schema', `unknown message kind ${JSON.stringify(String(kind).slice(0, 64))}`);
  if (kind === 'hello') {
    const v = typeof raw === 'object' && raw !== null ? (raw as { protocolVersion?: unknown }).protocolVersion : undefined;
    const check = checkVersion(v);
    if (!check.ok) throw new ProtocolError(check.code, check.message);
  }
  const schema = schemas[kind] as z.ZodType;
  const r = schema.safeParse(raw);
  if (r.success) return r.data as Messages[K];
  const issues = r.error.issues;
  const tooLarge = issues.some((i) => i.code === 'custom' && (i as { params?: { tooLarge?: boolean } }).params?.tooLarge);
  throw new ProtocolError(tooLarge ? 'too-large' : 'schema', `${kind}: ${summarizeIssues(issues, raw)}`, { issues });
}

/** `parseMessage` that returns a result instead of throwing. */
export function safeParseMessage<K extends MessageKind>(
  kind: K,
  raw: unknown,
): { ok: true; value: Messages[K] } | { ok: false; error: ProtocolError } {
  try {
    return { ok: true, value: parseMessage(kind, raw) };
  } catch (e) {
    if (e instanceof ProtocolError) return { ok: false, error: e };
    throw e;
  }
}
