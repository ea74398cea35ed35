// Child processes of the demo: the real `fedrec coordinator` and `fedrec client`
// commands, each with its own tfjs runtime, talking over loopback sockets.
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const BIN = fileURLToPath(new URL('../../bin/fedrec.mjs', import.meta.url));

export interface Child {
  proc: ChildProcess;
  /** Every stderr line so far (progress and logs). */
  lines: string[];
}

export function spawnFedrec(args: string[], onLine: (line: string) => void = () => {}): Child {
  const proc = spawn(process.execPath, [BIN, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  const child: Child = { proc, lines: [] };
  let buf = '';
  const take = (chunk: Buffer) => {
    buf += chunk.toString('utf8');
    let i: number;
    while ((i = buf.indexOf('\n')) >= 0) {
      const line = buf.slice(0, i);
      buf = buf.slice(i + 1);
      child.lines.push(line);
      onLine(line);
    }
  };
  proc.stderr!.on('data', take);
  proc.stdout!.on('data', take);
  return child;
}

/** Resolves with the first match of `re` in the child's output; rejects if it exits first or after `ms`. */
export function waitForLine(child: Child, re: RegExp, ms: number): Promise<RegExpMatchArray> {
  return new Promise((resolve, reject) => {
    const check = () => {
      for (const l of child.lines) {
        const m = l.match(re);
        if (m) return done(null, m);
      }
    };
    const timer = setTimeout(() => done(new Error(`timed out after ${ms} ms waiting for ${re} (last output: ${child.lines.slice(-3).join(' | ')})`)), ms);
    const onData = () => check();
    const onExit = (code: number | null) => done(new Error(`process exited (code ${code}) before printing ${re}: ${child.lines.slice(-5).join(' | ')}`));
    function done(err: Error | null, m?: RegExpMatchArray) {
      clearTimeout(timer);
      child.proc.stderr!.off('data', onData);
      child.proc.off('exit', onExit);
      if (err) reject(err);
      else resolve(m!);
    }
    child.proc.stderr!.on('data', onData);
    child.proc.once('exit', onExit);
    check();
  });
}

export function stopAll(children: Child[]): Promise<void> {
  return Promise.all(
    children.map(
      (c) =>
        new Promise<void>((resolve) => {
          if (c.proc.exitCode !== null || c.proc.signalCode !== null) return resolve();
          const t = setTimeout(() => c.proc.kill('SIGKILL'), 5000);
          c.proc.once('exit', () => {
            clearTimeout(t);
            resolve();
          });
          c.proc.kill('SIGTERM');
        }),
    ),
  ).then(() => undefined);
}
