// The attack lab's view of a simulated round, on the coordinator's side of
// the wire: it observes each update as the coordinator receives it, and lets
// malicious clients replace theirs (re-encoded and re-signed with their own
// keys through the same protocol helper honest clients use).
import { decode, encode, signedUpdate, type MessageInputs } from '../protocol/index.ts';
import { sha512Native } from '../protocol/node/index.ts';
import type { DerivedIdentities } from './identities.ts';
import type { Partition } from './partition.ts';
import type { SimulationHooks } from './types.ts';

export class Adversary {
  constructor(
    private readonly hooks: SimulationHooks,
    private readonly identities: DerivedIdentities,
    private readonly partition: Partition,
    private readonly lineage: string,
  ) {}

  /** Whether any hook is set (else updates pass untouched). */
  get active(): boolean {
    return this.hooks.tamper !== undefined || this.hooks.observeUpdate !== undefined;
  }

  /** The update as it reaches the coordinator: tampered with if a hook says so, then observed. */
  intercept(clientId: string, msg: MessageInputs['update']): MessageInputs['update'] {
    let m = msg;
    if (this.hooks.tamper) {
      const replaced = this.hooks.tamper(clientId, m.round, decode(m.payload as Uint8Array));
      if (replaced) {
        const { payloadHash: _h, signature: _s, payload: _p, ...fields } = m;
        m = signedUpdate({ ...fields, lineage: this.lineage, payload: encode(replaced, m.codec) }, this.identities.get(clientId).secretKey, sha512Native);
      }
    }
    this.hooks.observeUpdate?.({ clientId, round: m.round, delta: decode(m.payload as Uint8Array), weight: m.weight, users: this.partition.usersOf(clientId) });
    return m;
  }
}
