// fedrec keygen: a client identity (Ed25519 key pair) and the public key to register.
import { existsSync, writeFileSync } from 'node:fs';
import { Command } from 'commander';
import { generateIdentity, identityToJSON, toBase64 } from '../protocol/index.ts';
import { UsageError } from './errors.ts';

export function keygenCommand(): Command {
  return new Command('keygen')
    .description('create a client identity (Ed25519 key pair) and print the public key to register with the coordinator')
    .requiredOption('--out <file>', 'where to write the identity (JSON, readable only by you)')
    .option('--id <clientId>', 'the client id the coordinator will know this key by', 'merchant-1')
    .option('--force', 'overwrite an existing file')
    .action((f: { out: string; id: string; force?: boolean }) => {
      if (existsSync(f.out) && !f.force) throw new UsageError(`${f.out} exists; pass --force to overwrite it (the old key is lost)`);
      const id = generateIdentity();
      writeFileSync(f.out, `${JSON.stringify({ ...identityToJSON(id), clientId: f.id }, null, 2)}\n`, { mode: 0o600 });
      const pub = toBase64(id.publicKey);
      console.log(`identity written to ${f.out}`);
      console.log(`public key: ${pub}`);
      console.log('register it in the coordinator config:');
      console.log(JSON.stringify({ clients: { allow: [{ id: f.id, publicKey: pub }] } }, null, 2));
    });
}
