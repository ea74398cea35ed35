// fedrec client: a merchant's participant, next to its own event data.
import { readFileSync } from 'node:fs';
import { Command } from 'commander';
import { InvalidArgumentError } from 'commander';
import { fromBase64, identityFromJSON, publicKeyFingerprint } from '../protocol/index.ts';
import { initBackend, BACKEND_CHOICES, type BackendChoice } from '../recommender/index.ts';
import type { PrivacyPolicy } from '../client/index.ts';
import { SocketClient, loadLocalData } from '../client/node/index.ts';
import { UsageError } from './errors.ts';
import { log } from './context.ts';
import { oneOf, positiveNumber } from './options.ts';

interface ClientFlags {
  server: string;
  data: string;
  identity: string;
  name?: string;
  merchant?: string;
  backend: BackendChoice;
  coordinatorKey?: Uint8Array;
  requireDp?: boolean;
  dpUnit?: 'user' | 'client';
  maxSampleRate?: number;
  maxClip?: number;
  maxEpsilon?: number;
  evaluation: boolean;
}

function publicKeyFlag(v: string): Uint8Array {
  try {
    return fromBase64(v, 32, '--coordinator-key');
  } catch (err) {
    throw new InvalidArgumentError(`${(err as Error).message} (the coordinator prints its key at start: "coordinator key ...")`);
  }
}

function policyOf(f: ClientFlags): PrivacyPolicy {
  return {
    ...(f.requireDp ? { minMode: 'central' as const } : {}),
    ...(f.dpUnit ? { unit: f.dpUnit } : {}),
    ...(f.maxSampleRate !== undefined ? { maxSampleRate: f.maxSampleRate } : {}),
    ...(f.maxClip !== undefined ? { maxClipNorm: f.maxClip } : {}),
    ...(f.maxEpsilon !== undefined ? { maxEpsilon: f.maxEpsilon } : {}),
    ...(f.evaluation === false ? { noEvaluation: true } : {}),
  };
}

/**
 * A client that requires DP must know whom it trusts: the coordinator's key
 * pinned (a key learned at connect could be anyone's), and TLS unless the
 * coordinator is on this machine.
 */
function checkDpConnection(f: ClientFlags, server: URL): void {
  if (!f.requireDp) return;
  if (!f.coordinatorKey) throw new UsageError('--require-dp needs --coordinator-key: the coordinator adds the noise, so pin the key it printed at start ("coordinator key ...")');
  const loopback = ['localhost', '127.0.0.1', '[::1]'].includes(server.hostname);
  if (server.protocol !== 'https:' && !loopback) {
    throw new UsageError(`--require-dp needs an https:// --server (got ${server.protocol}//${server.host}): run the coordinator behind TLS, or on this machine`);
  }
}

function serverUrl(raw: string): URL {
  try {
    const u = new URL(raw);
    if (u.protocol !== 'http:' && u.protocol !== 'https:') throw new Error('not http(s)');
    return u;
  } catch {
    throw new UsageError(`--server must be an http:// or https:// URL, got "${raw}"`);
  }
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
    .option('--coordinator-key <base64>', "the coordinator's public key (printed at its start): tasks signed by any other key are refused", publicKeyFlag)
    .option('--require-dp', 'refuse tasks without central differential privacy')
    .option('--dp-unit <unit>', "refuse DP tasks protecting another unit: 'user' (each shopper) or 'client'", oneOf('--dp-unit', ['user', 'client'] as const))
    .option('--max-sample-rate <q>', 'refuse DP tasks that sample users at a higher rate', positiveNumber('--max-sample-rate'))
    .option('--max-clip <C>', 'refuse DP tasks with a larger clip norm', positiveNumber('--max-clip'))
    .option('--max-epsilon <E>', 'refuse DP tasks whose privacy budget epsilon is larger', positiveNumber('--max-epsilon'))
    .option('--no-evaluation', 'never send federated evaluation sums (they are not covered by epsilon)')
    .action(async (f: ClientFlags) => {
      const server = serverUrl(f.server);
      checkDpConnection(f, server);
      const id = readIdentity(f.identity);
      const b = await initBackend(f.backend);
      const tag = `[${id.clientId}]`;
      log(`${tag} backend: ${b.detail}`);
      const policy = policyOf(f);
      if (Object.keys(policy).length > 0) log(`${tag} privacy policy: ${JSON.stringify(policy)}`);
      if (f.coordinatorKey) log(`${tag} coordinator key pinned (${publicKeyFingerprint(f.coordinatorKey)})`);
      const client = new SocketClient({
        server: f.server.replace(/\/$/, ''),
        clientId: id.clientId,
        name: f.name,
        identity: id,
        loadData: (itemIds) => loadLocalData(f.data, itemIds, { merchant: f.merchant }),
        coordinatorKey: f.coordinatorKey,
        policy,
        log: (line) => log(`${tag} ${line}`),
      });
      void client.start();
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
