// The attack lab's shared plumbing (`fedrec attack`): where a model keeps its
// item embeddings in the flat weight vector, the data an attack knows, the
// plain and DP configurations an attack compares, and running one of them into
// its own sub-directory with the usual `fedrec simulate` outputs. The attacks
// themselves are interactionInference.ts and itemPromotion.ts.
import { mkdirSync } from 'node:fs';
import { leaveOneOut, type Dataset, type ModelSpec, type Split } from '../../recommender/index.ts';
import { loadDataset } from '../../recommender/node/index.ts';
import { parseSimulationConfig, type SimulationConfig } from '../config.ts';
import { writeConfig, writeOutputs } from '../outputs.ts';
import { parsePartition } from '../partition.ts';
import { runSimulation, type SimulationHooks, type SimulationResult } from '../runner.ts';

/** A named weight's place in the flat vector. */
export function weightOffset(spec: ModelSpec, name: string): { offset: number; shape: number[] } | undefined {
  let offset = 0;
  for (const w of spec.weights) {
    if (w.name === name) return { offset, shape: w.shape };
    offset += w.shape.reduce((a, b) => a * b, 1);
  }
  return undefined;
}

/** Catalog item i's embedding is values offset + (firstRow + i)·dim … + dim of the flat weights. */
export interface ItemRows {
  offset: number;
  dim: number;
  firstRow: number;
  numItems: number;
}

/** The item-embedding table (`item_emb` in both models); SASRec's row 0 is padding, so catalog item i is row i + 1. */
export function itemRows(spec: ModelSpec): ItemRows {
  const w = weightOffset(spec, 'item_emb');
  if (!w) throw new Error(`${spec.model} has no item_emb weight`);
  const numItems = spec.config.numItems;
  const firstRow = spec.model === 'sasrec' ? 1 : 0;
  if (w.shape[0] !== numItems + firstRow) throw new Error(`${spec.model}: item_emb has ${w.shape[0]} rows for ${numItems} items`);
  return { offset: w.offset, dim: w.shape[1], firstRow, numItems };
}

/** The flat-vector index where item i's embedding row starts. */
export function rowStart(rows: ItemRows, item: number): number {
  return rows.offset + (rows.firstRow + item) * rows.dim;
}

/** The data as the runner loads and splits it (so user indices of observed updates index these sequences). */
export async function loadAttackData(cfg: SimulationConfig): Promise<{ dataset: Dataset; split: Split }> {
  const { dataset } = await loadDataset(cfg.data, { fixedVocabulary: cfg.data.startsWith('synthetic') });
  if (dataset.sequences.length === 0) throw new Error(`data spec ${cfg.data} has no users`);
  return { dataset, split: leaveOneOut(dataset.sequences) };
}

/** Settings of an attack's DP mode only (the plain mode drops them); what is not given comes from the base config or the default below. */
export interface DpSettings {
  noise?: number;
  targetEpsilon?: number;
  adaptiveClip?: boolean;
}

/** Noise multiplier of the DP mode when neither the flags nor the base config give noise or a target ε. */
export const DEFAULT_NOISE = 1;

/** The base config without DP: FedAvg (or the configured strategy) on raw updates. */
export function plainConfig(base: SimulationConfig): SimulationConfig {
  return parseSimulationConfig({ ...base, dp: 'none', noise: undefined, targetEpsilon: undefined, adaptiveClip: false }, "the attack's plain configuration");
}

/**
 * The base config under central DP. Per-user partition: q defaults to
 * clientsPerRound / users, so the DP run samples as many clients a round on
 * average as the plain run selects; other partitions need q (each client's
 * user sampling rate) from the flags or the config. The noise multiplier
 * defaults to DEFAULT_NOISE.
 */
export function dpConfig(base: SimulationConfig, dp: DpSettings, users: number): SimulationConfig {
  const perUser = parsePartition(base.partition).kind === 'per-user';
  const targetEpsilon = dp.targetEpsilon ?? (dp.noise === undefined ? base.targetEpsilon : undefined);
  const noise = dp.noise ?? (targetEpsilon === undefined ? (base.noise ?? DEFAULT_NOISE) : undefined);
  return parseSimulationConfig(
    {
      ...base,
      dp: 'central',
      q: base.q ?? (perUser ? Math.min(1, base.clientsPerRound / users) : undefined),
      noise,
      targetEpsilon,
      adaptiveClip: dp.adaptiveClip ?? base.adaptiveClip,
    },
    "the attack's DP configuration",
  );
}

/** Every mode's config, checked before any runs: 'dp' gets dpConfig, any other mode plainConfig. */
export function modeConfigs<M extends string>(base: SimulationConfig, modes: readonly M[], dp: DpSettings, users: number): Array<[M, SimulationConfig]> {
  return modes.map((m) => [m, m === 'dp' ? dpConfig(base, dp, users) : plainConfig(base)]);
}

/** Runs one mode's simulation into `dir` (config.json first, then the simulate outputs). */
export async function runMode(cfg: SimulationConfig, dir: string, hooks: SimulationHooks): Promise<SimulationResult> {
  mkdirSync(dir, { recursive: true });
  writeConfig(dir, { ...cfg, out: dir });
  const result = await runSimulation(cfg, dir, hooks);
  writeOutputs(dir, result);
  return result;
}

/** A progress line per committed round, prefixed with the run's name. */
export function roundLogger(name: string, rounds: number, log: (line: string) => void): SimulationHooks['onRound'] {
  return (r) => log(`${name}: round ${r.round}/${rounds}, val NDCG@10 ${r['val_ndcg@10'].toFixed(4)}${r.epsilon !== null ? `, ε ${r.epsilon.toFixed(3)}` : ''}`);
}
