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

export class Handshake {
  constructor(
    private readonly allow: ReadonlyMap<string, Uint8Array>,
    private readonly verifier: SignatureVerifier,
  ) {}

  /** Checks a hello and returns the challenge to send; throws ProtocolError on refusal. */
  begin(raw: unknown, now = Date.now()): { pending: PendingAuth; challenge: { nonce: string; serverProtocolVersion: number } } {
    const hello = parseMessage('hello', raw);
    const key = this.allow.get(hello.clientId);
    if (!key) throw new ProtocolError('unknown-identity', `client id ${hello.clientId} is not in this coordinator's allow-list (register its public key in clients.allow)`);
    if (!bytesEqual(key, fromBase64(hello.publicKey))) {
      throw new ProtocolError('unknown-identity', `the public key presented for ${hello.clientId} is not the one registered for it`);
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
