// What every data-using command does first: start the tfjs backend and load
// the data spec, reporting both on stderr (stdout is kept for results).
import { initBackend, type BackendChoice, type BackendInfo, type ItemMeta } from '../recommender/index.ts';
import { loadDataset, type LoadedData } from '../recommender/node/index.ts';

export const log = (line: string): void => {
  process.stderr.write(`${line}\n`);
};

export async function startBackend(choice: BackendChoice): Promise<BackendInfo> {
  const info = await initBackend(choice);
  log(`backend: ${info.detail}`);
  for (const f of info.fallbacks) log(`  (skipped ${f})`);
  return info;
}

export async function loadData(
  spec: string,
  opts: { kcore?: number; vocabulary?: Map<string, ItemMeta> } = {},
): Promise<LoadedData> {
  const t0 = performance.now();
  const loaded = await loadDataset(spec, {
    kcore: opts.kcore,
    vocabulary: opts.vocabulary,
    // The generator's catalog is the vocabulary; files define theirs by their events.
    fixedVocabulary: spec.startsWith('synthetic'),
  });
  const s = loaded.dataset.stats;
  log(
    `data: ${loaded.describe}: ${s.users} users, ${s.items} items, ${s.interactions} interactions ` +
      `(${s.events} events) in ${((performance.now() - t0) / 1000).toFixed(1)}s`,
  );
  if (loaded.bad.count > 0) log(`  ${loaded.bad.summary()}`);
  if (s.unknownItemEvents > 0) log(`  skipped ${s.unknownItemEvents} events on items outside the model's catalog`);
  if (s.droppedItems > 0 || s.droppedUsers > 0) log(`  k-core dropped ${s.droppedItems} items and ${s.droppedUsers} users`);
  if (s.users === 0) throw new Error(`data spec ${spec} produced no users with interactions`);
  return loaded;
}
