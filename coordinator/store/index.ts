// The coordinator's data directory (see store.ts for the layout and the
// commit and recovery protocols).
export {
  Store,
  STORE_FORMAT,
  STORE_FILE,
  ROUNDS_FILE,
  MODELS_DIR,
  modelFileName,
  optimizerFileName,
  type StoreInit,
  type StoreOpenOptions,
  type RecoveryReport,
  type LatestState,
} from './store.ts';
export { StoreError, type StoreErrorCode } from './errors.ts';
export { KEY_FILE, type CoordinatorKey } from './key.ts';
export { OPTIMIZER_FORMAT, summarizeSpec, compareSpecSummaries, type SpecSummary } from './codec.ts';
export type { TornTail } from './log.ts';
