// fedrec evaluate: the test metrics of a saved checkpoint on a data spec.
import { readFileSync } from 'node:fs';
import { Command } from 'commander';
import { BACKEND_CHOICES, type BackendChoice, evaluateModel, loadModel, leaveOneOut, repeatShare } from '../recommender/index.ts';
import { loadData, log, startBackend } from './context.ts';
import { printJsonLine, table } from './format.ts';
import { UsageError } from './errors.ts';
import { nonNegativeInt, oneOf, positiveInt } from './options.ts';

interface EvaluateFlags {
  data: string;
  checkpoint: string;
  kcore?: number;
  seed: number;
  backend: BackendChoice;
  sampled?: boolean;
  json?: boolean;
}

function readBytes(path: string): Uint8Array {
  try {
    return readFileSync(path);
  } catch (err) {
    throw new UsageError(`cannot read checkpoint ${path}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
}

async function runEvaluate(f: EvaluateFlags): Promise<void> {
  const backend = await startBackend(f.backend);
  const bytes = readBytes(f.checkpoint);
  let loaded;
  try {
    loaded = loadModel(bytes);
  } catch (err) {
    throw new UsageError(`${f.checkpoint} is not a usable fedrec checkpoint: ${(err as Error).message}`);
  }
  const { model, checkpoint } = loaded;
  if (!checkpoint.itemIds) throw new UsageError(`${f.checkpoint} does not record its catalog (metadata item_ids)`);
  log(`checkpoint: ${checkpoint.model}, ${model.spec.size} values, ${checkpoint.itemIds.length} items`);
  const vocabulary = new Map(checkpoint.itemIds.map((id) => [id, {}]));
  const { dataset } = await loadData(f.data, { kcore: f.kcore, vocabulary });
  const split = leaveOneOut(dataset.sequences);
  if (checkpoint.model === 'mf') log('mf: user vectors are local and not in checkpoints; each test user is folded in from their history');
  const metrics: Record<string, number> = {
    ...(await evaluateModel(model, split.test, dataset.catalog.size, { sampled: f.sampled, seed: f.seed, includeSeen: true })),
    repeat_targets: repeatShare(split.test),
  };
  model.dispose();
  if (f.json) {
    printJsonLine({ model: checkpoint.model, data: f.data, backend: backend.name, checkpoint: f.checkpoint, ...metrics });
    return;
  }
  const keys = Object.keys(metrics).filter((k) => k !== 'users' && k !== 'sampled_users');
  console.log(`\n${checkpoint.model} from ${f.checkpoint} on ${f.data}: test split, ${metrics.users} users`);
  console.log(table(['metric', 'value'], keys.map((k) => [k, metrics[k]])));
}

export function evaluateCommand(): Command {
  return new Command('evaluate')
    .description("evaluate a saved checkpoint on a data spec's leave-one-out test split")
    .option('--data <spec>', 'data spec (as for train)', 'synthetic')
    .requiredOption('--checkpoint <file>', 'safetensors checkpoint written by fedrec')
    .option('--kcore <k>', 'k-core filter, as used in training', positiveInt('--kcore'))
    .option('--seed <n>', 'seed of the sampled-negatives protocol', nonNegativeInt('--seed'), 1)
    .option('--backend <name>', `tfjs backend: ${BACKEND_CHOICES.join(' | ')}`, oneOf('--backend', BACKEND_CHOICES), 'auto' as BackendChoice)
    .option('--sampled', 'also report the legacy metrics with 100 sampled negatives (prefixed sampled_)')
    .option('--json', 'print one JSON object as the last stdout line')
    .action((f: EvaluateFlags) => runEvaluate(f));
}
