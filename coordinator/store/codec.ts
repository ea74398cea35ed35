// What the store's files hold, and the checks on reading them back:
// - model files: fedrec checkpoints (`encodeWeights` of recommender/models),
//   read back against the store's own spec, so reading needs no tfjs backend;
// - optimizer files: a StrategyState's vectors as 1-D F32 tensors, its name,
//   step and params in the metadata;
// - the spec summary in store.json that pins a lineage to one model and catalog.
import { createHash } from 'node:crypto';
import { CHECKPOINT_FORMAT, encodeWeights, type ModelSpec, decodeSafetensors, encodeSafetensors, type NamedTensor } from '../../recommender/index.ts';
import type { StrategyState } from '../types.ts';

export const OPTIMIZER_FORMAT = 'fedrec-optimizer-1';

// ---------------------------------------------------------------- spec summary

/** The model and catalog a lineage is made of; store.json keeps it, open compares it. */
export interface SpecSummary {
  model: string;
  /** Hyper-parameters fixing the weight shapes, keys sorted. */
  config: Record<string, number>;
  weights: Array<{ name: string; shape: number[] }>;
  size: number;
  numItems: number;
  /** sha256 of the JSON array of catalog item ids, in index order. */
  itemIdsSha256: string;
}

function sortedConfig(config: Record<string, number>): Record<string, number> {
  return Object.fromEntries(Object.keys(config).sort().map((k) => [k, config[k]]));
}

export function itemIdsHash(itemIds: readonly string[]): string {
  return createHash('sha256').update(JSON.stringify(itemIds)).digest('hex');
}

export function summarizeSpec(spec: ModelSpec, itemIds: readonly string[]): SpecSummary {
  return {
    model: spec.model,
    config: sortedConfig(spec.config),
    weights: spec.weights.map((w) => ({ name: w.name, shape: [...w.shape] })),
    size: spec.size,
    numItems: itemIds.length,
    itemIdsSha256: itemIdsHash(itemIds),
  };
}

/** The spec a summary describes (what the store decodes its model files with). */
export function specFromSummary(s: SpecSummary): ModelSpec {
  return { model: s.model as ModelSpec['model'], config: { ...s.config }, weights: s.weights.map((w) => ({ ...w })), size: s.size };
}

/** Human-readable differences between two summaries (empty when they match). */
export function compareSpecSummaries(stored: SpecSummary, wanted: SpecSummary): string[] {
  const diffs: string[] = [];
  if (stored.model !== wanted.model) diffs.push(`model ${stored.model} vs ${wanted.model}`);
  const keys = [...new Set([...Object.keys(stored.config), ...Object.keys(wanted.config)])].sort();
  for (const k of keys) {
    if (stored.config[k] !== wanted.config[k]) diffs.push(`config.${k} ${stored.config[k]} vs ${wanted.config[k]}`);
  }
  const shapes = (s: SpecSummary) => s.weights.map((w) => `${w.name}[${w.shape.join('x')}]`).join(',');
  if (diffs.length === 0 && (stored.size !== wanted.size || shapes(stored) !== shapes(wanted))) {
    diffs.push(`weight layout ${stored.size} values vs ${wanted.size}`);
  }
  if (stored.numItems !== wanted.numItems || stored.itemIdsSha256 !== wanted.itemIdsSha256) {
    diffs.push(
      `catalog ${stored.numItems} items (ids sha256 ${stored.itemIdsSha256.slice(0, 12)}) vs ` +
        `${wanted.numItems} items (ids sha256 ${wanted.itemIdsSha256.slice(0, 12)})`,
    );
  }
  return diffs;
}

export function checkSpecSummary(x: unknown): SpecSummary {
  const s = x as SpecSummary;
  const ok =
    typeof s === 'object' &&
    s !== null &&
    typeof s.model === 'string' &&
    typeof s.config === 'object' &&
    s.config !== null &&
    Object.values(s.config).every((v) => typeof v === 'number') &&
    Array.isArray(s.weights) &&
    s.weights.every((w) => typeof w?.name === 'string' && Array.isArray(w.shape) && w.shape.every(Number.isSafeInteger)) &&
    Number.isSafeInteger(s.size) &&
    Number.isSafeInteger(s.numItems) &&
    typeof s.itemIdsSha256 === 'string';
  if (!ok) throw new Error('spec summary is malformed');
  const total = s.weights.reduce((n, w) => n + w.shape.reduce((a, b) => a * b, 1), 0);
  if (total !== s.size) throw new Error(`spec summary lists ${total} weight values but size ${s.size}`);
  return s;
}

// ---------------------------------------------------------------- model files

export interface FileTags {
  modelVersion: number;
  round: number;
  lineage: string;
}

function tagMetadata(tags: FileTags): Record<string, string> {
  return { lineage: tags.lineage, model_version: String(tags.modelVersion), round: String(tags.round) };
}

export function encodeModelFile(spec: ModelSpec, weights: Float32Array, itemIds: readonly string[], tags: FileTags): Uint8Array {
  return encodeWeights(spec, weights, { itemIds, extra: tagMetadata(tags) });
}

function checkTags(metadata: Record<string, string>, tags: Omit<FileTags, 'round'>): void {
  if (metadata.lineage !== tags.lineage) {
    throw new Error(`file belongs to lineage ${JSON.stringify(metadata.lineage)}, the store is ${JSON.stringify(tags.lineage)}`);
  }
  if (metadata.model_version !== String(tags.modelVersion)) {
    throw new Error(`file holds model version ${JSON.stringify(metadata.model_version)}, expected ${tags.modelVersion}`);
  }
}

/** Reads a model file written by `encodeModelFile`, checked against the store's spec, catalog and version. */
export function decodeModelFile(
  bytes: Uint8Array,
  spec: ModelSpec,
  expect: Omit<FileTags, 'round'> & { itemIdsSha256: string },
): { weights: Float32Array; itemIds: string[] } {
  const { tensors, metadata } = decodeSafetensors(bytes);
  if (metadata.format !== CHECKPOINT_FORMAT) {
    throw new Error(`not a fedrec checkpoint (format ${JSON.stringify(metadata.format)}, expected ${CHECKPOINT_FORMAT})`);
  }
  if (metadata.model !== spec.model) throw new Error(`checkpoint is a ${metadata.model} model, the store's is ${spec.model}`);
  let config: unknown;
  try {
    config = JSON.parse(metadata.config ?? '');
  } catch {
    throw new Error('checkpoint metadata config is not valid JSON');
  }
  if (JSON.stringify(sortedConfig(config as Record<string, number>)) !== JSON.stringify(sortedConfig(spec.config))) {
    throw new Error(`checkpoint config ${metadata.config} differs from the store's ${JSON.stringify(spec.config)}`);
  }
  checkTags(metadata, expect);
  const weights = new Float32Array(spec.size);
  let off = 0;
  for (const w of spec.weights) {
    const t = tensors.get(w.name);
    if (!t) throw new Error(`checkpoint lacks weight ${w.name}`);
    if (t.dtype !== 'F32' || t.shape.join('x') !== w.shape.join('x')) {
      throw new Error(`weight ${w.name} is ${t.dtype}[${t.shape}], expected F32[${w.shape}]`);
    }
    weights.set(t.data as Float32Array, off);
    off += t.data.length;
  }
  let itemIds: unknown;
  try {
    itemIds = JSON.parse(metadata.item_ids ?? '');
  } catch {
    throw new Error('checkpoint metadata item_ids is missing or not valid JSON');
  }
  if (!Array.isArray(itemIds) || !itemIds.every((x) => typeof x === 'string')) {
    throw new Error('checkpoint metadata item_ids is not an array of strings');
  }
  if (itemIdsHash(itemIds) !== expect.itemIdsSha256) throw new Error("checkpoint's catalog (item_ids) differs from the store's");
  return { weights, itemIds };
}

// ---------------------------------------------------------------- optimizer files

/** Throws when a StrategyState cannot be stored faithfully (JSON would change it). */
export function checkStrategyState(state: StrategyState): void {
  if (typeof state?.name !== 'string') throw new Error('strategy state needs a name');
  if (!Number.isSafeInteger(state.step) || state.step < 0) throw new Error(`strategy state step must be a non-negative integer, got ${state.step}`);
  for (const [k, v] of Object.entries(state.params ?? {})) {
    const ok = typeof v === 'string' || typeof v === 'boolean' || (typeof v === 'number' && Number.isFinite(v));
    if (!ok) throw new Error(`strategy param ${k} = ${String(v)} cannot be stored (finite numbers, strings and booleans only)`);
  }
  for (const [k, v] of Object.entries(state.vectors ?? {})) {
    if (!(v instanceof Float32Array)) throw new Error(`strategy vector ${k} must be a Float32Array`);
  }
}

export function encodeOptimizerFile(state: StrategyState, tags: FileTags): Uint8Array {
  checkStrategyState(state);
  const names = Object.keys(state.vectors);
  const tensors: NamedTensor[] = names.map((name) => ({ name, dtype: 'F32', shape: [state.vectors[name].length], data: state.vectors[name] }));
  return encodeSafetensors(tensors, {
    format: OPTIMIZER_FORMAT,
    strategy: state.name,
    step: String(state.step),
    params: JSON.stringify(state.params ?? {}),
    // JSON.parse reorders integer-like keys; this keeps the vectors' own order.
    vectors: JSON.stringify(names),
    ...tagMetadata(tags),
  });
}

export function decodeOptimizerFile(bytes: Uint8Array, expect: Omit<FileTags, 'round'>): StrategyState {
  const { tensors, metadata } = decodeSafetensors(bytes);
  if (metadata.format !== OPTIMIZER_FORMAT) {
    throw new Error(`not a fedrec optimizer file (format ${JSON.stringify(metadata.format)}, expected ${OPTIMIZER_FORMAT})`);
  }
  checkTags(metadata, expect);
  const step = Number(metadata.step);
  if (!Number.isSafeInteger(step) || step < 0) throw new Error(`optimizer step ${JSON.stringify(metadata.step)} is not a non-negative integer`);
  let params: unknown;
  let names: unknown;
  try {
    params = JSON.parse(metadata.params ?? '');
    names = JSON.parse(metadata.vectors ?? '');
  } catch {
    throw new Error('optimizer metadata params/vectors is not valid JSON');
  }
  if (typeof params !== 'object' || params === null || Array.isArray(params)) throw new Error('optimizer params is not an object');
  if (!Array.isArray(names) || !names.every((n) => typeof n === 'string')) throw new Error('optimizer vectors is not a list of names');
  if (names.length !== tensors.size) throw new Error(`optimizer lists ${names.length} vectors but holds ${tensors.size} tensors`);
  const vectors: Record<string, Float32Array> = {};
  for (const name of names as string[]) {
    const t = tensors.get(name);
    if (!t || t.dtype !== 'F32' || t.shape.length !== 1) throw new Error(`optimizer vector ${name} is missing or not a 1-D F32 tensor`);
    vectors[name] = t.data as Float32Array;
  }
  return { name: metadata.strategy ?? '', step, vectors, params: params as StrategyState['params'] };
}

export function copyStrategyState(s: StrategyState): StrategyState {
  const vectors: Record<string, Float32Array> = {};
  for (const [k, v] of Object.entries(s.vectors)) vectors[k] = v.slice();
  return { name: s.name, step: s.step, vectors, params: { ...s.params } };
}
