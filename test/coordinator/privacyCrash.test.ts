// The privacy ledger under kill -9: a child runs the engine under central DP
// (fixtures/dpEngineRunner.ts) and is SIGKILLed after its second committed
// round; a restarted child must replay every committed round's charge (ε
// exactly as before, never less), then stop at the same budget as if it had
// never crashed.
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { epsilonFor } from '../../privacy/index.ts';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const RUNNER = join(ROOT, 'test/coordinator/fixtures/dpEngineRunner.ts');
const base = mkdtempSync(join(tmpdir(), 'fedrec-dp-crash-'));
afterAll(() => rmSync(base, { recursive: true, force: true }));

interface Line {
  what: string;
  a: number;
  b: number;
  state?: string;
}

/** Runs the child with its noise seeded by `noiseSeed`; `killAfter(lines)` returning true SIGKILLs it. Resolves with its lines. */
function run(dir: string, target: number, total: number, noiseSeed: number, killAfter: (lines: Line[]) => boolean): Promise<{ lines: Line[]; signal: string | null }> {
  const child = spawn(process.execPath, [join(ROOT, 'bin/run-ts.mjs'), RUNNER, dir, String(target), String(total), String(noiseSeed)], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
  const lines: Line[] = [];
  let pending = '';
  let stderr = '';
  const guard = setTimeout(() => child.kill('SIGKILL'), 30_000);
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  child.stdout.on('data', (d: Buffer) => {
    pending += d.toString();
    const parts = pending.split('\n');
    pending = parts.pop()!;
    for (const p of parts) {
      const [what, a, b] = p.split(' ');
      lines.push(what === 'end' ? { what, a: NaN, b: NaN, state: a } : { what, a: Number(a), b: Number(b) });
      if (killAfter(lines)) child.kill('SIGKILL');
    }
  });
  return new Promise((resolvePromise, reject) => {
    child.on('exit', (code, signal) => {
      clearTimeout(guard);
      if (signal === null && code !== 0) reject(new Error(`runner exited with ${code}: ${stderr}`));
      else resolvePromise({ lines, signal });
    });
  });
}

describe('privacy ledger under kill -9', () => {
  it('survives: ε after restart equals ε at the last commit, and the budget stops the run at the same round', async () => {
    const q = 0.5;
    const z = 1;
    const delta = 1e-5;
    // four rounds fit, a fifth does not
    const target = (epsilonFor(q, z, 4, delta) + epsilonFor(q, z, 5, delta)) / 2;
    const dir = join(base, 'data');
    const first = await run(dir, target, 10, 1, (ls) => ls.filter((l) => l.what === 'committed').length >= 2);
    expect(first.signal).toBe('SIGKILL');
    const committed = first.lines.filter((l) => l.what === 'committed');
    expect(committed.length).toBeGreaterThanOrEqual(2);

    const second = await run(dir, target, 10, 2, () => false);
    const ready = second.lines[0];
    expect(ready.what).toBe('ready');
    // every round the first child saw committed is charged (a round committed after the last line it printed may be too)
    expect(ready.a).toBeGreaterThanOrEqual(committed.length);
    expect(ready.b).toBeCloseTo(epsilonFor(q, z, ready.a, delta), 10);
    if (ready.a === committed.length) expect(ready.b).toBe(committed.at(-1)!.b);
    const after = second.lines.filter((l) => l.what === 'committed');
    expect(after.length + ready.a).toBe(4);
    expect(after.at(-1)!.b).toBeCloseTo(epsilonFor(q, z, 4, delta), 10);
    expect(second.lines.at(-1)).toMatchObject({ what: 'end', state: 'budget-exhausted' });
  }, 60_000);
});
