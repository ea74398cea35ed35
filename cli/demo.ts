// fedrec demo: the federated demo on the built-in synthetic shops (no files, no network beyond 127.0.0.1).
import { Command } from 'commander';
import { DEMO_DEFAULTS, runDemo, type DemoOptions } from '../simulations/index.ts';
import { MODEL_NAMES, type ModelName } from '../recommender/index.ts';
import { log } from './context.ts';
import { UsageError } from './errors.ts';
import { nonNegativeInt, oneOf, positiveInt, positiveNumber } from './options.ts';

/** The demo's options as flags: the run's own, plus --dp E and its settings, and --keep/--verbose as optional switches. */
type DemoFlags = Omit<DemoOptions, 'dp' | 'keep' | 'print' | 'log'> & {
  dp?: number;
  dpQ: number;
  dpClip: number;
  dpLr: number;
  dpOptimizer: 'sgd' | 'adam';
  dpDelta: number;
  dpDeadline: number;
  keep?: boolean;
  verbose?: boolean;
};

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
    .option('--dp <epsilon>', 'central user-level differential privacy with this target epsilon (noise calibrated for --rounds)', positiveNumber('--dp'))
    .option('--dp-q <rate>', 'with --dp: probability each merchant includes each shopper in a round', positiveNumber('--dp-q'), 0.2)
    .option('--dp-clip <norm>', "with --dp: L2 clip of each shopper's update", positiveNumber('--dp-clip'), 1.5)
    .option('--dp-lr <x>', "with --dp: learning rate of each shopper's local step", positiveNumber('--dp-lr'), 1)
    .option('--dp-optimizer <name>', "with --dp: each shopper's local optimizer: sgd | adam", oneOf('--dp-optimizer', ['sgd', 'adam'] as const), 'sgd')
    .option('--dp-delta <delta>', 'with --dp: delta', positiveNumber('--dp-delta'), 1e-5)
    .option('--dp-deadline <seconds>', 'with --dp: round deadline in seconds; under DP every round closes at it, so it must fit the largest sample (~17 ms per shopper here)', positiveNumber('--dp-deadline'), 10)
    .option('--keep', 'keep the demo directory (config, identities, checkpoints, round log)')
    .option('--verbose', 'show the coordinator and clients logs')
    .action(async (f: DemoFlags) => {
      if (f.dpQ > 1) throw new UsageError(`--dp-q must be at most 1, got ${f.dpQ}`);
      if (f.dpDelta >= 1) throw new UsageError(`--dp-delta must be below 1, got ${f.dpDelta}`);
      const dp =
        f.dp === undefined
          ? undefined
          : { targetEpsilon: f.dp, sampleRate: f.dpQ, clipNorm: f.dpClip, delta: f.dpDelta, lr: f.dpLr, optimizer: f.dpOptimizer, deadlineSeconds: f.dpDeadline };
      await runDemo({ ...f, dp, keep: !!f.keep, print: (l) => console.log(l), log: f.verbose ? log : () => {} });
    });
}
