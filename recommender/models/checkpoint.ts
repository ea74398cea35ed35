// Model checkpoints as safetensors: one F32 tensor per named weight, plus
// metadata (model name, config, catalog item ids) so a file is self-contained
// and opens in PyTorch with `safetensors.torch.load_file`.
import { decodeSafetensors, encodeSafetensors } from '../safetensors.ts';
import type { Model, ModelName, ModelSpec } from './model.ts';
import { MODEL_NAMES } from './model.ts';
import { specSize } from './params.ts';

export const CHECKPOINT_FORMAT = 'fedrec-checkpoint-1';

export interface CheckpointContents {
  model: ModelName;
  config: Record<string, number>;
  weights: Float32Array;
  /** Catalog item ids in index order, when the writer knew them. */
  itemIds?: string[];
  /** Any other string metadata (round, model version, ...). */
  extra: Record<string, string>;
}

export function encodeCheckpoint(model: Model, opts: { itemIds?: readonly string[]; extra?: Record<string, string> } = {}): Uint8Array {
  return encodeWeights(model.spec, model.getWeights(), opts);
}

export function encodeWeights(
  spec: ModelSpec,
  flat: Float32Array,
  opts: { itemIds?: readonly string[]; extra?: Record<string, string> } = {},
): Uint8Array {
  if (flat.length !== spec.size) throw new Error(`weights have ${flat.length} values, spec needs ${spec.size}`);
  let off = 0;
  const tensors = spec.weights.map((w) => {
    const n = w.shape.reduce((a, b) => a * b, 1);
    const t = { name: w.name, dtype: 'F32' as const, shape: w.shape, data: flat.subarray(off, off + n) };
    off += n;
    return t;
  });
  const metadata: Record<string, string> = {
    ...opts.extra,
    format: CHECKPOINT_FORMAT,
    model: spec.model,
    config: JSON.stringify(spec.config),
  };
  if (opts.itemIds) metadata.item_ids = JSON.stringify(opts.itemIds);
  return encodeSafetensors(tensors, metadata);
}

/** Reads a checkpoint; throws with what is wrong when the file is not one of ours. */
export function decodeCheckpoint(bytes: Uint8Array, specFor: (model: ModelName, config: Record<string, number>) => ModelSpec): CheckpointContents {
  const { tensors, metadata } = decodeSafetensors(bytes);
  const { format, model, config: configJson, item_ids: idsJson, ...extra } = metadata;
  if (format !== CHECKPOINT_FORMAT) throw new Error(`not a fedrec checkpoint (metadata format is ${JSON.stringify(format)}, expected ${CHECKPOINT_FORMAT})`);
  if (!MODEL_NAMES.includes(model as ModelName)) throw new Error(`checkpoint names unknown model ${JSON.stringify(model)}`);
  const config = parseJson<Record<string, number>>(configJson ?? '{}', 'config');
  const spec = specFor(model as ModelName, config);
  const weights = new Float32Array(specSize(spec.weights));
  let off = 0;
  for (const w of spec.weights) {
    const t = tensors.get(w.name);
    if (!t) throw new Error(`checkpoint lacks weight ${w.name}`);
    if (t.dtype !== 'F32') throw new Error(`weight ${w.name} has dtype ${t.dtype}, expected F32`);
    if (t.shape.join('x') !== w.shape.join('x')) throw new Error(`weight ${w.name} has shape [${t.shape}], expected [${w.shape}]`);
    weights.set(t.data as Float32Array, off);
    off += (t.data as Float32Array).length;
  }
  const itemIds = idsJson === undefined ? undefined : checkItemIds(parseJson<unknown>(idsJson, 'item_ids'), config.numItems);
  return { model: model as ModelName, config, weights, itemIds, extra };
}

function parseJson<T>(text: string, field: string): T {
  try {
    return JSON.parse(text) as T;
  } catch {
    throw new Error(`checkpoint metadata ${field} is not valid JSON`);
  }
}

/** The catalog a checkpoint records must be distinct strings, one per item row. */
function checkItemIds(ids: unknown, numItems: number): string[] {
  if (!Array.isArray(ids) || !ids.every((x) => typeof x === 'string')) {
    throw new Error('checkpoint metadata item_ids is not an array of strings');
  }
  if (ids.length !== numItems) throw new Error(`checkpoint lists ${ids.length} item ids, the model has ${numItems} items`);
  if (new Set(ids).size !== ids.length) throw new Error('checkpoint metadata item_ids has duplicates');
  return ids;
}
