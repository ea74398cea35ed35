// What every loader returns: a lazy event stream plus what it knows about items.
import type { BehaviorEvent, ItemMeta } from '../types.ts';
import type { BadRowLog } from './badRows.ts';

export interface OpenedData {
  /** Single-pass stream; bad rows are skipped and logged in `bad` as it is consumed. */
  events: AsyncIterable<BehaviorEvent>;
  /** Item metadata (may be filled while `events` streams, e.g. Taobao categories). */
  items: Map<string, ItemMeta>;
  bad: BadRowLog;
  /** Human-readable source description, e.g. `MovieLens 1M at data/ml-1m`. */
  describe: string;
}
