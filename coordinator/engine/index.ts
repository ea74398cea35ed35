export { RoundEngine, MAX_LISTED_REFUSALS, type EngineConfig, type EngineDeps, type EngineStats, type EngineTransport, type EngineMessageKind } from './roundEngine.ts';
export { selectClients, cryptoUniform, type Selection, type SelectionConfig, type Uniform } from './selection.ts';
export { validateUpdate, type UpdateContext, type ValidUpdate } from './validateUpdate.ts';
export { systemClock, type Clock } from './clock.ts';
