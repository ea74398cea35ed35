// protocol/ is browser-safe and imports nothing of ours: only its own files,
// zod and tweetnacl; protocol/node/ may add node: built-ins.
import { readFileSync, readdirSync } from 'node:fs';
import { join, relative } from 'node:path';
import { describe, expect, it } from 'vitest';

const root = new URL('../../protocol/', import.meta.url).pathname;

function tsFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? tsFiles(join(dir, e.name)) : e.name.endsWith('.ts') ? [join(dir, e.name)] : [],
  );
}

function imports(src: string): string[] {
  return [...src.matchAll(/(?:import|export)\s[^'"]*?from\s+['"]([^'"]+)['"]|import\(\s*['"]([^'"]+)['"]\s*\)/g)].map((m) => m[1] ?? m[2]);
}

describe('protocol boundaries', () => {
  const files = tsFiles(root);

  it('finds the protocol sources', () => {
    expect(files.map((f) => relative(root, f)).sort()).toEqual(
      expect.arrayContaining(['codec.ts', 'errors.ts', 'identity.ts', 'index.ts', 'messages.ts', 'version.ts', 'node/index.ts', 'node/verify.ts']),
    );
  });

  it.each(files.map((f) => [relative(root, f), f]))('%s imports only what it may', (rel, file) => {
    const src = readFileSync(file, 'utf8');
    const nodeOk = rel.startsWith('node/');
    for (const spec of imports(src)) {
      const ok =
        spec === 'zod' ||
        spec === 'tweetnacl' ||
        (spec.startsWith('./') && spec.endsWith('.ts')) ||
        (nodeOk && (spec.startsWith('node:') || spec === '../identity.ts' || spec === '../index.ts'));
      expect(ok, `${rel} imports ${spec}`).toBe(true);
    }
    if (!nodeOk) {
      // code only: drop comments and string literals, which may mention Buffer
      const code = src
        .replace(/\/\*[\s\S]*?\*\//g, '')
        .replace(/\/\/.*$/gm, '')
        .replace(/'(?:[^'\\\n]|\\.)*'|"(?:[^"\\\n]|\\.)*"|`(?:[^`\\]|\\.)*`/g, "''");
      expect(code, `${rel} uses Buffer`).not.toMatch(/\bBuffer\b/);
      expect(code, `${rel} uses process`).not.toMatch(/\bprocess\./);
      expect(code, `${rel} uses require`).not.toMatch(/\brequire\(/);
    }
  });
});
