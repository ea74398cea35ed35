// Durable file primitives for the store: atomic replace (temp file in the same
// directory, fsync, rename, then the caller fsyncs the directory), directory
// fsync, durable append/truncate, and the directory lock. Node-only.
import { randomBytes } from 'node:crypto';
import { open, readFile, rename, unlink } from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';
import { StoreError } from './errors.ts';

/** Every temp file the store writes ends with this; recovery deletes them. */
export const TEMP_SUFFIX = '.tmp';

/** Makes renames, creations and deletions in `dir` durable. */
export async function fsyncDir(dir: string): Promise<void> {
  // Windows cannot open a directory for fsync; NTFS journals the rename itself.
  if (process.platform === 'win32') return;
  const fh = await open(dir, 'r');
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}

/**
 * Writes `bytes` to `path` so that a crash leaves either the old file or the
 * new one, never a mix: temp file in the same directory, fsync, rename. The
 * caller fsyncs the directory (once, after all of its renames).
 */
export async function writeFileAtomic(path: string, bytes: Uint8Array, mode = 0o666): Promise<void> {
  const tmp = join(dirname(path), `${basename(path)}.${process.pid}-${randomBytes(4).toString('hex')}${TEMP_SUFFIX}`);
  try {
    const fh = await open(tmp, 'wx', mode);
    try {
      await fh.writeFile(bytes);
      await fh.sync();
    } finally {
      await fh.close();
    }
    await rename(tmp, path);
  } catch (e) {
    await removeIfExists(tmp).catch(() => {});
    throw e;
  }
}

/**
 * Writes `bytes` at byte offset `at` of an existing file (cutting away
 * anything after `at` first) and fsyncs it. Returns the new size.
 */
export async function appendDurably(path: string, at: number, bytes: Uint8Array): Promise<number> {
  const fh = await open(path, 'r+');
  try {
    const { size } = await fh.stat();
    if (size !== at) await fh.truncate(at);
    let done = 0;
    while (done < bytes.length) {
      const { bytesWritten } = await fh.write(bytes, done, bytes.length - done, at + done);
      done += bytesWritten;
    }
    await fh.sync();
  } finally {
    await fh.close();
  }
  return at + bytes.length;
}

/** Cuts a file to `size` bytes and fsyncs it. */
export async function truncateDurably(path: string, size: number): Promise<void> {
  const fh = await open(path, 'r+');
  try {
    await fh.truncate(size);
    await fh.sync();
  } finally {
    await fh.close();
  }
}

/** Deletes a file; true when it existed. */
export async function removeIfExists(path: string): Promise<boolean> {
  try {
    await unlink(path);
    return true;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return false;
    throw e;
  }
}

// ---------------------------------------------------------------- the lock

/** Directories held by Stores of this process (resolved paths). */
const HELD = new Set<string>();

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

export interface DirLock {
  /** Pid of a dead holder whose lock was taken over (after a crash), if any. */
  readonly staleFrom: number | null;
  release(): Promise<void>;
}

/**
 * Takes `DIR/lock` (a file holding the owner's pid). A lock whose pid is dead,
 * or is this process's pid without a Store of this process holding it (a
 * container restarted with the same pid), is stale and taken over.
 */
export async function lockDir(dir: string, lockName = 'lock'): Promise<DirLock> {
  const key = resolve(dir);
  const path = join(key, lockName);
  if (HELD.has(key)) {
    throw new StoreError('locked', `data directory ${dir} is already open in this process: close the other Store first`);
  }
  HELD.add(key); // reserved before the first await, so two opens in this process cannot race
  try {
    return await takeLock(dir, key, path);
  } catch (e) {
    HELD.delete(key);
    throw e;
  }
}

async function takeLock(dir: string, key: string, path: string): Promise<DirLock> {
  let staleFrom: number | null = null;
  for (let attempt = 0; attempt < 3; attempt++) {
    try {
      const fh = await open(path, 'wx');
      try {
        await fh.writeFile(`${process.pid}\n`);
        await fh.sync();
      } finally {
        await fh.close();
      }
      await fsyncDir(key);
      let released = false;
      return {
        staleFrom,
        async release() {
          if (released) return;
          released = true;
          HELD.delete(key);
          await removeIfExists(path);
        },
      };
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
    }
    let text = '';
    try {
      text = await readFile(path, 'utf8');
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') continue; // released meanwhile: try again
      throw e;
    }
    const pid = Number.parseInt(text.trim(), 10);
    if (Number.isSafeInteger(pid) && pid > 0 && pid !== process.pid && isAlive(pid)) {
      throw new StoreError(
        'locked',
        `data directory ${dir} is in use by process ${pid}: stop that coordinator first ` +
          `(or, if no fedrec process is running, delete ${path})`,
      );
    }
    // Empty or garbled (crash while taking it), dead holder, or our pid left by an earlier run.
    staleFrom = Number.isSafeInteger(pid) ? pid : -1;
    await removeIfExists(path);
  }
  throw new StoreError('locked', `could not take the lock ${path}: another process keeps taking it`);
}
