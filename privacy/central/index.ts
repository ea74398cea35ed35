// Central differential privacy: the clients' exact sums of clipped contributions, the sensitivity
// of the release with every float rounding in it, and the noise the coordinator adds.
export { GRID_FACTOR, MAX_SLACK, type GridNoisePlan, planGridNoise, addGridNoise, noisyCount } from './gridNoise.ts';
export { ContributionSum } from './contributionSum.ts';
export {
  CONTRIBUTION_GRID_BITS,
  MAX_CONTRIBUTIONS_PER_SUM,
  gamma,
  clientSlack,
  releaseSlack,
  type SensitivityBounds,
} from './sensitivity.ts';
