// fedrec demo: the federated demo on the built-in synthetic shops (no files, no network beyond 127.0.0.1).
import { Command } from 'commander';
import { DEMO_DEFAULTS, runDemo } from '../simulations/demo/run.ts';
import { MODEL_NAMES, type ModelName } from '../recommender/index.ts';
import { log } from './context.ts';
import { nonNegativeInt, oneOf, positiveInt, positiveNumber } from './options.ts';

export function demoCommand(): Command {
  return new Command('demo')
    .description('a coordinator and three merchant clients (separate processes, real sockets) co-train one model on synthetic non-IID shops, then federated vs alone vs pooled')
    .option('--merchants <n>', 'merchant clients', positiveInt('--merchants'), DEMO_DEFAULTS.merchants)
    .option('--users <n>', 'shoppers in the synthetic world', positiveInt('--users'), DEMO_DEFAULTS.users)
    .option('--rounds <n>', 'federated rounds', positiveInt('--rounds'), DEMO_DEFAULTS.rounds)
    .option('--model <name>', `model: ${MODEL_NAMES.join(' | ')}`, oneOf('--model', MODEL_NAMES), DEMO_DEFAULTS.model)
    .option('--lr <x>', 'local Adam learning rate', positiveNumber('--lr'), DEMO_DEFAULTS.lr)
    .option('--batch-size <n>', 'local batch size', positiveInt('--batch-size'), DEMO_DEFAULTS.batchSize)
    .option('--seed <n>', 'seed of the synthetic world and the model', nonNegativeInt('--seed'), DEMO_DEFAULTS.seed)
    .option('--keep', 'keep the demo directory (config, identities, checkpoints, round log)')
    .option('--verbose', 'show the coordinator and clients logs')
    .action(async (f: { merchants: number; users: number; rounds: number; model: ModelName; lr: number; batchSize: number; seed: number; keep?: boolean; verbose?: boolean }) => {
      await runDemo({ ...f, keep: !!f.keep, print: (l) => console.log(l), log: f.verbose ? log : () => {} });
    });
}
