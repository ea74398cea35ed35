// A simulation's world: the data as every part of the run sees it (loaded,
// split leave-one-out) and the partition of its users into virtual clients.
// Deterministic in the config, so worker threads rebuild the same world.
import { leaveOneOut, type Dataset, type Split } from '../recommender/index.ts';
import { loadDataset } from '../recommender/node/index.ts';
import type { SimulationConfig } from './config.ts';
import { SimulationConfigError } from './errors.ts';
import { categorySkew, parsePartition, partitionUsers, type Partition, type PartitionSpec } from './partition.ts';

export interface World {
  dataset: Dataset;
  /** What the data spec opened (for the log). */
  describe: string;
  split: Split;
  numItems: number;
  spec: PartitionSpec;
  partition: Partition;
}

export async function loadWorld(cfg: SimulationConfig): Promise<World> {
  const { dataset, describe } = await loadDataset(cfg.data, { fixedVocabulary: cfg.data.startsWith('synthetic') });
  if (dataset.sequences.length === 0) throw new SimulationConfigError(`data spec ${cfg.data} has no users`);
  const spec = parsePartition(cfg.partition);
  const partition = partitionUsers(dataset.sequences, spec, (i) => dataset.catalog.meta(i).category, cfg.seed);
  return { dataset, describe, split: leaveOneOut(dataset.sequences), numItems: dataset.catalog.size, spec, partition };
}

/** The partition's category skew (how non-IID the clients are). */
export function worldSkew(w: World): number {
  return categorySkew(w.dataset.sequences, w.partition, (i) => w.dataset.catalog.meta(i).category);
}
