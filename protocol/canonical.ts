// Canonical JSON: one byte string per value, whoever serialises it. Object
// keys are sorted by code unit, arrays keep their order, undefined members
// are dropped, and numbers are written as ECMAScript's Number::toString does
// (the shortest string that round-trips, identical in every conforming
// engine). Used to sign a structured message (a task) without listing its
// fields twice. Browser-safe.
import { ProtocolError } from './errors.ts';

/** The canonical JSON text of `value`; throws ProtocolError('schema') on values JSON cannot carry exactly. */
export function canonicalJson(value: unknown, where = 'value'): string {
  if (value === null) return 'null';
  switch (typeof value) {
    case 'boolean':
      return value ? 'true' : 'false';
    case 'string':
      return JSON.stringify(value);
    case 'number':
      if (!Number.isFinite(value)) throw new ProtocolError('schema', `${where} must be a finite number, got ${value}`);
      return JSON.stringify(value === 0 ? 0 : value); // -0 and +0 are one JSON number
    case 'object': {
      if (Array.isArray(value)) return `[${value.map((v, i) => canonicalJson(v, `${where}[${i}]`)).join(',')}]`;
      if (value instanceof Uint8Array || ArrayBuffer.isView(value)) throw new ProtocolError('schema', `${where} is binary; sign its hash instead`);
      const keys = Object.keys(value).filter((k) => (value as Record<string, unknown>)[k] !== undefined).sort();
      const body = keys.map((k) => `${JSON.stringify(k)}:${canonicalJson((value as Record<string, unknown>)[k], `${where}.${k}`)}`);
      return `{${body.join(',')}}`;
    }
    default:
      throw new ProtocolError('schema', `${where} has type ${typeof value}, which JSON cannot carry`);
  }
}
