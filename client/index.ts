// client/: the participant (transport-agnostic and browser-safe), its
// contribution under each privacy setting, and its privacy policy. Node-only
// parts (file data, the socket.io transport) are in client/node/.
export { ClientCore, type ClientCoreDeps, type ClientIdentity, type ClientSend, type DataSource, type LocalData, type TaskReport } from './core.ts';
export { contribute, userSeed, trainingStopsAt, type Contribution, type ContributionDeps } from './contribution.ts';
export { PolicyError, policyViolation, type PrivacyPolicy } from './policy.ts';
