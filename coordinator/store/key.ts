// The coordinator's Ed25519 identity: it signs every task, so clients can
// check that the privacy settings and model hash they act on are this
// coordinator's. Kept in the data directory (the directory is the
// coordinator), readable by its owner only; made at the store's creation, or
// at the first start of a store made before it existed.
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { generateIdentity, identityFromJSON, identityToJSON } from '../../protocol/index.ts';
import { StoreError } from './errors.ts';
import { fsyncDir, writeFileAtomic } from './files.ts';

export const KEY_FILE = 'coordinator-key.json';

export interface CoordinatorKey {
  publicKey: Uint8Array;
  secretKey: Uint8Array;
  /** Whether this start made it. */
  created: boolean;
}

/** The key in `dir`, or a new one written there (mode 0600). */
export async function readOrCreateKey(dir: string): Promise<CoordinatorKey> {
  const path = join(dir, KEY_FILE);
  let text: string | null = null;
  try {
    text = await readFile(path, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
  }
  if (text !== null) {
    try {
      const id = identityFromJSON(text);
      return { publicKey: id.publicKey, secretKey: id.secretKey, created: false };
    } catch (e) {
      throw new StoreError('bad-key', `${path} is not a valid key file (${(e as Error).message}): restore it from a backup (clients that pinned the key refuse a new one)`);
    }
  }
  const id = generateIdentity();
  await writeFileAtomic(path, new TextEncoder().encode(`${JSON.stringify(identityToJSON(id), null, 2)}\n`), 0o600);
  await fsyncDir(dir);
  return { ...id, created: true };
}
