// The models' public surface: create by name, checkpoint in/out.
import type { Model, ModelName, ModelSpec } from './model.ts';
import { MODEL_NAMES } from './model.ts';
import { Sasrec, type SasrecConfig } from './sasrec.ts';
import { MatrixFactorization, type MfConfig } from './mf.ts';
import { decodeCheckpoint, encodeCheckpoint, encodeWeights, type CheckpointContents } from './checkpoint.ts';

export type { Model, ModelName, ModelSpec, FitOptions, FitResult, EpochReport, RecommendOptions, LocalOptimizer } from './model.ts';
export { LOCAL_OPTIMIZERS } from './model.ts';
export type { WeightSpec } from './params.ts';
export { MODEL_NAMES } from './model.ts';
export { Sasrec, SASREC_DEFAULTS, gbceBeta, seenNegativeMask, type SasrecConfig } from './sasrec.ts';
export { MatrixFactorization, MF_DEFAULTS, type MfConfig } from './mf.ts';
export { topK } from './topk.ts';
export { encodeCheckpoint, encodeWeights, CHECKPOINT_FORMAT, type CheckpointContents } from './checkpoint.ts';

export function isModelName(s: string): s is ModelName {
  return (MODEL_NAMES as readonly string[]).includes(s);
}

export function createModel(name: ModelName, config: Record<string, number> & { numItems: number }, seed = 1): Model {
  if (name === 'sasrec') return new Sasrec(config as Partial<SasrecConfig> & { numItems: number }, seed);
  if (name === 'mf') return new MatrixFactorization(config as Partial<MfConfig> & { numItems: number }, seed);
  throw new Error(`unknown model "${name}": use one of ${MODEL_NAMES.join(', ')}`);
}

/** The spec a model of this name and config would have, without keeping its weights. */
export function specOf(name: ModelName, config: Record<string, number>): ModelSpec {
  if (!(config.numItems > 0)) throw new Error('model config lacks numItems');
  const m = createModel(name, config as Record<string, number> & { numItems: number });
  try {
    return m.spec;
  } finally {
    m.dispose();
  }
}

export function readCheckpoint(bytes: Uint8Array): CheckpointContents {
  return decodeCheckpoint(bytes, specOf);
}

/** A ready model from checkpoint bytes. */
export function loadModel(bytes: Uint8Array): { model: Model; checkpoint: CheckpointContents } {
  const checkpoint = readCheckpoint(bytes);
  const model = createModel(checkpoint.model, checkpoint.config as Record<string, number> & { numItems: number });
  model.setWeights(checkpoint.weights);
  return { model, checkpoint };
}

