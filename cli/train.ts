// fedrec train: centralized training of one model, the baseline federated runs are compared with.
import { writeFileSync } from 'node:fs';
import { Command } from 'commander';
import { BACKEND_CHOICES, type BackendChoice, evaluateModel, trainCentralized, MODEL_NAMES, encodeCheckpoint, type ModelName, leaveOneOut, planTraining, centralizedConfig, LOSSES, type LossName, PLAN_RULES, repeatShare } from '../recommender/index.ts';
import { loadData, log, startBackend } from './context.ts';
import { fmt, printJsonLine, table } from './format.ts';
import { fraction, nonNegativeInt, oneOf, positiveInt, positiveNumber, unitInterval } from './options.ts';

interface TrainFlags {
  data: string;
  model: ModelName;
  epochs?: number;
  batchSize?: number;
  lr?: number;
  patience?: number;
  dim?: number;
  maxLen?: number;
  blocks?: number;
  heads?: number;
  dropout?: number;
  negatives?: number;
  loss?: LossName;
  gbceT?: number;
  evalEvery?: number;
  kcore?: number;
  seed: number;
  backend: BackendChoice;
  out?: string;
  sampled?: boolean;
  json?: boolean;
}

/** Model hyper-parameters given on the command line (the rest take the model's defaults). */
export function modelConfigFromFlags(f: Partial<TrainFlags>): Record<string, number> {
  const entries: Array<[string, number | undefined]> = [
    ['dim', f.dim],
    ['maxLen', f.maxLen],
    ['blocks', f.blocks],
    ['heads', f.heads],
    ['dropout', f.dropout],
    ['negatives', f.negatives],
  ];
  return Object.fromEntries(entries.filter(([, v]) => v !== undefined)) as Record<string, number>;
}

/** Shape flags; `shapeDefaults` says where dim and max-len come from when not given (train plans them from the data). */
export function addModelOptions(cmd: Command, shapeDefaults = { dim: 'default 32', maxLen: 'default 50' }): Command {
  return cmd
    .option('--dim <n>', `embedding size (${shapeDefaults.dim})`, positiveInt('--dim'))
    .option('--max-len <n>', `sasrec: events of history the model reads (${shapeDefaults.maxLen})`, positiveInt('--max-len'))
    .option('--blocks <n>', 'sasrec: self-attention blocks (default 2)', positiveInt('--blocks'))
    .option('--heads <n>', 'sasrec: attention heads (default 1)', positiveInt('--heads'))
    .option('--dropout <p>', 'sasrec: dropout rate (default 0.2)', fraction('--dropout'))
    .option('--negatives <n>', 'sampled negatives: sasrec bce 1 per position, gbce/softmax 256 per user; mf 4 per positive', positiveInt('--negatives'));
}

async function runTrain(f: TrainFlags): Promise<void> {
  const backend = await startBackend(f.backend);
  const { dataset } = await loadData(f.data, { kcore: f.kcore });
  const split = leaveOneOut(dataset.sequences);
  const numItems = dataset.catalog.size;
  if (split.test.length === 0) throw new Error('no user has the 3 interactions a leave-one-out split needs');
  const plan = planTraining(f.model, split.train, numItems, {
    ...modelConfigFromFlags(f),
    loss: f.loss,
    gbceT: f.gbceT,
    batchSize: f.batchSize,
    lr: f.lr,
    evalEvery: f.evalEvery,
    patience: f.patience,
    maxEpochs: f.epochs,
  });
  const cfg = centralizedConfig(plan, f.seed);
  log(`training ${f.model} on ${split.train.length} users, ${numItems} items (batch ${cfg.batchSize}, Adam lr ${cfg.lr}); chosen from the data:`);
  for (const r of plan.reasons) log(`  ${r}`);
  const result = await trainCentralized(split, numItems, cfg, (e) =>
    log(
      `epoch ${String(e.epoch).padStart(3)}/${cfg.epochs}  loss ${fmt(e.loss)}  ` +
        (e.evaluated ? `valid NDCG@10 ${fmt(e['valid_ndcg@10'])}  HR@10 ${fmt(e['valid_hr@10'])}  ` : '') +
        `${e.seconds.toFixed(1)}s`,
    ),
  );
  const stoppedBy = result.epochsRun >= cfg.epochs ? `the ${cfg.epochs}-epoch cap` : 'a validation plateau';
  log(`best validation epoch: ${result.bestEpoch} of ${result.epochsRun} (stopped by ${stoppedBy}), ${result.seconds.toFixed(0)}s`);
  const metrics: Record<string, number> = {
    ...(await evaluateModel(result.model, split.test, numItems, { sampled: f.sampled, seed: f.seed, includeSeen: true })),
    repeat_targets: repeatShare(split.test),
  };
  if (f.out) {
    writeFileSync(f.out, encodeCheckpoint(result.model, { itemIds: dataset.catalog.ids, extra: { data: f.data } }));
    log(`checkpoint written to ${f.out} (safetensors, ${result.model.spec.size} values)`);
  }
  result.model.dispose();
  const s = dataset.stats;
  const summary = {
    model: f.model,
    data: f.data,
    backend: backend.name,
    epochs: result.epochsRun,
    best_epoch: result.bestEpoch,
    seconds: Number(result.seconds.toFixed(2)),
    seconds_to_best: Number(result.secondsToBest.toFixed(2)),
    ...metrics,
    users: s.users,
    items: s.items,
    interactions: s.interactions,
    config: { ...plan.modelConfig, batchSize: plan.batchSize, lr: plan.lr, evalEvery: plan.evalEvery, patience: plan.patience },
  };
  if (f.json) {
    printJsonLine(summary);
    return;
  }
  const keys = Object.keys(metrics).filter((k) => !k.endsWith('users'));
  console.log(`\n${f.model} on ${f.data}: test split, ${metrics.users} users, full ranking over ${numItems} items`);
  console.log('(incl_seen_*: items the user already interacted with stay candidates; repeat_targets: share of test targets already in the history)');
  console.log(table(['metric', 'value'], keys.map((k) => [k, metrics[k]])));
}

export function trainCommand(): Command {
  const cmd = new Command('train')
    .description('train one model centrally on a data spec and report test metrics (the non-federated baseline)')
    .option('--data <spec>', 'data spec: synthetic[:k=v,...] | events:FILE | movielens:DIR | taobao:FILE | sequences:FILE', 'synthetic')
    .option('--model <name>', `model: ${MODEL_NAMES.join(' | ')}`, oneOf('--model', MODEL_NAMES), 'sasrec' as ModelName)
    .option('--epochs <n>', `maximum epochs, a safety net: training stops on a validation plateau (default ${PLAN_RULES.maxEpochs})`, positiveInt('--epochs'))
    .option('--batch-size <n>', 'examples per step (default: sasrec 128 sequences, halved until an epoch has 16 steps; mf 256 positives)', positiveInt('--batch-size'))
    .option('--lr <x>', 'Adam learning rate (sasrec 0.001, mf 0.002)', positiveNumber('--lr'))
    .option('--loss <name>', `sasrec loss: ${LOSSES.join(' | ')} (default softmax)`, oneOf('--loss', LOSSES))
    .option('--gbce-t <t>', `gbce calibration t in [0, 1] (default ${PLAN_RULES.gbceT}; 0 = plain BCE)`, unitInterval('--gbce-t'))
    .option('--eval-every <n>', 'epochs between validation evaluations (default: about 32 optimiser steps apart)', positiveInt('--eval-every'))
    .option('--patience <n>', `stop after n evaluations without better validation NDCG@10 (and a third of the run); 0 = never (default ${PLAN_RULES.patience})`, nonNegativeInt('--patience'))
    .option('--kcore <k>', 'drop items and users with fewer than k interactions (repeated to a fixed point)', positiveInt('--kcore'))
    .option('--seed <n>', 'seed for initialisation, sampling and dropout', nonNegativeInt('--seed'), 1)
    .option('--backend <name>', `tfjs backend: ${BACKEND_CHOICES.join(' | ')}`, oneOf('--backend', BACKEND_CHOICES), 'auto' as BackendChoice)
    .option('--out <file>', 'write the trained model as a safetensors checkpoint')
    .option('--sampled', 'also report the legacy metrics with 100 sampled negatives (prefixed sampled_)')
    .option('--json', 'print one JSON object as the last stdout line');
  const planned = {
    dim: 'default from the data: 64 with at least 5 training interactions per item, else 32',
    maxLen: 'default from the data: the 90th percentile of training history lengths, rounded up to tens, in [10, 200]',
  };
  return addModelOptions(cmd, planned).action((f: TrainFlags) => runTrain(f));
}
