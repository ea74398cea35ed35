// fedrec baselines: popularity vs MF vs SASRec trained centrally on one split.
// The README's comparison table comes from this command.
import { Command } from 'commander';
import { BACKEND_CHOICES, type BackendChoice, evaluateModel, trainCentralized, planTraining, centralizedConfig, type LossName, evaluateRanking, MODEL_NAMES, type ModelName, PopularityModel, leaveOneOut } from '../recommender/index.ts';
import { loadData, log, startBackend } from './context.ts';
import { fmt, printJsonLine, table } from './format.ts';
import { nonNegativeInt, oneOf, positiveInt } from './options.ts';

interface BaselineFlags {
  data: string;
  epochs?: number;
  kcore?: number;
  seed: number;
  backend: BackendChoice;
  json?: boolean;
}

interface Row {
  name: string;
  epochs: number;
  seconds: number;
  metrics: Record<string, number>;
}

async function runBaselines(f: BaselineFlags): Promise<void> {
  const backend = await startBackend(f.backend);
  const { dataset } = await loadData(f.data, { kcore: f.kcore });
  const split = leaveOneOut(dataset.sequences);
  const numItems = dataset.catalog.size;
  const rows: Row[] = [];
  const t0 = performance.now();
  const pop = PopularityModel.fit(split.train, numItems);
  rows.push({ name: 'popularity', epochs: 0, seconds: (performance.now() - t0) / 1000, metrics: await evaluateRanking(pop.scorer(), split.test, numItems) });
  const variants: Array<[string, ModelName, LossName | undefined]> = [
    ['mf', 'mf', undefined],
    ['sasrec', 'sasrec', undefined],
    ['sasrec-gbce', 'sasrec', 'gbce'],
    ['sasrec-bce', 'sasrec', 'bce'],
  ];
  for (const [label, name, loss] of variants) {
    const plan = planTraining(name, split.train, numItems, { loss, maxEpochs: f.epochs });
    log(`training ${label}: ${plan.reasons.join('; ')}`);
    const r = await trainCentralized(split, numItems, centralizedConfig(plan, f.seed), (e) => {
      if (e.evaluated) log(`  ${label} epoch ${e.epoch}: loss ${fmt(e.loss)}  valid NDCG@10 ${fmt(e['valid_ndcg@10'])}  ${e.seconds.toFixed(1)}s`);
    });
    rows.push({ name: label, epochs: r.epochsRun, seconds: r.seconds, metrics: await evaluateModel(r.model, split.test, numItems) });
    r.model.dispose();
  }
  const popNdcg = rows[0].metrics['ndcg@10'];
  if (f.json) {
    printJsonLine({
      data: f.data,
      backend: backend.name,
      users: dataset.stats.users,
      items: numItems,
      results: rows.map((r) => ({ model: r.name, epochs: r.epochs, seconds: Number(r.seconds.toFixed(2)), ...r.metrics })),
    });
    return;
  }
  console.log(`\nTest split of ${f.data}: ${split.test.length} users, full ranking over ${numItems} items, seen items excluded`);
  console.log(
    table(
      ['model', 'HR@10', 'NDCG@10', 'HR@20', 'NDCG@20', 'MRR', 'NDCG@10 vs popularity', 'epochs', 'train s'],
      rows.map((r) => [
        r.name,
        r.metrics['hr@10'],
        r.metrics['ndcg@10'],
        r.metrics['hr@20'],
        r.metrics['ndcg@20'],
        r.metrics.mrr,
        `${(r.metrics['ndcg@10'] / popNdcg).toFixed(2)}x`,
        String(r.epochs),
        r.seconds.toFixed(1),
      ]),
    ),
  );
}

function baselineOptions(cmd: Command): Command {
  return cmd
    .option('--data <spec>', 'data spec (as for train)', 'synthetic')
    .option('--epochs <n>', 'maximum epochs per model (default: stop on a validation plateau, as train)', positiveInt('--epochs'))
    .option('--kcore <k>', 'k-core filter', positiveInt('--kcore'))
    .option('--seed <n>', 'seed', nonNegativeInt('--seed'), 1)
    .option('--backend <name>', `tfjs backend: ${BACKEND_CHOICES.join(' | ')}`, oneOf('--backend', BACKEND_CHOICES), 'auto' as BackendChoice)
    .option('--json', 'print one JSON object as the last stdout line')
    .action((f: BaselineFlags) => runBaselines(f));
}

export function baselinesCommand(): Command {
  return baselineOptions(
    new Command('baselines').description(`popularity vs ${MODEL_NAMES.join(' vs ')} (sasrec with each loss) trained centrally on the same leave-one-out split, with train's defaults`),
  );
}
