// Checks of strategy hyper-parameters: each failure names the field, the allowed range and the value.

export type Weighting = 'examples' | 'uniform';
export const WEIGHTINGS: readonly Weighting[] = ['examples', 'uniform'];

interface Range {
  /** Lower bound, inclusive unless `minExclusive`. */
  min?: number;
  minExclusive?: boolean;
  /** Upper bound, inclusive unless `maxExclusive`. */
  max?: number;
  maxExclusive?: boolean;
  integer?: boolean;
}

function describeRange(r: Range): string {
  const parts: string[] = [];
  if (r.integer) parts.push('an integer');
  else parts.push('a finite number');
  if (r.min !== undefined && r.max !== undefined) {
    parts.push(`in ${r.minExclusive ? '(' : '['}${r.min}, ${r.max}${r.maxExclusive ? ')' : ']'}`);
  } else if (r.min !== undefined) {
    parts.push(`${r.minExclusive ? '>' : '>='} ${r.min}`);
  } else if (r.max !== undefined) {
    parts.push(`${r.maxExclusive ? '<' : '<='} ${r.max}`);
  }
  return parts.join(' ');
}

/** `value` if it is a number in the range, else throws `<where>: <field> must be … , got …`. */
export function checkNumber(where: string, field: string, value: unknown, range: Range): number {
  const ok =
    typeof value === 'number' &&
    Number.isFinite(value) &&
    (!range.integer || Number.isSafeInteger(value)) &&
    (range.min === undefined || (range.minExclusive ? value > range.min : value >= range.min)) &&
    (range.max === undefined || (range.maxExclusive ? value < range.max : value <= range.max));
  if (!ok) throw new Error(`${where}: ${field} must be ${describeRange(range)}, got ${JSON.stringify(value) ?? String(value)}`);
  return value as number;
}

export function checkSize(where: string, value: unknown): number {
  return checkNumber(where, 'size', value, { min: 1, integer: true });
}

export function checkServerLr(where: string, value: unknown): number {
  return checkNumber(where, 'serverLr', value, { min: 0, minExclusive: true });
}

/** A decay rate (momentum, beta1, beta2): [0, 1). */
export function checkDecay(where: string, field: string, value: unknown): number {
  return checkNumber(where, field, value, { min: 0, max: 1, maxExclusive: true });
}

export function checkWeighting(where: string, value: unknown): Weighting {
  if (!WEIGHTINGS.includes(value as Weighting)) {
    throw new Error(`${where}: weighting must be one of ${WEIGHTINGS.map((w) => `'${w}'`).join(', ')}, got ${JSON.stringify(value) ?? String(value)}`);
  }
  return value as Weighting;
}
