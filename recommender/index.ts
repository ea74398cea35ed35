// The recommender's public surface (browser-safe; file loaders are in ./node/index.ts).
export * from './types.ts';
export { Catalog } from './catalog.ts';
export { buildDataset, datasetFromSequences, type Dataset, type DatasetStats, type BuildDatasetOptions } from './dataset.ts';
export { leaveOneOut } from './split.ts';
export { generateSynthetic, parseSyntheticParams, SYNTHETIC_PARAM_SPECS, type SyntheticParams } from './synthetic.ts';
export { Rng, hashString } from './random.ts';
export { evaluateRanking, evaluateSampled, accumulateRanking, rankOfTarget, RankingAccumulator, DEFAULT_KS, INCLUDE_SEEN_PREFIX, repeatShare } from './metrics.ts';
export { planTraining, centralizedConfig, stepsPerEpoch, quantile, LOSSES, PLAN_RULES, type LossName, type TrainPlan, type TrainOverrides } from './trainPlan.ts';
export { PopularityModel } from './popularity.ts';
export { encodeSafetensors, decodeSafetensors, type NamedTensor } from './safetensors.ts';
export { trainCentralized, evaluateModel, type CentralizedConfig, type EpochLog } from './centralized.ts';
export * from './models/index.ts';
export { initBackend, BACKEND_CHOICES, isBackendChoice, type BackendChoice, type BackendInfo } from './backend/index.ts';
export { tf } from './tf.ts';
export { DataError } from './errors.ts';
