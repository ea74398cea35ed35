// A merchant's local data from a data spec, mapped onto the federation's
// catalog (events on other items are skipped and counted) and split
// leave-one-out: training part, validation items (federated evaluation), test items.
import { DataError, leaveOneOut } from '../../recommender/index.ts';
import { loadDataset } from '../../recommender/node/index.ts';
import type { LocalData } from '../core.ts';

export interface LocalDataOptions {
  /** Keep only this merchant's users (events' `merchant` field), e.g. for the demo's shared synthetic world. */
  merchant?: string;
}

export async function loadLocalData(spec: string, itemIds: readonly string[], opts: LocalDataOptions = {}): Promise<LocalData> {
  const vocabulary = new Map(itemIds.map((id) => [id, {}]));
  const { dataset, bad } = await loadDataset(spec, { vocabulary });
  const sequences = opts.merchant === undefined ? dataset.sequences : dataset.sequences.filter((s) => s.merchant === opts.merchant);
  if (sequences.length === 0) {
    throw new DataError(`data spec ${spec}${opts.merchant ? ` has no users of merchant ${opts.merchant}` : ' has no users'} with events on the federation's items`);
  }
  const split = leaveOneOut(sequences);
  return {
    train: split.train,
    valid: split.valid,
    test: split.test,
    users: sequences.length,
    unknownItemEvents: dataset.stats.unknownItemEvents + bad.count,
  };
}
