// Connect-time authentication, independent of the transport: the client says
// hello (protocol version, id, public key), the coordinator answers with a
// fresh 32-byte nonce, and the client proves it holds the registered key by
// signing authMessage(nonce, clientId).
import {
  PROTOCOL_VERSION,
  ProtocolError,
  authMessage,
  bytesEqual,
  fromBase64,
  parseMessage,
  toBase64,
  type Hello,
  type SignatureVerifier,
} from '../../protocol/index.ts';

export interface PendingAuth {
  hello: Hello;
  nonce: Uint8Array;
  issuedAt: number;
}

export const CHALLENGE_TTL_MS = 30_000;

/**
 * The one answer to a hello whose (id, key) pair is not registered. An unknown
 * id and a known id with the wrong key must read the same, or anyone could
 * enumerate the registered ids; the `detail` (the coordinator's log) says which.
 */
export const NOT_REGISTERED =
  'this client id and public key are not registered together with this coordinator (the operator registers the public key fedrec keygen printed under clients.allow)';

export class Handshake {
  /** Compared against when the id is unknown, so both refusals do the same work before answering. */
  private readonly decoy = crypto.getRandomValues(new Uint8Array(32));

  constructor(
    private readonly allow: ReadonlyMap<string, Uint8Array>,
    private readonly verifier: SignatureVerifier,
  ) {}

  /** Checks a hello and returns the challenge to send; throws ProtocolError on refusal. */
  begin(raw: unknown, now = Date.now()): { pending: PendingAuth; challenge: { nonce: string; serverProtocolVersion: number } } {
    const hello = parseMessage('hello', raw);
    const key = this.allow.get(hello.clientId);
    const keyMatches = bytesEqual(key ?? this.decoy, fromBase64(hello.publicKey));
    if (!key || !keyMatches) {
      const why = key ? 'the presented key is not the one registered for this id' : 'the id is not in clients.allow';
      throw new ProtocolError('unknown-identity', NOT_REGISTERED, `hello as ${hello.clientId}: ${why}`);
    }
    const nonce = new Uint8Array(32);
    crypto.getRandomValues(nonce);
    return { pending: { hello, nonce, issuedAt: now }, challenge: { nonce: toBase64(nonce), serverProtocolVersion: PROTOCOL_VERSION } };
  }

  /** Verifies the signed challenge; returns the authenticated client id. */
  finish(pending: PendingAuth | undefined, raw: unknown, now = Date.now()): string {
    if (!pending) throw new ProtocolError('not-authenticated', 'send hello first');
    if (now - pending.issuedAt > CHALLENGE_TTL_MS) throw new ProtocolError('auth-failed', 'the challenge expired; reconnect');
    const auth = parseMessage('auth', raw);
    if (auth.clientId !== pending.hello.clientId) throw new ProtocolError('auth-failed', 'auth names a different client than hello');
    const key = this.allow.get(auth.clientId)!;
    if (!this.verifier.verify(authMessage(pending.nonce, auth.clientId), fromBase64(auth.signature), key)) {
      throw new ProtocolError('auth-failed', 'the challenge signature does not verify against the registered key');
    }
    return auth.clientId;
  }
}
