// Connect-time authentication: what a peer learns from a refused hello.
import { describe, expect, it } from 'vitest';
import { Handshake } from '../../coordinator/server/handshake.ts';
import { PROTOCOL_VERSION, ProtocolError, authMessage, generateIdentity, naclVerifier, sign, toBase64 } from '../../protocol/index.ts';

const registered = generateIdentity();
const stranger = generateIdentity();
const hs = new Handshake(new Map([['m0', registered.publicKey]]), naclVerifier);
const hello = (clientId: string, publicKey: Uint8Array) => ({ protocolVersion: PROTOCOL_VERSION, clientId, publicKey: toBase64(publicKey), kind: 'merchant' });

function refusal(f: () => unknown): ProtocolError {
  try {
    f();
  } catch (e) {
    if (e instanceof ProtocolError) return e;
    throw e;
  }
  throw new Error('expected a refusal');
}

describe('Handshake', () => {
  it('refuses an unregistered id and a registered id with the wrong key identically on the wire (only the log detail differs)', () => {
    const unknownId = refusal(() => hs.begin(hello('stranger', stranger.publicKey)));
    const wrongKey = refusal(() => hs.begin(hello('m0', stranger.publicKey)));
    expect(wrongKey.toRefusal()).toEqual(unknownId.toRefusal());
    expect(unknownId.code).toBe('unknown-identity');
    // the message names neither the id nor which of the two was wrong
    expect(unknownId.message).not.toMatch(/stranger|m0/);
    expect(unknownId.message).toMatch(/clients\.allow/);
    // the coordinator's own log may say which
    expect(String(unknownId.detail)).toMatch(/not in clients\.allow/);
    expect(String(wrongKey.detail)).toMatch(/not the one registered/);
  });

  it('still lets the registered key through the whole handshake', () => {
    const { pending, challenge } = hs.begin(hello('m0', registered.publicKey));
    const signature = toBase64(sign(authMessage(challenge.nonce, 'm0'), registered.secretKey));
    expect(hs.finish(pending, { clientId: 'm0', signature })).toBe('m0');
  });
});
