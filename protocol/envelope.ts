// The update envelope: how an `update` message travels as one binary HTTP body
// (POST /api/updates). Browser-safe.
//
//   offset 0       u32, little-endian: n, the byte length of the header
//   offset 4       n bytes: UTF-8 JSON object with every field of the update
//                  except the payload (round, modelVersion, clientId, codec,
//                  payloadHash, numExamples, weight, clipCount?, signature,
//                  metrics?)
//   offset 4 + n   the payload: the encoded delta (codec format), to the end
//
// Decoding checks the framing only and throws ProtocolError ('schema', or
// 'too-large' for an oversize header); what the fields mean is checked by
// parseMessage('update', ...) like any other update. The signature covers the
// payload's SHA-512, so the envelope adds nothing an attacker could change.
import { ProtocolError } from './errors.ts';
import type { MessageInputs } from './messages.ts';

/** Largest header accepted: the real fields take a few hundred bytes. */
export const ENVELOPE_MAX_HEADER_BYTES = 16 * 1024;
/** The u32 header length in front. */
export const ENVELOPE_PREFIX_BYTES = 4;

/** The fields an envelope's header carries: an update without its payload. */
export type UpdateEnvelopeFields = Omit<MessageInputs['update'], 'payload'>;

/** The largest envelope that can carry a payload of `maxPayloadBytes` (what an upload's content-length may be). */
export function maxEnvelopeBytes(maxPayloadBytes: number): number {
  return ENVELOPE_PREFIX_BYTES + ENVELOPE_MAX_HEADER_BYTES + maxPayloadBytes;
}

/**
 * The envelope's first part (length prefix and JSON header), for a sender that
 * writes the payload after it without copying it into one buffer.
 */
export function encodeEnvelopeHeader(fields: UpdateEnvelopeFields): Uint8Array<ArrayBuffer> {
  if ('payload' in fields) throw new ProtocolError('schema', 'update envelope: the header fields must not include the payload (it follows the header as raw bytes)');
  const json = new TextEncoder().encode(JSON.stringify(fields));
  if (json.length > ENVELOPE_MAX_HEADER_BYTES) {
    throw new ProtocolError('too-large', `update envelope: the header is ${json.length} bytes, more than the limit of ${ENVELOPE_MAX_HEADER_BYTES}`);
  }
  const out = new Uint8Array(ENVELOPE_PREFIX_BYTES + json.length);
  new DataView(out.buffer).setUint32(0, json.length, true);
  out.set(json, ENVELOPE_PREFIX_BYTES);
  return out;
}

/** One buffer: the header, then the payload bytes. */
export function encodeUpdateEnvelope(update: UpdateEnvelopeFields & { payload: Uint8Array }): Uint8Array<ArrayBuffer> {
  const { payload, ...fields } = update;
  if (!(payload instanceof Uint8Array)) throw new ProtocolError('schema', 'update envelope: payload must be a Uint8Array');
  const head = encodeEnvelopeHeader(fields);
  const out = new Uint8Array(head.length + payload.length);
  out.set(head, 0);
  out.set(payload, head.length);
  return out;
}

const fail = (message: string, code: 'schema' | 'too-large' = 'schema'): never => {
  throw new ProtocolError(code, `update envelope: ${message}`);
};

/**
 * Splits an envelope into the update's fields and its payload (a view into
 * `bytes`, not a copy). The result still has to pass parseMessage('update').
 */
export function decodeUpdateEnvelope(bytes: Uint8Array): Record<string, unknown> & { payload: Uint8Array } {
  if (!(bytes instanceof Uint8Array)) fail('expected bytes');
  if (bytes.length < ENVELOPE_PREFIX_BYTES) fail(`${bytes.length} bytes is shorter than the ${ENVELOPE_PREFIX_BYTES}-byte header length in front`);
  const n = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength).getUint32(0, true);
  if (n > ENVELOPE_MAX_HEADER_BYTES) fail(`the header length is ${n} bytes, more than the limit of ${ENVELOPE_MAX_HEADER_BYTES}`, 'too-large');
  if (ENVELOPE_PREFIX_BYTES + n > bytes.length) fail(`the header length is ${n} bytes but only ${bytes.length - ENVELOPE_PREFIX_BYTES} follow`);
  let text = '';
  try {
    text = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true }).decode(bytes.subarray(ENVELOPE_PREFIX_BYTES, ENVELOPE_PREFIX_BYTES + n));
  } catch {
    fail('the header is not valid UTF-8');
  }
  let header: unknown;
  try {
    header = JSON.parse(text);
  } catch (err) {
    fail(`the header is not JSON (${(err as Error).message.slice(0, 120)})`);
  }
  if (typeof header !== 'object' || header === null || Array.isArray(header)) fail('the header must be a JSON object of the update fields');
  if (Object.prototype.hasOwnProperty.call(header, 'payload')) fail('the header must not contain a payload field: the payload is the bytes after the header');
  // spread copies own properties only (a "__proto__" key stays data, it cannot change the prototype)
  return { ...(header as Record<string, unknown>), payload: bytes.subarray(ENVELOPE_PREFIX_BYTES + n) };
}
