// Protocol version negotiation. A coordinator supports a contiguous range of
// protocol versions [min, max]; today that range is [2, 2] (2: updates and
// reports are signed over the lineage and the round's task id, tasks are
// signed by the coordinator). Browser-safe.
import type { ReasonCode } from './errors.ts';
import { ProtocolError } from './errors.ts';

export const PROTOCOL_VERSION = 2;

/** The oldest protocol version this code still speaks. */
export const MIN_PROTOCOL_VERSION = 2;

export interface VersionRange {
  min: number;
  max: number;
}

export const SUPPORTED_VERSIONS: Readonly<VersionRange> = Object.freeze({
  min: MIN_PROTOCOL_VERSION,
  max: PROTOCOL_VERSION,
});

export type VersionRefusalCode = Extract<ReasonCode, 'bad-version' | 'version-too-new' | 'version-too-old'>;

export type VersionCheck =
  | { ok: true; version: number }
  | { ok: false; code: VersionRefusalCode; message: string };

function speaks(r: VersionRange): string {
  return r.min === r.max ? `speaks ${r.max}` : `speaks ${r.min} to ${r.max}`;
}

/**
 * Checks a client's announced protocol version against the range this
 * coordinator supports (messages are written from the coordinator's side).
 */
export function checkVersion(v: unknown, supported: VersionRange = SUPPORTED_VERSIONS): VersionCheck {
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 1) {
    const shown = typeof v === 'number' ? String(v) : typeof v === 'string' ? JSON.stringify(v.slice(0, 32)) : typeof v;
    return {
      ok: false,
      code: 'bad-version',
      message: `protocol version must be a positive integer, got ${shown}`,
    };
  }
  if (v > supported.max) {
    return {
      ok: false,
      code: 'version-too-new',
      message: `client speaks protocol ${v}, this coordinator ${speaks(supported)}: upgrade the coordinator`,
    };
  }
  if (v < supported.min) {
    return {
      ok: false,
      code: 'version-too-old',
      message: `client speaks protocol ${v}, this coordinator ${speaks(supported)}: upgrade the client`,
    };
  }
  return { ok: true, version: v };
}

/** `checkVersion` that returns the version or throws the refusal as a ProtocolError. */
export function requireVersion(v: unknown, supported: VersionRange = SUPPORTED_VERSIONS): number {
  const r = checkVersion(v, supported);
  if (!r.ok) throw new ProtocolError(r.code, r.message);
  return r.version;
}
