// Central differential privacy: the noise the coordinator adds to the sum of clipped contributions.
export { GRID_FACTOR, type GridNoisePlan, planGridNoise, addGridNoise, noisyCount } from './gridNoise.ts';
