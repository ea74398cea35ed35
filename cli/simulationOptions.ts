// The flags `fedrec simulate` and `fedrec attack` share: one per simulation
// config key (commander's camelCase names are the keys), plus --config,
// --backend, --verbose, --json and the model's own flags; and the fresh
// output directory both write into.
import { existsSync, mkdirSync, readdirSync } from 'node:fs';
import type { Command } from 'commander';
import { BACKEND_CHOICES, MODEL_NAMES } from '../recommender/index.ts';
import { UsageError } from './errors.ts';
import { nonNegativeInt, oneOf, positiveInt, positiveNumber } from './options.ts';
import { addModelOptions } from './train.ts';

export interface SimulationOptionsVariant {
  /** 'simulate': every key; 'attack': no --dp or --workers (each mode sets them), DP flags apply to the DP mode only. */
  for: 'simulate' | 'attack';
  /** The default output directory's prefix, e.g. 'fedrec-sim'. */
  outPrefix: string;
}

export function addSimulationOptions(cmd: Command, v: SimulationOptionsVariant): Command {
  const simulate = v.for === 'simulate';
  const dp = simulate ? '' : 'DP mode: ';
  cmd
    .option('--config <file>', 'JSON file with any of the simulation config keys below (flags win)')
    .option('--data <spec>', 'data spec: synthetic[:k=v,...] | movielens:DIR | events:FILE | taobao:FILE | sequences:FILE (default synthetic)')
    .option('--model <name>', `model: ${MODEL_NAMES.join(' | ')} (default sasrec)`, oneOf('--model', MODEL_NAMES))
    .option('--partition <p>', 'per-user | merchants:K[:alpha=A] | iid:K (default per-user)')
    .option('--rounds <n>', 'rounds (default 30)', positiveInt('--rounds'))
    .option('--clients-per-round <n>', 'clients per round, fixed-size selection (default 100)', positiveInt('--clients-per-round'))
    .option(
      '--q <rate>',
      simulate
        ? 'sampling rate: per-user partition, Poisson sampling of clients; other partitions under DP, of users inside each client'
        : 'sampling rate, in both modes as in fedrec simulate; the DP mode defaults it to clients-per-round / users on per-user partitions',
      positiveNumber('--q'),
    )
    .option('--local-epochs <n>', 'local epochs per task (default 1)', positiveInt('--local-epochs'))
    .option('--lr <x>', 'local learning rate (default 1 for sgd, 0.001 for adam)', positiveNumber('--lr'))
    .option('--batch-size <n>', 'local batch size (default 64)', positiveInt('--batch-size'))
    .option('--optimizer <name>', 'local optimizer: sgd | adam (default sgd on per-user partitions and under DP, else adam)', oneOf('--optimizer', ['adam', 'sgd'] as const))
    .option('--strategy <name>', 'fedavg | fedavgm | fedadam | fedyogi | fedprox (default fedavg)', oneOf('--strategy', ['fedavg', 'fedavgm', 'fedadam', 'fedyogi', 'fedprox'] as const))
    .option('--server-lr <x>', 'server learning rate', positiveNumber('--server-lr'))
    .option('--momentum <x>', 'fedavgm momentum', Number)
    .option('--beta1 <x>', 'fedadam/fedyogi beta1', Number)
    .option('--beta2 <x>', 'fedadam/fedyogi beta2', Number)
    .option('--tau <x>', 'fedadam/fedyogi tau', positiveNumber('--tau'))
    .option('--prox-mu <x>', 'FedProx mu', Number);
  if (simulate) cmd.option('--dp <mode>', 'none | central (default none)', oneOf('--dp', ['none', 'central'] as const));
  cmd
    .option('--noise <z>', `${dp}noise multiplier${simulate ? ' (dp central)' : ' (default 1 unless --target-epsilon)'}`, positiveNumber('--noise'))
    .option('--target-epsilon <e>', `${dp}calibrate the noise multiplier to reach this ε after --rounds`, positiveNumber('--target-epsilon'))
    .option('--delta <d>', `${dp}δ (default 1e-5)`, positiveNumber('--delta'))
    .option('--clip <norm>', `${dp}L2 clip of each contribution (default 1.5; the initial norm with --adaptive-clip)`, positiveNumber('--clip'))
    .option('--adaptive-clip', `${dp}clip norm tracks the median update norm (Andrew et al. 2021)`)
    .option('--seed <n>', 'seed of data, partition, selection and training (default 1)', nonNegativeInt('--seed'))
    .option('--seeded-noise', 'draw DP noise from the seed instead of the CSPRNG (exactly reproducible research runs)');
  if (simulate) cmd.option('--workers <n>', 'worker threads for local training (default 1; results do not depend on it)', positiveInt('--workers'));
  cmd
    .option('--out <dir>', `output directory, new or empty (default ${v.outPrefix}-<time>)`)
    .option('--backend <name>', `tfjs backend: ${BACKEND_CHOICES.join(' | ')}`, oneOf('--backend', BACKEND_CHOICES), 'auto')
    .option('--verbose', "also show the round engine's log (selection, commits)")
    .option('--json', 'print one JSON summary object as the last stdout line');
  return addModelOptions(cmd);
}

/** `out`, or `<prefix>-<time>`, created; refused if it already holds anything. */
export function freshOutDir(out: string | undefined, prefix: string): string {
  const dir = out ?? `${prefix}-${new Date().toISOString().replace(/[-:]/g, '').replace('T', '-').slice(0, 15)}`;
  if (existsSync(dir) && readdirSync(dir).length > 0) throw new UsageError(`--out ${dir} is not empty; choose a new directory`);
  mkdirSync(dir, { recursive: true });
  return dir;
}
