// The round's release: plan -> task -> release -> commit (DESIGN.md's RoundRelease).
export type { Admitted, Aggregator, LedgerEntry, PlanResult, PrivacyStatus, Released, ReleasePlanner, RoundRelease } from './types.ts';
export { ReleaseError } from './types.ts';
export { PlainPlanner, PlainRelease, NO_PRIVACY_STATUS, type PlainLimits } from './plain.ts';
export { CentralRelease, type RoundPlan, type CentralContext } from './central.ts';
export { PrivacyController, checkDelta, DEFAULT_MAX_INTERACTIONS_PER_USER, type PrivacySettings, type PrivacySelection, type PrivacyControllerOptions } from './controller.ts';
