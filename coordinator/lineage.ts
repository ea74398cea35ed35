// A lineage names one (catalog, model shape) pair: change either and training
// starts a new lineage (and needs a new data directory). Shared by the
// coordinator and simulations (no server code here).
import { createHash } from 'node:crypto';
import type { ModelName } from '../recommender/index.ts';

export function lineageOf(itemIds: readonly string[], model: ModelName, config: Record<string, number>): string {
  const h = createHash('sha256');
  h.update(JSON.stringify({ itemIds, model, config }));
  return `L${h.digest('hex').slice(0, 16)}`;
}
