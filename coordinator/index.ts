// coordinator/: the public surface (the round engine, its assembly and
// releases, strategies, the store, the config). The socket coordinator
// (express + socket.io) is coordinator/server/index.ts, so that simulations,
// which use only the engine, never load the server stack.
export {
  assembleEngine,
  federationStrategy,
  engineConfig,
  defaultMaxUpdateNorm,
  MAX_WEIGHT,
  UPDATE_NORM_FACTOR,
  type FederationSettings,
  type AssembleDeps,
} from './assemble.ts';
export { lineageOf } from './lineage.ts';
export { federationSettings, defaultMaxUsersPerClient } from './settings.ts';
export { parseCoordinatorConfig, coordinatorConfigSchema, describeIssues, STRATEGY_CHOICES, type CoordinatorConfig } from './config.ts';
export { ConfigError } from './errors.ts';
export {
  RoundEngine,
  MAX_LISTED_REFUSALS,
  selectClients,
  cryptoUniform,
  validateUpdate,
  systemClock,
  type EngineConfig,
  type EngineDeps,
  type EngineStats,
  type EngineTransport,
  type EngineMessageKind,
  type Clock,
  type Uniform,
  type Selection,
  type SelectionConfig,
  type UpdateContext,
  type ValidUpdate,
} from './engine/index.ts';
export * from './release/index.ts';
export * from './strategies/index.ts';
export * from './store/index.ts';
export type { RoundRecord, RoundOutcome, Refusal, Strategy, StrategyState, Aggregate } from './types.ts';
