// Streaming line reader over a file (never reads the whole file into a string).
import { createReadStream, statSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { DataError } from '../errors.ts';

export interface Line {
  /** 1-based physical line number. */
  no: number;
  text: string;
}

/** Throws `${what} not found: PATH` unless `path` is an existing file. */
export function assertFile(path: string, what: string): void {
  const st = statSync(path, { throwIfNoEntry: false });
  if (!st) throw new DataError(`${what} not found: ${path}`);
  if (!st.isFile()) throw new DataError(`${what} is not a file: ${path}`);
}

/** Throws `${what} not found: PATH` unless `path` is an existing directory. */
export function assertDir(path: string, what: string): void {
  const st = statSync(path, { throwIfNoEntry: false });
  if (!st) throw new DataError(`${what} not found: ${path}`);
  if (!st.isDirectory()) throw new DataError(`${what} is not a directory: ${path}`);
}

export function fileExists(path: string): boolean {
  return statSync(path, { throwIfNoEntry: false })?.isFile() ?? false;
}

/** Lines of a text file without line terminators (\n or \r\n); a leading BOM is removed. */
export async function* readLines(path: string, encoding: BufferEncoding = 'utf8'): AsyncGenerator<Line> {
  const input = createReadStream(path, { encoding });
  const rl = createInterface({ input, crlfDelay: Infinity });
  let no = 0;
  try {
    for await (const text of rl) {
      no++;
      yield { no, text: no === 1 && text.charCodeAt(0) === 0xfeff ? text.slice(1) : text };
    }
  } finally {
    rl.close();
    input.destroy();
  }
}
