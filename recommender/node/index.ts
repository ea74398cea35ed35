// Node-only data loaders (streaming file readers) and data specs.
export { BadRowLog } from './badRows.ts';
export type { BadRow } from './badRows.ts';
export { DATA_KINDS, loadDataset, openDataSpec, parseDataSpec } from './dataSpec.ts';
export type { DataKind, DataSpec, LoadedData, LoadOptions } from './dataSpec.ts';
export { isJsonlPath, openEventsFile } from './eventsFile.ts';
export { parseEventType, parseTimestamp } from './fields.ts';
export { readLines } from './lines.ts';
export { ML100K_GENRES, openMovieLens } from './movielens.ts';
export type { OpenedData } from './openedData.ts';
export { openSequencesFile } from './sequencesFile.ts';
export { openTaobao } from './taobao.ts';
