// Data specs of the CLI: `events:FILE`, `movielens:DIR`, `taobao:FILE`,
// `sequences:FILE`, `synthetic[:key=value,...]`.
import { buildDataset } from '../dataset.ts';
import type { Dataset } from '../dataset.ts';
import { generateSynthetic } from '../synthetic.ts';
import type { BehaviorEvent, ItemMeta } from '../types.ts';
import { BadRowLog } from './badRows.ts';
import { openEventsFile } from './eventsFile.ts';
import { openMovieLens } from './movielens.ts';
import type { OpenedData } from './openedData.ts';
import { openSequencesFile } from './sequencesFile.ts';
import { openTaobao } from './taobao.ts';
import { DataError } from '../errors.ts';

export const DATA_KINDS = ['events', 'movielens', 'taobao', 'sequences', 'synthetic'] as const;
export type DataKind = (typeof DATA_KINDS)[number];

export interface DataSpec {
  kind: DataKind;
  /** File or directory for the file kinds. */
  path?: string;
  /** `key=value` pairs of `synthetic:...` (empty for the file kinds). */
  params: Record<string, string>;
}

const FORMS = 'events:FILE (CSV with header user,item,type,ts[,merchant], or .jsonl), ' +
  'movielens:DIR (100K u.data, 1M ratings.dat, or ratings.csv of ml-latest[-small]/20M/25M/32M), ' +
  'taobao:FILE (UserBehavior.csv), sequences:FILE (one line of item ids per user), synthetic[:key=value,...]';
const EXAMPLE = 'e.g. movielens:data/ml-1m or synthetic:users=500,items=200';

function specError(spec: string, problem: string): Error {
  return new DataError(`bad data spec "${spec}": ${problem}; valid kinds: ${FORMS}; ${EXAMPLE}`);
}

function isKind(s: string): s is DataKind {
  return (DATA_KINDS as readonly string[]).includes(s);
}

function parseParams(spec: string, body: string): Record<string, string> {
  const params: Record<string, string> = {};
  for (const pair of body.split(',')) {
    if (pair.trim() === '') continue;
    const eq = pair.indexOf('=');
    const key = eq < 0 ? '' : pair.slice(0, eq).trim();
    if (!key) throw specError(spec, `expected key=value, got "${pair}"`);
    params[key] = pair.slice(eq + 1).trim();
  }
  return params;
}

export function parseDataSpec(spec: string): DataSpec {
  const colon = spec.indexOf(':');
  const kind = (colon < 0 ? spec : spec.slice(0, colon)).trim();
  const rest = colon < 0 ? '' : spec.slice(colon + 1);
  if (!isKind(kind)) {
    throw specError(spec, kind ? `unknown kind "${kind}"` : 'missing kind');
  }
  if (kind === 'synthetic') return { kind, params: parseParams(spec, rest) };
  const path = rest.trim();
  if (!path) throw specError(spec, `${kind} needs a path, as in ${kind}:${kind === 'movielens' ? 'DIR' : 'FILE'}`);
  return { kind, path, params: {} };
}

async function* streamOf<T>(items: Iterable<T>): AsyncGenerator<T> {
  yield* items;
}

function openSynthetic(params: Record<string, string>): OpenedData {
  const data = generateSynthetic(params);
  const events: AsyncIterable<BehaviorEvent> = streamOf(data.events);
  return { events, items: data.items, bad: new BadRowLog(), describe: data.describe };
}

/** Opens a data source; file errors (missing file, unknown MovieLens layout) throw here. */
export async function openDataSpec(spec: string): Promise<OpenedData> {
  const { kind, path = '', params } = parseDataSpec(spec);
  switch (kind) {
    case 'events':
      return openEventsFile(path);
    case 'movielens':
      return openMovieLens(path);
    case 'taobao':
      return openTaobao(path);
    case 'sequences':
      return openSequencesFile(path);
    case 'synthetic':
      return openSynthetic(params);
  }
}

export interface LoadOptions {
  kcore?: number;
  minLength?: number;
  /**
   * Use the source's item list as a fixed vocabulary (catalog = exactly those
   * items, events on other items counted as unknown). Default: items are used as
   * metadata only and the catalog holds the items that have interactions.
   */
  fixedVocabulary?: boolean;
  /**
   * A vocabulary from elsewhere (a checkpoint's or a federation's catalog):
   * the catalog is exactly these items in this order; events on other items are
   * skipped and counted in `stats.unknownItemEvents`. Overrides fixedVocabulary.
   */
  vocabulary?: Map<string, ItemMeta>;
}

export interface LoadedData {
  dataset: Dataset;
  bad: BadRowLog;
  describe: string;
}

/** openDataSpec + buildDataset. */
export async function loadDataset(spec: string, opts: LoadOptions = {}): Promise<LoadedData> {
  const opened = await openDataSpec(spec);
  const dataset = await buildDataset(opened.events, {
    kcore: opts.kcore,
    minLength: opts.minLength,
    ...(opts.vocabulary
      ? { items: opts.vocabulary, meta: opened.items }
      : opts.fixedVocabulary
        ? { items: opened.items }
        : { meta: opened.items }),
  });
  return { dataset, bad: opened.bad, describe: opened.describe };
}
