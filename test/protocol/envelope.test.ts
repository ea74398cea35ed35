// The update envelope (one binary HTTP body per update): round trips, and
// strict refusals of malformed input, each a ProtocolError that says what.
import { describe, expect, it } from 'vitest';
import { ENVELOPE_MAX_HEADER_BYTES, ProtocolError, decodeUpdateEnvelope, encode, encodeEnvelopeHeader, encodeUpdateEnvelope, maxEnvelopeBytes, parseMessage, toBase64 } from '../../protocol/index.ts';
import type { UpdateEnvelopeFields } from '../../protocol/index.ts';
import { mulberry32, randomBytes } from './rng.ts';

/** An update as the schema sees it (the envelope neither checks the hash nor the signature: the engine does). */
function update(values: Float32Array, extra: Partial<UpdateEnvelopeFields> = {}): UpdateEnvelopeFields & { payload: Uint8Array } {
  const hash64 = toBase64(new Uint8Array(64).fill(3));
  return { round: 4, modelVersion: 3, taskId: toBase64(new Uint8Array(16).fill(5)), clientId: 'shop-1', payloadHash: hash64, numExamples: 17, weight: 17, ...extra, codec: 'f32', payload: encode(values, 'f32'), signature: hash64, metrics: { loss: 0.25, trainSeconds: 1.5, users: 9 } };
}

/** A raw envelope: u32 little-endian length of `header` (or `claimed`), the header bytes, the payload. */
function raw(header: Uint8Array | string, payload: Uint8Array = new Uint8Array([1, 2, 3]), claimed?: number): Uint8Array {
  const h = typeof header === 'string' ? new TextEncoder().encode(header) : header;
  const out = new Uint8Array(4 + h.length + payload.length);
  new DataView(out.buffer).setUint32(0, claimed ?? h.length, true);
  out.set(h, 4);
  out.set(payload, 4 + h.length);
  return out;
}

function refusal(bytes: Uint8Array): ProtocolError {
  try {
    decodeUpdateEnvelope(bytes);
  } catch (e) {
    expect(e).toBeInstanceOf(ProtocolError);
    return e as ProtocolError;
  }
  throw new Error('expected a refusal');
}

describe('update envelope', () => {
  it('round-trips every update field, and the payload comes back as a view of the body (no copy)', () => {
    const u = update(Float32Array.from({ length: 1000 }, (_, i) => Math.sin(i)), { clipCount: -3 });
    const bytes = encodeUpdateEnvelope(u);
    const back = decodeUpdateEnvelope(bytes);
    expect(back.payload.buffer).toBe(bytes.buffer);
    expect([...back.payload]).toEqual([...u.payload]);
    const parsed = parseMessage('update', back);
    const { payload: _p, ...fields } = u;
    expect(parsed).toMatchObject(fields);
    expect([...parsed.payload]).toEqual([...u.payload]);
    // a header prefix plus the payload written after it is the same envelope
    const head = encodeEnvelopeHeader(fields);
    expect([...head, ...u.payload]).toEqual([...bytes]);
  });

  it('carries an empty payload (the update check refuses it, not the envelope) and decodes a subarray', () => {
    const u = update(new Float32Array(0));
    const inner = encodeUpdateEnvelope({ ...u, payload: new Uint8Array(0) });
    const padded = new Uint8Array(inner.length + 10);
    padded.set(inner, 5);
    const back = decodeUpdateEnvelope(padded.subarray(5, 5 + inner.length));
    expect(back.payload.length).toBe(0);
    expect(back.clientId).toBe('shop-1');
  });

  it('bounds an envelope by its payload', () => {
    expect(maxEnvelopeBytes(1000)).toBe(4 + ENVELOPE_MAX_HEADER_BYTES + 1000);
    const u = update(new Float32Array(10));
    expect(encodeUpdateEnvelope(u).length).toBeLessThanOrEqual(maxEnvelopeBytes(u.payload.length));
  });

  it.each([
    ['nothing', new Uint8Array(0), /0 bytes is shorter than the 4-byte header length/],
    ['three bytes', new Uint8Array([1, 0, 0]), /shorter than the 4-byte header length/],
    ['a header length past the end', raw('{"round":1}', new Uint8Array(0), 400), /header length is 400 bytes but only 11 follow/],
    ['bytes that are not UTF-8', raw(new Uint8Array([0x7b, 0xff, 0xfe, 0x7d])), /not valid UTF-8/],
    ['a header that is not JSON', raw('{"round":1'), /not JSON/],
    ['a JSON array', raw('[1,2]'), /must be a JSON object/],
    ['JSON null', raw('null'), /must be a JSON object/],
    ['a JSON number', raw('42'), /must be a JSON object/],
    ['a JSON string', raw('"update"'), /must be a JSON object/],
    ['a payload inside the header', raw('{"round":1,"payload":"AAAA"}'), /must not contain a payload field/],
  ])('refuses %s as a schema error that says what', (_what, bytes, message) => {
    const e = refusal(bytes);
    expect(e.code).toBe('schema');
    expect(e.message).toMatch(/^update envelope: /);
    expect(e.message).toMatch(message);
  });

  it('refuses a header longer than the limit as too-large, before reading it', () => {
    const e = refusal(raw('{}', new Uint8Array(0), ENVELOPE_MAX_HEADER_BYTES + 1));
    expect(e.code).toBe('too-large');
    expect(e.message).toMatch(/more than the limit of 16384/);
    const { payload: _p, ...fields } = update(new Float32Array(1));
    expect(() => encodeEnvelopeHeader({ ...fields, clientId: 'x'.repeat(ENVELOPE_MAX_HEADER_BYTES) })).toThrow(/more than the limit/);
  });

  it('keeps a "__proto__" key as plain data and leaves it to the schema (which drops it)', () => {
    const u = update(new Float32Array(2));
    const { payload, ...fields } = u;
    const json = JSON.stringify(fields).replace(/^\{/, '{"__proto__":{"polluted":true},');
    const back = decodeUpdateEnvelope(raw(json, payload));
    expect(Object.getPrototypeOf(back)).toBe(Object.prototype);
    expect(({} as { polluted?: boolean }).polluted).toBeUndefined();
    expect(parseMessage('update', back)).not.toHaveProperty('__proto__.polluted');
  });

  it('the encoder refuses a payload that is not bytes, or a header that carries one', () => {
    const u = update(new Float32Array(2));
    expect(() => encodeUpdateEnvelope({ ...u, payload: [1, 2] as never })).toThrow(ProtocolError);
    expect(() => encodeEnvelopeHeader(u as never)).toThrow(/must not include the payload/);
  });

  it('random and mutated bytes never throw anything but a ProtocolError', () => {
    const rnd = mulberry32(7);
    const good = encodeUpdateEnvelope(update(new Float32Array(16)));
    for (let t = 0; t < 500; t++) {
      let bytes: Uint8Array;
      if (t % 2 === 0) {
        bytes = randomBytes(rnd, Math.floor(rnd() * 64));
      } else {
        bytes = good.slice(0, Math.floor(rnd() * (good.length + 1)));
        for (let k = 0; k < 3; k++) if (bytes.length) bytes[Math.floor(rnd() * bytes.length)] = Math.floor(rnd() * 256);
      }
      try {
        const out = decodeUpdateEnvelope(bytes);
        expect(out.payload).toBeInstanceOf(Uint8Array);
      } catch (e) {
        expect(e).toBeInstanceOf(ProtocolError);
      }
    }
  });
});
