export { RoundEngine, type EngineConfig, type EngineDeps, type EngineStats, type EngineTransport } from './roundEngine.ts';
export { selectClients, cryptoUniform, type Selection, type SelectionConfig, type Uniform } from './selection.ts';
export { validateUpdate, type UpdateContext, type ValidUpdate } from './validateUpdate.ts';
export { systemClock, type Clock } from './clock.ts';
export { PrivacyController, NO_PRIVACY_STATUS, type PrivacySettings, type PrivacySelection, type PrivacyStatus, type RoundPrivacy, type PrivacyRecord } from './privacy.ts';
