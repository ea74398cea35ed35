// Runs a benchmark's child process, passing its stderr through line by line
// with a prefix and keeping its stdout's last line as JSON.
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('..', import.meta.url));

export interface Run {
  code: number | null;
  /** The last stdout line parsed as JSON, when it is one. */
  json: Record<string, unknown> | null;
  /** The last stderr lines (for error messages). */
  stderrTail: string[];
  /** Every stderr line (for the per-evaluation curve). */
  stderrAll: string[];
  wallSeconds: number;
}

/** Runs a command, passing its stderr through line by line with a prefix, and keeps its stdout. */
export function runStreaming(prefix: string, cmd: string, args: string[], env: NodeJS.ProcessEnv = process.env): Promise<Run> {
  return new Promise((done) => {
    const started = performance.now();
    const child = spawn(cmd, args, { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let partial = '';
    const tail: string[] = [];
    const all: string[] = [];
    const emit = (line: string) => {
      process.stderr.write(`${prefix} ${line}\n`);
      all.push(line);
      tail.push(line);
      if (tail.length > 20) tail.shift();
    };
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => {
      const lines = (partial + d).split('\n');
      partial = lines.pop() ?? '';
      for (const l of lines) emit(l.replace(/\r/g, ''));
    });
    const finish = (code: number | null, err?: Error) => {
      if (partial) emit(partial);
      if (err) tail.push(err.message);
      const last = stdout.trim().split('\n').pop() ?? '';
      let json: Record<string, unknown> | null = null;
      try {
        const parsed: unknown = JSON.parse(last);
        if (parsed && typeof parsed === 'object' && !Array.isArray(parsed)) json = parsed as Record<string, unknown>;
      } catch {
        json = null;
      }
      done({ code, json, stderrTail: tail, stderrAll: all, wallSeconds: (performance.now() - started) / 1000 });
    };
    child.on('error', (err) => finish(null, err));
    child.on('close', (code) => finish(code));
  });
}

