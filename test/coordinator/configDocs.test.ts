// The README's `fedrec.json` table is what a new user configures from: every
// field the schema accepts is in it, and every default it states as a plain
// value is the default the coordinator really uses (parseCoordinatorConfig({})).
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { coordinatorConfigSchema, parseCoordinatorConfig } from '../../coordinator/index.ts';

const README = readFileSync(new URL('../../README.md', import.meta.url), 'utf8');

/** The rows of the table under the `### \`fedrec.json\`` heading: [fields cell, default cell, the whole row]. */
function tableRows(): Array<[string, string, string]> {
  const section = README.slice(README.indexOf('### `fedrec.json`'));
  const table = section.slice(section.indexOf('| field |'));
  const lines = table.split('\n');
  const rows: Array<[string, string, string]> = [];
  for (const line of lines.slice(2)) {
    if (!line.startsWith('|')) break;
    const cells = line.split(/(?<!\\)\|/).map((c) => c.trim());
    rows.push([cells[1], cells[2], line]);
  }
  return rows;
}

const backticked = (cell: string) => [...cell.matchAll(/`([^`]+)`/g)].map((m) => m[1]);

function get(obj: unknown, path: string): unknown {
  return path.split('.').reduce<unknown>((o, k) => (o as Record<string, unknown> | undefined)?.[k], obj);
}

/** Every field path the schema accepts (objects' keys, two levels deep). */
function schemaPaths(): string[] {
  const out: string[] = [];
  const shape = (coordinatorConfigSchema as unknown as { def: { in?: { shape: object }; shape?: object } }).def;
  const top = (shape.in?.shape ?? shape.shape) as Record<string, { def?: { innerType?: unknown; in?: unknown; shape?: object }; shape?: object }>;
  const objectShape = (t: unknown): Record<string, unknown> | null => {
    let cur = t as { def?: Record<string, unknown>; shape?: Record<string, unknown> } | undefined;
    for (let i = 0; i < 6 && cur; i++) {
      if (cur.shape && typeof cur.shape === 'object') return cur.shape;
      cur = (cur.def?.innerType ?? cur.def?.in ?? cur.def?.schema) as typeof cur;
    }
    return null;
  };
  for (const [k, t] of Object.entries(top)) {
    const inner = objectShape(t);
    if (!inner || k === 'catalog' || k === 'clients') out.push(k);
    else for (const sub of Object.keys(inner)) out.push(`${k}.${sub}`);
  }
  return out;
}

describe("the README's fedrec.json table", () => {
  const rows = tableRows();
  const defaults = parseCoordinatorConfig({});

  it('states the defaults the coordinator uses, wherever it states a plain value', () => {
    let checked = 0;
    for (const [fieldsCell, defaultCell] of rows) {
      const fields = backticked(fieldsCell);
      const values = defaultCell.split(/,\s*/).map((v) => v.replace(/^`|`$/g, '').trim());
      if (fields.length !== values.length) continue;
      fields.forEach((f, i) => {
        const v = values[i];
        const numeric = /^-?\d+(\.\d+)?(e-?\d+)?$/.test(v);
        if (!(numeric || /^[a-z0-9.-]+$/i.test(v)) || get(defaults, f) === undefined) return;
        const want = numeric ? Number(v) : v === 'true' ? true : v === 'false' ? false : v;
        expect(get(defaults, f), `README says ${f} defaults to ${v}`).toBe(want);
        checked++;
      });
    }
    // rounds.*, train.*, codec, dataDir, host, port, strategy.name, privacy.mode/unit/targetEpsilon/delta, ...
    expect(checked).toBeGreaterThanOrEqual(18);
  });

  it('lists every field the schema accepts', () => {
    const text = rows.map(([, , row]) => row).join(' ');
    const missing = schemaPaths().filter((p) => !text.includes(p) && !text.includes(`\`${p.split('.').pop()}\``));
    expect(missing).toEqual([]);
  });
});
