import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';

function fedrec(args: string[]) {
  const r = spawnSync(process.execPath, ['bin/fedrec.mjs', ...args], { encoding: 'utf8', timeout: 60_000 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

describe('fedrec privacy', () => {
  it('prints the published epsilon of TF Privacy case q=0.0025, z=1.3, 6000 steps, delta=1e-5 as its JSON last line', () => {
    const r = fedrec(['privacy', '--q', '0.0025', '--noise', '1.3', '--rounds', '6000', '--delta', '1e-5', '--json']);
    expect(r.code).toBe(0);
    const j = JSON.parse(r.stdout.trim().split('\n').pop()!);
    expect(Object.keys(j).sort()).toEqual(['delta', 'epsilon', 'noise', 'order', 'q', 'rounds']);
    // published value 0.7242234026109595 (TF Privacy), to 1e-9 relative
    expect(Math.abs(j.epsilon / 0.7242234026109595 - 1)).toBeLessThan(1e-9);
    expect(j.order).toBe(19);
  });

  it('--target-epsilon prints a noise multiplier whose epsilon meets the target', () => {
    const r = fedrec(['privacy', '--q', '0.01', '--target-epsilon', '2', '--rounds', '100', '--json']);
    expect(r.code).toBe(0);
    const j = JSON.parse(r.stdout.trim().split('\n').pop()!);
    expect(j.epsilon).toBeLessThanOrEqual(2);
    expect(j.epsilon).toBeGreaterThan(1.99);
  });

  it('refuses contradictory or out-of-range flags with one line', () => {
    const both = fedrec(['privacy', '--q', '0.01', '--noise', '1', '--target-epsilon', '2', '--rounds', '10']);
    expect(both.code).not.toBe(0);
    expect(both.stderr).toMatch(/exactly one of --noise and --target-epsilon/);
    const badQ = fedrec(['privacy', '--q', '2', '--noise', '1', '--rounds', '10']);
    expect(badQ.code).not.toBe(0);
    expect(badQ.stderr).toMatch(/--q must be in \(0, 1\]/);
  });
});
