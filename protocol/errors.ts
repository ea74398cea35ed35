// Typed refusals: every way a peer's message can be wrong has a reason code
// that travels on the wire (`refusal`, `updateRejected`) and labels metrics.
// Browser-safe.

/** Every reason code, in a stable order (metrics labels, exhaustive tests). */
export const REASON_CODES = [
  'bad-version',
  'version-too-new',
  'version-too-old',
  'schema',
  'bad-signature',
  'unknown-identity',
  'auth-failed',
  'not-authenticated',
  'stale-round',
  'stale-model',
  'replay',
  'not-selected',
  'shape',
  'non-finite',
  'too-large',
  'norm-exceeded',
  'codec',
  'deadline-passed',
  'round-closed',
  'internal',
  'wrong-channel',
  'rate-limited',
  'too-many-connections',
  'handshake-timeout',
] as const;

export type ReasonCode = (typeof REASON_CODES)[number];

/** One line per code: what went wrong, for logs, dashboards and client messages. */
export const REASON_TEXT: Readonly<Record<ReasonCode, string>> = {
  'bad-version': 'the protocol version is missing or not a positive integer',
  'version-too-new': 'the peer speaks a newer protocol than this side supports',
  'version-too-old': 'the peer speaks an older protocol that is no longer supported',
  schema: 'the message does not match its schema (missing, mistyped or out-of-range field)',
  'bad-signature': 'the signature does not verify against the client\'s public key',
  'unknown-identity': 'the client id or public key is not registered with this coordinator',
  'auth-failed': 'the authentication handshake failed (wrong key, wrong nonce or expired challenge)',
  'not-authenticated': 'the message requires an authenticated session',
  'stale-round': 'the message is for a round that is not the current one',
  'stale-model': 'the update was computed from a model version other than the task\'s',
  replay: 'this client already submitted for this round',
  'not-selected': 'the client was not selected to participate in this round',
  shape: 'the update has the wrong number of elements for the model',
  'non-finite': 'the update contains NaN or infinite values',
  'too-large': 'the message or payload exceeds the size limit',
  'norm-exceeded': "the update's L2 norm exceeds the round's clip norm (the client did not clip)",
  codec: 'the binary payload is malformed or uses an unsupported codec',
  'deadline-passed': 'the submission arrived after the round\'s deadline',
  'round-closed': 'the round is no longer accepting submissions',
  internal: 'the coordinator failed internally; the round is unaffected',
  'wrong-channel': "the message was sent on a channel that does not carry it (updates are uploaded over HTTP with the task's upload token)",
  'rate-limited': 'the peer sent more than it may (messages per second, pending messages or upload attempts); slow down',
  'too-many-connections': 'the coordinator has no room for another connection (in total or from this address); retry later',
  'handshake-timeout': 'the connection did not authenticate in time after connecting',
};

const CODE_SET: ReadonlySet<string> = new Set(REASON_CODES);

export function isReasonCode(x: unknown): x is ReasonCode {
  return typeof x === 'string' && CODE_SET.has(x);
}

/**
 * An error a remote peer (or its data) can cause. `message` says what was
 * wrong and, where there is one, what to do; `detail` carries structured
 * context for logs (never sent on the wire by this module).
 */
export class ProtocolError extends Error {
  readonly code: ReasonCode;
  readonly detail?: unknown;

  constructor(code: ReasonCode, message?: string, detail?: unknown) {
    super(message ?? REASON_TEXT[code]);
    this.name = 'ProtocolError';
    this.code = code;
    if (detail !== undefined) this.detail = detail;
  }

  /** The `{code, message}` pair a `refusal` or `updateRejected` carries. */
  toRefusal(): { code: ReasonCode; message: string } {
    return { code: this.code, message: this.message };
  }
}

export function isProtocolError(e: unknown, code?: ReasonCode): e is ProtocolError {
  return e instanceof ProtocolError && (code === undefined || e.code === code);
}
