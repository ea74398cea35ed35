// What a simulation leaves in its output directory: config.json (resolved),
// rounds.csv and rounds.jsonl (one row per committed round), summary.json,
// model.safetensors (the final checkpoint) and SVG plots (metrics and ε vs round).
import { copyFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { modelFileName } from '../coordinator/index.ts';
import type { SimulationConfig } from './config.ts';
import { lineChart, toCsv } from './report/index.ts';
import type { RoundRow, SimulationResult } from './runner.ts';

export const ROUND_COLUMNS: ReadonlyArray<keyof RoundRow> = ['round', 'clients', 'contributions', 'train_loss', 'val_hr@10', 'val_ndcg@10', 'epsilon', 'seconds', 'client_seconds'];

export const OUTPUT_FILES = ['config.json', 'rounds.csv', 'rounds.jsonl', 'summary.json', 'model.safetensors', 'metrics.svg', 'epsilon.svg'] as const;

export function writeConfig(dir: string, cfg: SimulationConfig): void {
  writeFileSync(join(dir, 'config.json'), `${JSON.stringify(cfg, null, 2)}\n`);
}

/** Writes every output file but config.json (written before the run starts). */
export function writeOutputs(dir: string, result: SimulationResult): void {
  const { rows, summary } = result;
  writeFileSync(join(dir, 'rounds.csv'), toCsv(rows as unknown as Array<Record<string, unknown>>, ROUND_COLUMNS as string[]));
  writeFileSync(join(dir, 'rounds.jsonl'), rows.map((r) => JSON.stringify(r)).join('\n') + (rows.length ? '\n' : ''));
  writeFileSync(join(dir, 'summary.json'), `${JSON.stringify(summary, null, 2)}\n`);
  copyFileSync(join(result.storeDir, 'models', modelFileName(summary.rounds)), join(dir, 'model.safetensors'));
  const title = `${summary.model} on ${summary.data}, ${summary.partition}${summary.dp === 'central' ? `, central DP` : ''}`;
  writeFileSync(
    join(dir, 'metrics.svg'),
    lineChart(
      [
        { name: 'validation NDCG@10', points: rows.map((r) => [r.round, r['val_ndcg@10']] as const) },
        { name: 'validation HR@10', points: rows.map((r) => [r.round, r['val_hr@10']] as const) },
      ],
      { title, xLabel: 'round', yLabel: 'metric' },
    ),
  );
  writeFileSync(
    join(dir, 'epsilon.svg'),
    lineChart([{ name: `ε (δ = ${summary.delta ?? '-'})`, points: rows.filter((r) => r.epsilon !== null).map((r) => [r.round, r.epsilon as number] as const) }], {
      title: `${title}: privacy spent`,
      xLabel: 'round',
      yLabel: 'ε',
    }),
  );
}
