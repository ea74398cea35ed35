// protocol/node: the Node-only half of the protocol (native crypto).
export { Ed25519Verifier, ED25519_SPKI_PREFIX, sha512Native, type Ed25519VerifierOptions } from './verify.ts';
