import { describe, expect, it } from 'vitest';
import { PROTOCOL_VERSION, ProtocolError, SUPPORTED_VERSIONS, checkVersion, requireVersion } from '../../protocol/index.ts';

describe('checkVersion', () => {
  it('speaks protocol 2 only (2 signs updates over the lineage and task id; 1 clients would not verify)', () => {
    expect(PROTOCOL_VERSION).toBe(2);
    expect(SUPPORTED_VERSIONS).toEqual({ min: 2, max: 2 });
    expect(checkVersion(2)).toEqual({ ok: true, version: 2 });
    expect(checkVersion(1)).toEqual({
      ok: false,
      code: 'version-too-old',
      message: 'client speaks protocol 1, this coordinator speaks 2: upgrade the client',
    });
  });

  it.each([undefined, null, '1', 1.5, 0, -1, NaN, Infinity, {}, [1], 2 ** 53])('refuses %s as bad-version', (v) => {
    const r = checkVersion(v);
    expect(r.ok).toBe(false);
    if (!r.ok) {
      expect(r.code).toBe('bad-version');
      expect(r.message).toMatch(/protocol version must be a positive integer/);
    }
  });

  it('tells a newer client to upgrade the coordinator', () => {
    expect(checkVersion(3)).toEqual({
      ok: false,
      code: 'version-too-new',
      message: 'client speaks protocol 3, this coordinator speaks 2: upgrade the coordinator',
    });
  });

  it('handles a supported range', () => {
    const range = { min: 3, max: 5 };
    expect(checkVersion(4, range)).toEqual({ ok: true, version: 4 });
    expect(checkVersion(3, range)).toEqual({ ok: true, version: 3 });
    expect(checkVersion(5, range)).toEqual({ ok: true, version: 5 });
    expect(checkVersion(6, range)).toMatchObject({ ok: false, code: 'version-too-new', message: 'client speaks protocol 6, this coordinator speaks 3 to 5: upgrade the coordinator' });
    expect(checkVersion(2, range)).toMatchObject({ ok: false, code: 'version-too-old', message: 'client speaks protocol 2, this coordinator speaks 3 to 5: upgrade the client' });
  });

  it('requireVersion throws the refusal as a ProtocolError', () => {
    expect(requireVersion(2)).toBe(2);
    try {
      requireVersion(7);
      expect.unreachable();
    } catch (e) {
      expect(e).toBeInstanceOf(ProtocolError);
      expect((e as ProtocolError).code).toBe('version-too-new');
    }
  });
});
