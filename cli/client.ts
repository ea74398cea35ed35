// fedrec client: a merchant's participant, next to its own event data.
import { readFileSync } from 'node:fs';
import { Command } from 'commander';
import { identityFromJSON } from '../protocol/index.ts';
import { initBackend, BACKEND_CHOICES, type BackendChoice } from '../recommender/index.ts';
import { loadLocalData } from '../client/node/data.ts';
import { SocketClient } from '../client/node/socketClient.ts';
import { UsageError } from './errors.ts';
import { log } from './context.ts';
import { oneOf } from './options.ts';

interface ClientFlags {
  server: string;
  data: string;
  identity: string;
  name?: string;
  merchant?: string;
  backend: BackendChoice;
}

function readIdentity(path: string): { clientId: string; publicKey: Uint8Array; secretKey: Uint8Array } {
  let raw: string;
  try {
    raw = readFileSync(path, 'utf8');
  } catch (err) {
    throw new UsageError(`cannot read identity ${path}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message} (fedrec keygen --out ${path} makes one)`);
  }
  const id = identityFromJSON(raw);
  const clientId = (JSON.parse(raw) as { clientId?: string }).clientId;
  if (!clientId) throw new UsageError(`${path} has no clientId (make it with fedrec keygen --id ID)`);
  return { clientId, publicKey: id.publicKey, secretKey: id.secretKey };
}

export function clientCommand(): Command {
  return new Command('client')
    .description("join a federation as a merchant: train on local data, send only signed model updates")
    .requiredOption('--server <url>', 'coordinator URL, e.g. http://127.0.0.1:8080')
    .requiredOption('--identity <file>', 'identity file from fedrec keygen')
    .option('--data <spec>', 'local behaviour data (data spec, as for train)', 'synthetic')
    .option('--merchant <id>', "use only this merchant's users from the data (events' merchant field)")
    .option('--name <name>', 'display name')
    .option('--backend <name>', `tfjs backend: ${BACKEND_CHOICES.join(' | ')}`, oneOf('--backend', BACKEND_CHOICES), 'auto' as BackendChoice)
    .action(async (f: ClientFlags) => {
      const id = readIdentity(f.identity);
      const b = await initBackend(f.backend);
      const tag = `[${id.clientId}]`;
      log(`${tag} backend: ${b.detail}`);
      const client = new SocketClient({
        server: f.server.replace(/\/$/, ''),
        clientId: id.clientId,
        name: f.name,
        identity: id,
        loadData: (itemIds) => loadLocalData(f.data, itemIds, { merchant: f.merchant }),
        log: (line) => log(`${tag} ${line}`),
      });
      client.start();
      await new Promise<void>((resolve) => {
        const stop = async () => {
          log(`${tag} stopping`);
          await client.stop();
          resolve();
        };
        process.once('SIGINT', () => void stop());
        process.once('SIGTERM', () => void stop());
      });
    });
}
