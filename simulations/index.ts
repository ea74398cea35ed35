// simulations/: the public surface (fedrec simulate, sweeps, the attack lab, the demo).
export { runSimulation, type RoundRow, type SimulationSummary, type SimulationResult, type SimulationHooks, type ObservedUpdate } from './runner.ts';
export { parseSimulationConfig, simulationConfigSchema, SimulationConfigError, type SimulationConfig } from './config.ts';
export { OUTPUT_FILES, ROUND_COLUMNS, writeConfig, writeOutputs } from './outputs.ts';
export { prepareSweepDir, resolveSweep, runSweep, SWEEP_FILES, SweepError, type Sweep, type SweepHooks } from './sweep.ts';
export { parsePartition, formatPartition, partitionUsers, categorySkew, type Partition, type PartitionSpec } from './partition.ts';
export { MemoryTransport, type TaskFor } from './memoryTransport.ts';
export type { DpSettings } from './attacks/index.ts';
export { INFERENCE_MODES, runInteractionInference, type InferenceMode } from './attacks/interactionInference.ts';
export { PROMOTION_MODES, runItemPromotion, type PromotionMode } from './attacks/itemPromotion.ts';
export { DEMO_DEFAULTS, runDemo, type DemoOptions } from './demo/run.ts';
