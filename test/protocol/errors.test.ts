import { describe, expect, it } from 'vitest';
import { ProtocolError, REASON_CODES, REASON_TEXT, isProtocolError, isReasonCode } from '../../protocol/index.ts';

describe('reason codes', () => {
  it('lists every code once, each with a one-line description', () => {
    expect(REASON_CODES).toEqual([
      'bad-version', 'version-too-new', 'version-too-old', 'schema', 'bad-signature', 'unknown-identity',
      'auth-failed', 'not-authenticated', 'stale-round', 'stale-model', 'replay', 'not-selected', 'shape',
      'non-finite', 'too-large', 'norm-exceeded', 'codec', 'deadline-passed', 'round-closed', 'internal',
      'wrong-channel', 'rate-limited', 'too-many-connections', 'handshake-timeout',
    ]);
    expect(new Set(REASON_CODES).size).toBe(REASON_CODES.length);
    expect(Object.keys(REASON_TEXT).sort()).toEqual([...REASON_CODES].sort());
    for (const c of REASON_CODES) {
      expect(REASON_TEXT[c].length).toBeGreaterThan(10);
      expect(REASON_TEXT[c]).not.toContain('\n');
      expect(isReasonCode(c)).toBe(true);
    }
    expect(isReasonCode('nope')).toBe(false);
    expect(isReasonCode(3)).toBe(false);
  });

  it('ProtocolError carries code, message and detail', () => {
    const e = new ProtocolError('stale-round', 'round 3 is over', { round: 3 });
    expect(e).toBeInstanceOf(Error);
    expect(e.name).toBe('ProtocolError');
    expect(e.code).toBe('stale-round');
    expect(e.message).toBe('round 3 is over');
    expect(e.detail).toEqual({ round: 3 });
    expect(e.toRefusal()).toEqual({ code: 'stale-round', message: 'round 3 is over' });
    expect(new ProtocolError('replay').message).toBe(REASON_TEXT.replay);
    expect(isProtocolError(e)).toBe(true);
    expect(isProtocolError(e, 'stale-round')).toBe(true);
    expect(isProtocolError(e, 'replay')).toBe(false);
    expect(isProtocolError(new Error('x'))).toBe(false);
  });
});
