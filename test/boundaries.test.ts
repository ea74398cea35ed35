// The module-boundary lint (`npm run lint:deps`, part of `npm test`) catches
// each kind of violation: run with the project's own .dependency-cruiser.cjs
// on a small tree of probe files written here, it reports a folder importing
// a folder DESIGN.md does not allow, a reach past another folder's index.ts,
// and a Node built-in in browser-safe code, and nothing for allowed imports.
import { execFileSync } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const dir = mkdtempSync(join(tmpdir(), 'fedrec-depcruise-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function write(path: string, text: string): void {
  mkdirSync(dirname(join(dir, path)), { recursive: true });
  writeFileSync(join(dir, path), text);
}

interface Violation {
  from: string;
  to: string;
  rule: { name: string };
}

function cruise(files: string[]): Violation[] {
  let out: string;
  try {
    out = execFileSync(join(ROOT, 'node_modules/.bin/depcruise'), [...files, '--config', '.dependency-cruiser.cjs', '--output-type', 'json'], { cwd: dir, encoding: 'utf8' });
  } catch (err) {
    out = (err as { stdout: string }).stdout; // exits non-zero when it finds violations
  }
  return (JSON.parse(out) as { summary: { violations: Violation[] } }).summary.violations;
}

describe('the dependency lint', () => {
  copyFileSync(join(ROOT, '.dependency-cruiser.cjs'), join(dir, '.dependency-cruiser.cjs'));
  copyFileSync(join(ROOT, 'tsconfig.json'), join(dir, 'tsconfig.json'));
  write('coordinator/index.ts', 'export const engine = 1;\n');
  write('recommender/index.ts', 'export const model = 2;\n');
  write('recommender/models/mf.ts', 'export const mf = 3;\n');
  write('protocol/index.ts', 'export const wire = 4;\n');
  write('coordinator/server/index.ts', "import { engine } from '../index.ts';\nexport const server = engine;\n");

  it('reports each kind of violation by its rule', () => {
    write('client/probe.ts', "import { engine } from '../coordinator/index.ts';\nexport const a = engine;\n");
    write('coordinator/probe.ts', "import { mf } from '../recommender/models/mf.ts';\nexport const b = mf;\n");
    write('privacy/probe.ts', "import { readFileSync } from 'node:fs';\nexport const c = readFileSync;\n");
    write('simulations/probe.ts', "import { server } from '../coordinator/server/index.ts';\nexport const f = server;\n");
    const v = cruise(['client/probe.ts', 'coordinator/probe.ts', 'privacy/probe.ts', 'simulations/probe.ts']);
    const seen = v.map((x) => `${x.rule.name}: ${x.from} → ${x.to}`).sort();
    expect(seen).toEqual([
      'browser-safe: privacy/probe.ts → fs',
      'client-imports-only-protocol-privacy-recommender: client/probe.ts → coordinator/index.ts',
      'only-through-index: coordinator/probe.ts → recommender/models/mf.ts',
      'simulations-without-server: simulations/probe.ts → coordinator/server/index.ts',
    ]);
  });

  it('accepts what DESIGN.md allows: another folder through its index, Node built-ins under node/', () => {
    write('client/allowed.ts', "import { wire } from '../protocol/index.ts';\nimport { model } from '../recommender/index.ts';\nexport const d = wire + model;\n");
    write('recommender/node/files.ts', "import { readFileSync } from 'node:fs';\nexport const e = readFileSync;\n");
    expect(cruise(['client/allowed.ts', 'recommender/node/files.ts'])).toEqual([]);
  });
});
