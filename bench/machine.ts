// The machine context every benchmark prints with its figures.
import { cpus, loadavg, totalmem } from 'node:os';
import { readFileSync, realpathSync } from 'node:fs';

export function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

function tfjsVersion(): string {
  try {
    return JSON.parse(readFileSync(new URL('../node_modules/@tensorflow/tfjs-core/package.json', import.meta.url), 'utf8')).version;
  } catch {
    return '?';
  }
}

/** The system BLAS Debian's python3-torch links against (reference BLAS is ~2.5x slower than OpenBLAS). */
export function systemBlas(): string {
  try {
    return realpathSync('/etc/alternatives/libblas.so.3-x86_64-linux-gnu');
  } catch {
    return 'unknown';
  }
}

export function machineContext(): Record<string, string | number> {
  const c = cpus();
  return {
    cpu: c[0]?.model ?? 'unknown',
    cores: c.length,
    memGiB: Math.round(totalmem() / 2 ** 30),
    load1: Number(loadavg()[0].toFixed(2)),
    node: process.version,
    tfjs: tfjsVersion(),
    date: new Date().toISOString(),
  };
}

export function printContext(title: string): void {
  const ctx = machineContext();
  console.log(`# ${title}`);
  console.log(Object.entries(ctx).map(([k, v]) => `${k}: ${v}`).join(' | '));
  const load = Number(ctx.load1);
  const cores = Number(ctx.cores);
  if (load > cores * 0.5) console.log(`note: load average ${load} on ${cores} cores: other work is running; figures are noisy`);
}
