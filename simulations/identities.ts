// Virtual clients' Ed25519 identities, derived from the run's seed and the
// client id on demand (10,000 clients need no key files and no up-front
// key generation; only the clients a round selects are ever derived).
import { createHash } from 'node:crypto';
import { identityFromSeed } from '../protocol/index.ts';

export class DerivedIdentities {
  private readonly cache = new Map<string, { publicKey: Uint8Array; secretKey: Uint8Array }>();

  constructor(private readonly seed: number) {}

  get(clientId: string): { publicKey: Uint8Array; secretKey: Uint8Array } {
    let id = this.cache.get(clientId);
    if (!id) {
      const seed32 = createHash('sha256').update(`fedrec-sim-identity/${this.seed}/${clientId}`).digest();
      id = identityFromSeed(new Uint8Array(seed32));
      this.cache.set(clientId, id);
    }
    return id;
  }
}
